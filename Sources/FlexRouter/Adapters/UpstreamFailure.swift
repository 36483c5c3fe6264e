public import FlexCodec
internal import FlexJSON
public import NIOCore

/// The one table that says what a provider's error means (gateway lessons, item 3): a flex
/// capacity refusal (go to standard now), a retryable failure, or the caller's own fault (return
/// it as it is); and which status the caller gets.
///
/// | provider  | HTTP | condition                                  | meaning   | status              |
/// |-----------|------|--------------------------------------------|-----------|---------------------|
/// | OpenAI    | 429  | flex, code `resource_unavailable` / "Resource Unavailable" | capacity | (fallback) |
/// | Gemini    | 503  | flex                                       | capacity  | (fallback)          |
/// | any       | 429  | otherwise (the caller's rate limit)        | fatal     | RESOURCE_EXHAUSTED  |
/// | Anthropic | 529  | overloaded                                 | retryable | UNAVAILABLE         |
/// | any       | 408, 5xx |                                        | retryable | UNAVAILABLE         |
/// | any       | 401  |                                            | fatal     | UNAUTHENTICATED     |
/// | any       | 403  |                                            | fatal     | PERMISSION_DENIED   |
/// | any       | 404  |                                            | fatal     | NOT_FOUND           |
/// | any       | 400, 413, 422 |                                   | fatal     | INVALID_ARGUMENT    |
/// | any       | other 4xx |                                       | fatal     | FAILED_PRECONDITION |
///
/// Rate limits are not retried on another tier: OpenAI's fast and standard tiers share a rate limit,
/// and the caller's quota is the caller's to manage.
public enum UpstreamFailure {
    /// The provider's error body, kept for the caller, is cut to this size.
    static let maximumBodyBytes = 64 * 1024

    /// Classifies an HTTP error answer.
    public static func classify(
        provider: Provider,
        status: Int,
        headers: [(String, String)],
        body: ByteBuffer,
        flex: Bool
    ) -> RaceStateMachine.AttemptFailure {
        let upstream = Self.parse(provider: provider, status: status, headers: headers, body: body)
        if flex, Self.isCapacityRefusal(provider: provider, status: status, upstream: upstream) {
            return .capacity
        }
        let (code, errorCode, retryable) = Self.meaning(provider: provider, status: status)
        let message = upstream.message.isEmpty
            ? "\(provider.name) answered HTTP \(status)"
            : "\(provider.name) answered HTTP \(status): \(upstream.message.prefix(500))"
        let error = RouterError(code, errorCode, message, details: ["provider": provider.name], upstream: upstream)
        return retryable ? .retryable(error, beforeAnyByte: false) : .fatal(error)
    }

    /// Classifies an error event inside a stream (OpenAI `{"error": ...}`, Anthropic `error`, ...),
    /// as if it had been an HTTP error with the status its type implies.
    public static func classifyStreamError(provider: Provider, type: String, code: String = "", message: String,
                                           impliedStatus: Int, flex: Bool) -> RaceStateMachine.AttemptFailure {
        let upstream = UpstreamError(httpStatus: UInt32(impliedStatus), type: type, code: code, message: message)
        if flex, Self.isCapacityRefusal(provider: provider, status: impliedStatus, upstream: upstream) {
            return .capacity
        }
        let (code, errorCode, retryable) = Self.meaning(provider: provider, status: impliedStatus)
        let error = RouterError(code, errorCode, "\(provider.name) reported an error in its stream: \(type): \(message.prefix(500))",
                                details: ["provider": provider.name], upstream: upstream)
        return retryable ? .retryable(error, beforeAnyByte: false) : .fatal(error)
    }

    static func isCapacityRefusal(provider: Provider, status: Int, upstream: UpstreamError) -> Bool {
        switch (provider, status) {
        case (.openAI, 429):
            upstream.code == "resource_unavailable" || upstream.message.hasPrefix("Resource Unavailable")
        case (.gemini, 503):
            true
        default:
            false
        }
    }

    static func meaning(provider: Provider, status: Int) -> (StatusCode, String, retryable: Bool) {
        switch status {
        case 401: (.unauthenticated, "upstream_unauthenticated", false)
        case 403: (.permissionDenied, "upstream_permission_denied", false)
        case 404: (.notFound, "upstream_not_found", false)
        case 400, 413, 422: (.invalidArgument, "upstream_invalid_request", false)
        case 429: (.resourceExhausted, "upstream_rate_limited", false)
        case 529: (.unavailable, "upstream_overloaded", true)
        case 408, 500...599: (.unavailable, "upstream_unavailable", true)
        default: (.failedPrecondition, "upstream_error", false)
        }
    }

    /// Reads the provider's error envelope:
    /// OpenAI `{"error": {"message", "type", "param", "code"}}`;
    /// Anthropic `{"type": "error", "error": {"type", "message"}}`;
    /// Gemini `{"error": {"code", "message", "status"}}`.
    static func parse(provider: Provider, status: Int, headers: [(String, String)], body: ByteBuffer) -> UpstreamError {
        var upstream = UpstreamError(httpStatus: UInt32(clamping: status))
        upstream.body = body.getSlice(at: body.readerIndex, length: min(body.readableBytes, Self.maximumBodyBytes)) ?? ByteBuffer()
        if let retryAfter = headers.first(where: { $0.0.lowercased() == "retry-after" })?.1,
            let seconds = Double(retryAfter.filter { $0 != " " }), seconds >= 0, seconds < 86_400
        {
            upstream.retryAfter = .milliseconds(Int64(seconds * 1000))
        }
        guard let json = try? JSONParser.parse(body.readableBytesView), let error = json["error"] else {
            return upstream
        }
        upstream.message = error["message"]?.string ?? ""
        switch provider {
        case .openAI:
            upstream.type = error["type"]?.string ?? ""
            upstream.code = error["code"]?.string ?? ""
        case .anthropic:
            upstream.type = error["type"]?.string ?? ""
        case .gemini:
            upstream.type = error["status"]?.string ?? ""
            upstream.code = error["code"]?.int.map { String($0) } ?? ""
        }
        return upstream
    }
}
