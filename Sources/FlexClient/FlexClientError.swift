public import FlexCodec

/// The one error a ``FlexClient`` call throws: how the call ended, as a `Status`, with the
/// savings record when the call reached a provider.
///
/// The error comes either from the server (the call's TRAILERS, or a GOAWAY that ended the
/// connection) or from the client itself (a deadline, a cancelled task, a lost connection, a
/// server that broke the protocol); ``origin`` tells which. Either way ``status`` holds the code,
/// a message that never contains keys, the machine-readable `Status.errorCode`, the server's
/// `Status.details` and, when the provider returned the error, `Status.upstream`.
///
/// ```swift
/// do throws(FlexClientError) {
///     let (response, savings) = try await client.complete(request)
/// } catch {
///     switch error.code {
///     case .deadlineExceeded: ...                       // local or server-side deadline
///     case .unavailable where error.isSafeToRetry: ...  // the server never saw the call
///     default:
///         print(error.status.errorCode, error.status.upstream?.httpStatus ?? 0)
///         print(error.savings?.actualCostPicoUSD ?? 0)  // billed even though it failed
///     }
/// }
/// ```
public struct FlexClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The status code of a failed call: every `StatusCode` but OK.
    ///
    /// A struct keeping the wire `StatusCode` private, like grpc-swift's `RPCError.Code`, so that a
    /// later protocol version can add codes without breaking `switch` statements over this type.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let wrapped: StatusCode
        private init(known: StatusCode) { self.wrapped = known }

        /// The code for a wire status; nil for OK, which is not an error.
        public init?(_ statusCode: StatusCode) {
            guard statusCode != .ok else { return nil }
            self.wrapped = statusCode
        }

        /// The wire status code.
        public var statusCode: StatusCode { self.wrapped }

        public var description: String { self.statusCode.description }

        /// The call was cancelled (its task was cancelled, or the server says the client cancelled).
        public static let cancelled = Self(known: StatusCode.cancelled)
        public static let unknown = Self(known: StatusCode.unknown)
        /// The request is wrong; retrying it unchanged fails again.
        public static let invalidArgument = Self(known: StatusCode.invalidArgument)
        /// The call's deadline passed (locally or at the server).
        public static let deadlineExceeded = Self(known: StatusCode.deadlineExceeded)
        /// The provider does not know the model.
        public static let notFound = Self(known: StatusCode.notFound)
        public static let alreadyExists = Self(known: StatusCode.alreadyExists)
        /// The provider refused the key for this model or feature.
        public static let permissionDenied = Self(known: StatusCode.permissionDenied)
        /// A limit was hit: a protocol or server limit, the client's queue of waiting calls, or the
        /// provider's rate limit.
        public static let resourceExhausted = Self(known: StatusCode.resourceExhausted)
        /// The call cannot run as configured (e.g. no provider key for the tenant).
        public static let failedPrecondition = Self(known: StatusCode.failedPrecondition)
        public static let aborted = Self(known: StatusCode.aborted)
        public static let outOfRange = Self(known: StatusCode.outOfRange)
        /// Unknown method, or no shared protocol version.
        public static let unimplemented = Self(known: StatusCode.unimplemented)
        /// A protocol violation (by either side) or a bug.
        public static let `internal` = Self(known: StatusCode.internal)
        /// The server or the provider is temporarily unable: connection failed or lost, draining,
        /// provider 5xx. See ``FlexClientError/isSafeToRetry``.
        public static let unavailable = Self(known: StatusCode.unavailable)
        /// The provider's answer was cut off before its end.
        public static let dataLoss = Self(known: StatusCode.dataLoss)
        /// Missing or wrong flexd API key, or the provider rejected the caller's key.
        public static let unauthenticated = Self(known: StatusCode.unauthenticated)
    }

    /// Where an error was decided.
    public struct Origin: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case server
            case goAway
            case client
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The server ended the call with TRAILERS.
        public static let server = Self(Wrapped.server)
        /// The server ended or drained the connection with GOAWAY.
        public static let goAway = Self(Wrapped.goAway)
        /// The client decided: deadline, cancellation, a lost or failed connection, a protocol
        /// violation by the server, a local limit.
        public static let client = Self(Wrapped.client)

        public var description: String {
            switch self.wrapped {
            case .server: "server"
            case .goAway: "goaway"
            case .client: "client"
            }
        }
    }

    /// The status code; never OK.
    public var code: Code
    /// The full status: `Status.code` equals ``code``; `Status.errorCode` is the
    /// machine-readable reason (the server's, or one of the client's listed in the FlexClient documentation, *Making calls*).
    public var status: Status
    /// The call's savings record, when the call reached a provider before it failed (it may have
    /// been billed).
    public var savings: SavingsRecord?
    /// The metadata of the call's TRAILERS, when the server sent them.
    public var trailersMetadata: [String: String]
    public var origin: Origin
    /// True when the server did not process the call, so it is safe to send again: it was above
    /// the `last_stream_id` of a GOAWAY, refused with `too_many_streams` or `server_busy`, or never
    /// left the client (no endpoint reachable, the client's queue full or closed). ``FlexClient``
    /// already sends such calls again (on another connection, another endpoint when there is one)
    /// up to ``FlexClient/Configuration/maxTransparentRetries`` times.
    public var isSafeToRetry: Bool

    /// The human-readable message (`Status.message`).
    public var message: String { self.status.message }

    public init(
        status: Status,
        savings: SavingsRecord? = nil,
        trailersMetadata: [String: String] = [:],
        origin: Origin,
        isSafeToRetry: Bool = false
    ) {
        // An OK status is not an error; a server that ends a failed call with it is read as UNKNOWN.
        self.code = Code(status.code) ?? .unknown
        var status = status
        status.code = self.code.statusCode
        self.status = status
        self.savings = savings
        self.trailersMetadata = trailersMetadata
        self.origin = origin
        self.isSafeToRetry = isSafeToRetry
    }

    public var description: String {
        var text = "FlexClientError(\(self.origin)): \(self.status)"
        if self.isSafeToRetry { text += " [not processed; safe to retry]" }
        return text
    }
}

// MARK: - The client's own errors

extension FlexClientError {
    /// The machine-readable `error_code`s the client itself uses (the FlexClient documentation, *Making calls*).
    enum LocalReason {
        static let cancelled = "cancelled"
        static let deadlineExceeded = "deadline_exceeded"
        static let connectionFailed = "connection_failed"
        static let resolutionFailed = "resolution_failed"
        static let connectionClosed = "connection_closed"
        static let handshakeTimeout = "handshake_timeout"
        static let keepaliveTimeout = "keepalive_timeout"
        static let clientClosed = "client_closed"
        static let tooManyPendingCalls = "too_many_pending_calls"
        static let messageTooLarge = "message_too_large"
        static let invalidRequest = "invalid_request"
        static let invalidConfiguration = "invalid_configuration"
        static let protocolError = "protocol_error"
        static let invalidMessage = "invalid_message"
        static let flowControlError = "flow_control_error"
        static let unsupportedVersion = "unsupported_version"
    }

    /// An error the client decided.
    static func local(
        _ code: StatusCode,
        _ errorCode: String,
        _ message: String,
        isSafeToRetry: Bool = false
    ) -> FlexClientError {
        FlexClientError(
            status: Status(code: code, message: message, errorCode: errorCode),
            origin: .client,
            isSafeToRetry: isSafeToRetry
        )
    }

    /// The call ended with non-OK TRAILERS.
    static func server(_ trailers: Trailers) -> FlexClientError {
        FlexClientError(
            status: trailers.status,
            savings: trailers.savings,
            trailersMetadata: trailers.metadata,
            origin: .server,
            isSafeToRetry: ConnectionStateMachine.isRefusedUnprocessed(trailers)
        )
    }

    /// The connection ended (or drained) with a GOAWAY that this call is affected by.
    static func goAway(_ goAway: GoAway, processed: Bool) -> FlexClientError {
        if processed {
            return FlexClientError(
                status: Status(
                    code: goAway.code == .ok ? .unavailable : goAway.code,
                    message: "the server closed the connection: \(goAway.message)",
                    errorCode: goAway.errorCode
                ),
                origin: .goAway
            )
        }
        return FlexClientError(
            status: Status(
                code: .unavailable,
                message:
                    "the server did not process the call (GOAWAY last_stream_id \(goAway.lastStreamID)): \(goAway.message)",
                errorCode: goAway.errorCode
            ),
            origin: .goAway,
            isSafeToRetry: true
        )
    }

    /// The server broke the protocol; the connection is closed.
    static func protocolViolation(_ error: FlexCodecError) -> FlexClientError {
        .local(error.statusCode, error.errorCode.name, "the server violated the protocol: \(error.message)")
    }

    /// The server broke a per-stream rule; the call is cancelled, the connection stays.
    static func streamViolation(_ errorCode: String, _ message: String) -> FlexClientError {
        .local(.internal, errorCode, "the server violated the protocol: \(message)")
    }
}
