/// A machine-readable reason for an error, with the status it is sent with and whether retrying
/// can help: the one table of every `error_code` flexd sends.
///
/// Every error flexd raises, in any module, is built from one of these (``Status/init(_:_:details:upstream:status:)``),
/// so a code's status and retryability are decided here and nowhere else. `Proto/PROTOCOL.md`
/// (section 9) lists the same table for client authors, and a test checks the two agree.
///
/// A peer may send codes this table does not know (a newer server); they arrive as
/// ``Status/errorCode`` strings, and ``init(name:)`` returns nil for them.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The wire name, snake_case and stable, e.g. `missing_start_within`.
    public let name: String
    /// The status a call (or a GOAWAY) that ends with this code carries.
    public let status: StatusCode
    /// Statuses this code is also sent with, in the situations ``summary`` names. Empty for most.
    public let alternativeStatuses: [StatusCode]
    /// Whether the same request, sent again later, may succeed (the request itself is not at fault).
    public let isRetryable: Bool
    /// What the code ends: one call, or the whole connection.
    public let scope: Scope
    /// One line on when it is sent, for PROTOCOL.md and `--help` texts.
    public let summary: String

    /// What an error ends.
    public enum Scope: String, Sendable, Hashable {
        /// One call: sent in its TRAILERS (or an HTTP error body); the connection carries on.
        case call
        /// The connection: sent in GOAWAY, then the connection closes.
        case connection
        /// Found by the router about the caller's request or a provider's answer (always a call).
        case router
        /// Reported by a provider, or about reaching it (always a call).
        case upstream
        /// An HTTP request the HTTP door refuses before it is a call (its HTTP status in brackets).
        case http
    }

    private init(
        _ name: String,
        _ status: StatusCode,
        also alternativeStatuses: [StatusCode] = [],
        retryable: Bool,
        _ scope: Scope,
        _ summary: String
    ) {
        self.name = name
        self.status = status
        self.alternativeStatuses = alternativeStatuses
        self.isRetryable = retryable
        self.scope = scope
        self.summary = summary
    }

    /// The known code with this wire name, or nil.
    public init?(name: String) {
        guard let code = Self.byName[name] else { return nil }
        self = code
    }

    public var description: String { self.name }

    public static func == (lhs: ErrorCode, rhs: ErrorCode) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.name) }

    // MARK: - The connection (GOAWAY)

    public static let protocolError = ErrorCode(
        "protocol_error",
        .internal,
        retryable: false,
        .connection,
        "bad preface, unknown frame type, undefined flag, bad stream id, a frame the peer may not send, a bad fixed-size payload, HELLO missing"
    )
    public static let frameTooLarge = ErrorCode(
        "frame_too_large",
        .resourceExhausted,
        retryable: false,
        .connection,
        "a frame's length is over the receiver's max_message_size"
    )
    public static let compressionError = ErrorCode(
        "compression_error",
        .internal,
        also: [.resourceExhausted],
        retryable: false,
        .connection,
        "compressed frame without negotiation or corrupt LZ4 (INTERNAL); declared size 0 or over the limit (RESOURCE_EXHAUSTED)"
    )
    public static let flowControlError = ErrorCode(
        "flow_control_error",
        .internal,
        retryable: false,
        .connection,
        "a MESSAGE sent without window, or a window pushed over 2^31-1"
    )
    public static let unsupportedVersion = ErrorCode(
        "unsupported_version",
        .unimplemented,
        retryable: false,
        .connection,
        "no shared protocol version, or a HELLO answer the client did not offer"
    )
    public static let invalidLimits = ErrorCode(
        "invalid_limits",
        .invalidArgument,
        retryable: false,
        .connection,
        "HELLO limits out of bounds"
    )
    public static let handshakeTimeout = ErrorCode(
        "handshake_timeout",
        .deadlineExceeded,
        retryable: true,
        .connection,
        "preface and HELLO did not arrive in time"
    )
    public static let idleTimeout = ErrorCode(
        "idle_timeout",
        .ok,
        retryable: true,
        .connection,
        "a connection with no call and no frame for the idle timeout (a graceful GOAWAY)"
    )
    public static let tooManyPings = ErrorCode(
        "too_many_pings",
        .resourceExhausted,
        retryable: false,
        .connection,
        "more pings than allowed without a call in between"
    )
    public static let tooManyConnections = ErrorCode(
        "too_many_connections",
        .resourceExhausted,
        retryable: true,
        .connection,
        "the server has as many connections open as it allows"
    )
    public static let serverShuttingDown = ErrorCode(
        "server_shutting_down",
        .unavailable,
        also: [.ok],
        retryable: true,
        .connection,
        "graceful drain (GOAWAY OK); a call still running when the drain's grace period ends (TRAILERS UNAVAILABLE)"
    )

    // MARK: - One call (TRAILERS)

    public static let invalidMessage = ErrorCode(
        "invalid_message",
        .invalidArgument,
        retryable: false,
        .call,
        "a protobuf payload that does not decode, an unknown enum value, invalid UTF-8, a required field unset, a second request MESSAGE or one without END_STREAM"
    )
    public static let unknownMethod = ErrorCode(
        "unknown_method",
        .unimplemented,
        retryable: false,
        .call,
        "the method is not one of PROTOCOL.md section 5.2"
    )
    public static let tooManyStreams = ErrorCode(
        "too_many_streams",
        .resourceExhausted,
        retryable: true,
        .call,
        "over max_concurrent_streams on the connection; not processed"
    )
    public static let serverBusy = ErrorCode(
        "server_busy",
        .resourceExhausted,
        retryable: true,
        .call,
        "the server is at its limit of calls in flight; not processed"
    )
    public static let missingAPIKey = ErrorCode(
        "missing_api_key",
        .unauthenticated,
        retryable: false,
        .call,
        "the server has a keys file and the call carries no flexd API key"
    )
    public static let invalidAPIKey = ErrorCode(
        "invalid_api_key",
        .unauthenticated,
        retryable: false,
        .call,
        "the flexd API key is not one of the keys file's"
    )
    public static let deadlineExceeded = ErrorCode(
        "deadline_exceeded",
        .deadlineExceeded,
        retryable: true,
        .call,
        "the call's deadline (from its HEADERS) passed"
    )
    public static let cancelled = ErrorCode(
        "cancelled",
        .cancelled,
        retryable: false,
        .call,
        "the client cancelled the call (with whatever code its CANCEL carried, DEADLINE_EXCEEDED included)"
    )
    public static let requestTimeout = ErrorCode(
        "request_timeout",
        .deadlineExceeded,
        retryable: true,
        .call,
        "the request did not arrive whole in time: a call's request MESSAGE within the handshake timeout after its HEADERS, or an HTTP request within the door's request timeout (408)"
    )
    public static let responseTooLarge = ErrorCode(
        "response_too_large",
        .resourceExhausted,
        retryable: false,
        .call,
        "the answer is larger than the client's max_message_size"
    )
    public static let connectionClosed = ErrorCode(
        "connection_closed",
        .unavailable,
        retryable: true,
        .call,
        "the connection closed while the call ran (recorded in the ledger; the client sees the connection go)"
    )

    // MARK: - The caller's request (router)

    public static let missingProvider = ErrorCode(
        "missing_provider",
        .invalidArgument,
        retryable: false,
        .router,
        "the request names no provider"
    )
    public static let missingAPI = ErrorCode(
        "missing_api",
        .invalidArgument,
        retryable: false,
        .router,
        "the request names no API"
    )
    public static let apiProviderMismatch = ErrorCode(
        "api_provider_mismatch",
        .invalidArgument,
        retryable: false,
        .router,
        "the provider does not offer the API"
    )
    public static let missingModel = ErrorCode(
        "missing_model",
        .invalidArgument,
        retryable: false,
        .router,
        "the request names no model"
    )
    public static let invalidModel = ErrorCode(
        "invalid_model",
        .invalidArgument,
        retryable: false,
        .router,
        "a model id the provider's URL cannot carry"
    )
    public static let unknownModel = ErrorCode(
        "unknown_model",
        .invalidArgument,
        retryable: false,
        .router,
        "the model catalog does not list the model"
    )
    public static let modelMismatch = ErrorCode(
        "model_mismatch",
        .invalidArgument,
        retryable: false,
        .router,
        "the call and its body name different models"
    )
    public static let missingBody = ErrorCode(
        "missing_body",
        .invalidArgument,
        retryable: false,
        .router,
        "the request has no body"
    )
    public static let invalidRequestBody = ErrorCode(
        "invalid_request_body",
        .invalidArgument,
        retryable: false,
        .router,
        "the native body is not a JSON object of the API's shape"
    )
    public static let invalidChatRequest = ErrorCode(
        "invalid_chat_request",
        .invalidArgument,
        retryable: false,
        .router,
        "a typed request that is not well formed"
    )
    public static let unsupportedForProvider = ErrorCode(
        "unsupported_for_provider",
        .invalidArgument,
        retryable: false,
        .router,
        "a typed request's field the provider's API cannot express"
    )
    public static let missingStartWithin = ErrorCode(
        "missing_start_within",
        .invalidArgument,
        retryable: false,
        .router,
        "start_within is required"
    )
    public static let invalidStartWithin = ErrorCode(
        "invalid_start_within",
        .invalidArgument,
        retryable: false,
        .router,
        "start_within is not \"priority\", \"default\", \"auto\" or HHh-MMm-SSs"
    )
    public static let autoUnsupportedForGemini = ErrorCode(
        "auto_unsupported_for_gemini",
        .invalidArgument,
        retryable: false,
        .router,
        "Gemini has no auto tier"
    )
    public static let flexUnsupportedForAnthropic = ErrorCode(
        "flex_unsupported_for_anthropic",
        .invalidArgument,
        retryable: false,
        .router,
        "a start_within duration on Anthropic, which has no flex tier"
    )
    public static let modelNotFlexCapable = ErrorCode(
        "model_not_flex_capable",
        .invalidArgument,
        retryable: false,
        .router,
        "a start_within duration on a model the catalog marks without flex"
    )
    public static let tierNotOffered = ErrorCode(
        "tier_not_offered",
        .invalidArgument,
        retryable: false,
        .router,
        "\"priority\" on a model the catalog has no priority price for"
    )
    public static let invalidRetry = ErrorCode(
        "invalid_retry",
        .invalidArgument,
        retryable: false,
        .router,
        "the retry option is not {count: 0 to 5, backoff: \"exponential\" or \"linear\", jitter: true or false}"
    )
    public static let apiNotSupported = ErrorCode(
        "api_not_supported",
        .unimplemented,
        retryable: false,
        .router,
        "flexd does not route the API"
    )
    public static let providerNotConfigured = ErrorCode(
        "provider_not_configured",
        .failedPrecondition,
        retryable: false,
        .router,
        "flexd has no base URL for the provider"
    )
    public static let serviceTierNotAllowed = ErrorCode(
        "service_tier_not_allowed",
        .invalidArgument,
        retryable: false,
        .router,
        "the native body sets the provider's tier field (service_tier, serviceTier): start_within decides the tier"
    )
    public static let invalidProviderKey = ErrorCode(
        "invalid_provider_key",
        .invalidArgument,
        retryable: false,
        .router,
        "the provider key holds characters an HTTP header cannot carry (control characters such as CR or LF)"
    )
    public static let noProviderKey = ErrorCode(
        "no_provider_key",
        .failedPrecondition,
        retryable: false,
        .router,
        "the call carries no provider key and its tenant has none configured"
    )
    public static let pricingFailed = ErrorCode(
        "pricing_failed",
        .internal,
        retryable: false,
        .router,
        "the catalog could not price the call (a catalog bug)"
    )
    public static let internalError = ErrorCode(
        "internal_error",
        .internal,
        retryable: false,
        .router,
        "a bug in flexd"
    )

    // MARK: - The provider (upstream)

    public static let upstreamUnauthenticated = ErrorCode(
        "upstream_unauthenticated",
        .unauthenticated,
        retryable: false,
        .upstream,
        "the provider refused the key: it answered 401 (Gemini: 400 with reason API_KEY_INVALID)"
    )
    public static let upstreamPermissionDenied = ErrorCode(
        "upstream_permission_denied",
        .permissionDenied,
        retryable: false,
        .upstream,
        "the provider answered 403"
    )
    public static let upstreamNotFound = ErrorCode(
        "upstream_not_found",
        .notFound,
        retryable: false,
        .upstream,
        "the provider answered 404"
    )
    public static let upstreamInvalidRequest = ErrorCode(
        "upstream_invalid_request",
        .invalidArgument,
        retryable: false,
        .upstream,
        "the provider answered 400, 413 or 422"
    )
    public static let upstreamRateLimited = ErrorCode(
        "upstream_rate_limited",
        .resourceExhausted,
        retryable: true,
        .upstream,
        "the provider answered 429 for the caller's rate limit (not a flex capacity refusal)"
    )
    public static let upstreamOverloaded = ErrorCode(
        "upstream_overloaded",
        .unavailable,
        retryable: true,
        .upstream,
        "the provider is overloaded (Anthropic 529), or refused a non-flex tier for capacity"
    )
    public static let upstreamUnavailable = ErrorCode(
        "upstream_unavailable",
        .unavailable,
        retryable: true,
        .upstream,
        "the provider answered 408 or 5xx"
    )
    public static let upstreamError = ErrorCode(
        "upstream_error",
        .failedPrecondition,
        retryable: false,
        .upstream,
        "the provider answered another 4xx"
    )
    public static let upstreamTimeout = ErrorCode(
        "upstream_timeout",
        .unavailable,
        retryable: true,
        .upstream,
        "connecting, the response head or the next byte took longer than the router's timeout"
    )
    public static let upstreamUnreachable = ErrorCode(
        "upstream_unreachable",
        .unavailable,
        retryable: true,
        .upstream,
        "the provider could not be reached (name resolution, connection, TLS)"
    )
    public static let upstreamResponseTooLarge = ErrorCode(
        "upstream_response_too_large",
        .resourceExhausted,
        retryable: false,
        .upstream,
        "the provider's answer or one of its events is over the router's limit"
    )
    public static let upstreamMalformedResponse = ErrorCode(
        "upstream_malformed_response",
        .unavailable,
        retryable: true,
        .upstream,
        "the provider's answer is not the JSON its API promises"
    )
    public static let upstreamMalformedEvent = ErrorCode(
        "upstream_malformed_event",
        .unavailable,
        retryable: true,
        .upstream,
        "a stream event whose data is not the JSON its API promises"
    )
    public static let upstreamFailed = ErrorCode(
        "upstream_failed",
        .unavailable,
        retryable: true,
        .upstream,
        "the provider reported the call failed or cancelled before it produced any output"
    )
    public static let upstreamStreamError = ErrorCode(
        "upstream_stream_error",
        .unavailable,
        retryable: true,
        .upstream,
        "reading the provider's stream failed"
    )
    public static let upstreamStreamTruncated = ErrorCode(
        "upstream_stream_truncated",
        .dataLoss,
        also: [.unavailable],
        retryable: true,
        .upstream,
        "the provider's stream ended before its final event (DATA_LOSS), or before the answer started (UNAVAILABLE)"
    )

    // MARK: - The HTTP door

    public static let requestTooLarge = ErrorCode(
        "request_too_large",
        .resourceExhausted,
        retryable: false,
        .http,
        "the request body is over the door's limit (413)"
    )
    public static let unknownRoute = ErrorCode(
        "unknown_route",
        .notFound,
        retryable: false,
        .http,
        "no route at this path (404)"
    )
    public static let methodNotAllowed = ErrorCode(
        "method_not_allowed",
        .unimplemented,
        retryable: false,
        .http,
        "the path's route takes another method (405, with Allow)"
    )

    /// Every code, in the order PROTOCOL.md lists them.
    public static let all: [ErrorCode] = [
        .protocolError, .frameTooLarge, .compressionError, .flowControlError, .unsupportedVersion, .invalidLimits,
        .handshakeTimeout, .idleTimeout, .tooManyPings, .tooManyConnections, .serverShuttingDown,
        .invalidMessage, .unknownMethod, .tooManyStreams, .serverBusy, .missingAPIKey, .invalidAPIKey,
        .deadlineExceeded,
        .cancelled, .requestTimeout, .responseTooLarge, .connectionClosed,
        .missingProvider, .missingAPI, .apiProviderMismatch, .missingModel, .invalidModel, .unknownModel,
        .modelMismatch,
        .missingBody, .invalidRequestBody, .invalidChatRequest, .unsupportedForProvider, .missingStartWithin,
        .invalidStartWithin, .autoUnsupportedForGemini, .flexUnsupportedForAnthropic, .modelNotFlexCapable,
        .tierNotOffered, .invalidRetry, .serviceTierNotAllowed,
        .apiNotSupported, .providerNotConfigured, .noProviderKey, .invalidProviderKey, .pricingFailed, .internalError,
        .upstreamUnauthenticated, .upstreamPermissionDenied, .upstreamNotFound, .upstreamInvalidRequest,
        .upstreamRateLimited,
        .upstreamOverloaded, .upstreamUnavailable, .upstreamError, .upstreamTimeout, .upstreamUnreachable,
        .upstreamResponseTooLarge, .upstreamMalformedResponse, .upstreamMalformedEvent, .upstreamFailed,
        .upstreamStreamError,
        .upstreamStreamTruncated,
        .requestTooLarge, .unknownRoute, .methodNotAllowed,
    ]

    private static let byName: [String: ErrorCode] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// Whether a status may carry this code.
    public func allows(_ status: StatusCode) -> Bool {
        status == self.status || self.alternativeStatuses.contains(status)
    }
}
