internal import FlexCodec
internal import FlexJSON
internal import NIOCore
internal import NIOHTTP1

/// How the HTTP door says a call failed: in the error envelope and with the HTTP status of the
/// provider whose SDK is calling, so that the SDK raises its own exception type, with
/// `"flexd": {"code", "retryable"}` inside the envelope's `error`:
///
/// - OpenAI: `{"error": {"message", "type", "param", "code", "flexd"}}`; `code` is flexd's code.
/// - Anthropic: `{"type": "error", "error": {"type", "message", "flexd"}}`.
/// - Gemini: `{"error": {"code", "message", "status", "flexd"}}`, `status` the gRPC name.
///
/// An error the provider itself returned keeps the provider's HTTP status and body (its keys
/// redacted), with `flexd` added to its `error`. The one place where a flexd status becomes an
/// HTTP status is ``httpStatus(_:)``.
enum DoorError {
    /// The status line and body of an error answer.
    static func response(_ status: Status, envelope: Provider) -> (HTTPResponseStatus, ByteBuffer) {
        if let upstream = status.upstream, let body = Self.upstreamBody(upstream, status: status, envelope: envelope) {
            let code = Int(upstream.httpStatus)
            return ((400...599).contains(code) ? HTTPResponseStatus(statusCode: code) : .badGateway, body)
        }
        let http = Self.httpStatus(status)
        var buffer = ByteBuffer()
        Self.envelope(status, http: http, envelope: envelope).write(into: &buffer)
        return (http, buffer)
    }

    /// The HTTP status of a flexd status that is not the provider's own.
    static func httpStatus(_ status: Status) -> HTTPResponseStatus {
        switch status.errorCode {
        case ErrorCode.requestTooLarge.name: return .payloadTooLarge
        case ErrorCode.unknownRoute.name: return .notFound
        case ErrorCode.methodNotAllowed.name: return .methodNotAllowed
        case ErrorCode.requestTimeout.name: return .requestTimeout
        case ErrorCode.tooManyConnections.name, ErrorCode.serverShuttingDown.name: return .serviceUnavailable
        default: break
        }
        return switch status.code {
        case .ok: .ok
        case .invalidArgument, .failedPrecondition, .outOfRange: .badRequest
        case .unauthenticated: .unauthorized
        case .permissionDenied: .forbidden
        case .notFound: .notFound
        case .alreadyExists, .aborted: .conflict
        case .resourceExhausted: .tooManyRequests
        case .unimplemented: .notImplemented
        case .deadlineExceeded: .gatewayTimeout
        case .unavailable: .serviceUnavailable
        case .dataLoss: .badGateway
        case .cancelled: HTTPResponseStatus(statusCode: 499, reasonPhrase: "Client Closed Request")
        case .internal, .unknown: .internalServerError
        }
    }

    /// The error as the provider's SDK expects it, from flexd's own status.
    static func envelope(_ status: Status, http: HTTPResponseStatus, envelope: Provider) -> JSONValue {
        let flexd = Self.flexdMember(status)
        switch envelope {
        case .openAI:
            return .object([
                "error": .object([
                    "message": .string(status.message),
                    "type": .string(Self.openAIType(http.code)),
                    "param": .optional(status.details["field"]),
                    "code": .string(status.errorCode),
                    "flexd": flexd,
                ])
            ])
        case .anthropic:
            return .object([
                "type": "error",
                "error": .object([
                    "type": .string(Self.anthropicType(http.code)),
                    "message": .string(status.message),
                    "flexd": flexd,
                ]),
            ])
        case .gemini:
            return .object([
                "error": .object([
                    "code": .int(Int64(http.code)),
                    "message": .string(status.message),
                    "status": .string(status.code.description),
                    "flexd": flexd,
                ])
            ])
        }
    }

    /// An error event inside a stream that has started, in the API's own shape: the SDK raises it
    /// as it would the provider's, and the answer never ends cleanly.
    static func streamEvent(_ status: Status, api: Api) -> NativeEvent {
        let http = Self.httpStatus(status)
        var data = ByteBuffer()
        switch api {
        case .chatCompletions:
            Self.envelope(status, http: http, envelope: .openAI).write(into: &data)
            return NativeEvent(event: "", data: data)
        case .responses:
            JSONValue.object([
                "type": "error",
                "code": .string(status.errorCode),
                "message": .string(status.message),
                "param": .null,
                "error": Self.envelope(status, http: http, envelope: .openAI)["error"] ?? .null,
            ]).write(into: &data)
            return NativeEvent(event: "error", data: data)
        case .messages:
            Self.envelope(status, http: http, envelope: .anthropic).write(into: &data)
            return NativeEvent(event: "error", data: data)
        case .generateContent:
            Self.envelope(status, http: http, envelope: .gemini).write(into: &data)
            return NativeEvent(event: "", data: data)
        case .interactions:
            Self.envelope(status, http: http, envelope: .gemini).write(into: &data)
            return NativeEvent(event: "error", data: data)
        }
    }

    /// `"flexd": {"code", "retryable"}`.
    private static func flexdMember(_ status: Status) -> JSONValue {
        .object([
            "code": .string(status.errorCode),
            "retryable": .bool(status.error?.isRetryable ?? false),
        ])
    }

    /// The provider's own error body, keys redacted, `flexd` added to its `error` object; nil when
    /// it is not the JSON envelope the SDK expects (flexd's own envelope is used then).
    private static func upstreamBody(_ upstream: UpstreamError, status: Status, envelope: Provider) -> ByteBuffer? {
        let text = Redaction.scrub(String(buffer: upstream.body))
        guard let json = try? JSONParser.parse(text), var object = json.object, var error = object["error"]?.object
        else {
            return nil
        }
        error["flexd"] = Self.flexdMember(status)
        if envelope == .openAI, error["code"] == nil || error["code"] == .null {
            error["code"] = .string(status.errorCode)
        }
        object["error"] = .object(error)
        var buffer = ByteBuffer()
        JSONValue.object(object).write(into: &buffer)
        return buffer
    }

    private static func openAIType(_ code: UInt) -> String {
        switch code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 429: "rate_limit_error"
        case 400..<500: "invalid_request_error"
        default: "server_error"
        }
    }

    private static func anthropicType(_ code: UInt) -> String {
        switch code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503: "overloaded_error"
        case 504: "timeout_error"
        case 400..<500: "invalid_request_error"
        default: "api_error"
        }
    }
}
