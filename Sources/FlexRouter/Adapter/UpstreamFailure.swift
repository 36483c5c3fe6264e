public import FlexCore
internal import FlexJSON
internal import Foundation
public import NIOCore
internal import Synchronization

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
/// | Gemini    | 400  | `details[].reason` `API_KEY_INVALID` (a bad key) | fatal | UNAUTHENTICATED   |
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
        let (upstream, reason) = Self.parse(provider: provider, status: status, headers: headers, body: body)
        if flex, Self.isCapacityRefusal(provider: provider, status: status, upstream: upstream) {
            return .capacity
        }
        let (code, retryable) = Self.meaning(provider: provider, status: status, reason: reason)
        let message =
            upstream.message.isEmpty
            ? "\(provider.name) answered HTTP \(status)"
            : "\(provider.name) answered HTTP \(status): \(upstream.message.prefix(500))"
        let error = RouterError(code, message, details: ["provider": provider.name], upstream: upstream)
        return retryable ? .retryable(error, beforeAnyByte: false) : .fatal(error)
    }

    /// Classifies an error event inside a stream (OpenAI `{"error": ...}`, Anthropic `error`, ...),
    /// as if it had been an HTTP error with the status its type implies.
    public static func classifyStreamError(
        provider: Provider,
        type: String,
        code: String = "",
        message: String,
        impliedStatus: Int,
        flex: Bool
    ) -> RaceStateMachine.AttemptFailure {
        let message = Redaction.scrub(message)
        let upstream = UpstreamError(httpStatus: UInt32(impliedStatus), type: type, code: code, message: message)
        if flex, Self.isCapacityRefusal(provider: provider, status: impliedStatus, upstream: upstream) {
            return .capacity
        }
        let (errorCode, retryable) = Self.meaning(provider: provider, status: impliedStatus)
        // Responses' `response.failed` has a code and no type.
        let label = type.isEmpty ? code : type
        let error = RouterError(
            errorCode,
            "\(provider.name) reported an error in its stream: \(label): \(message.prefix(500))",
            details: ["provider": provider.name],
            upstream: upstream
        )
        return retryable ? .retryable(error, beforeAnyByte: false) : .fatal(error)
    }

    /// The HTTP status an OpenAI error inside a stream stands for: stream errors carry a `type`
    /// and/or a `code`, never a status. The code decides when it is known (Responses'
    /// `response.failed` has only a code: `server_error`, `rate_limit_exceeded`, `invalid_prompt`,
    /// `vector_store_timeout`, the image errors), else the type; an unknown error counts as the
    /// provider's (503, retryable).
    ///
    /// | code / type | status |
    /// |---|---|
    /// | `resource_unavailable` (flex capacity), `rate_limit_exceeded`, `insufficient_quota`; type `rate_limit_error`, `requests`, `tokens`, `insufficient_quota` | 429 |
    /// | `invalid_api_key`; type `authentication_error` | 401 |
    /// | type `permission_error`, `permission_denied_error` | 403 |
    /// | `model_not_found`; type `not_found_error` | 404 |
    /// | `invalid_prompt`, `context_length_exceeded`, the image and `invalid_value` codes; type `invalid_request_error` | 400 |
    /// | `server_error`; type `server_error`, `api_error` | 500 |
    /// | `vector_store_timeout` | 504 |
    /// | anything else (`server_is_overloaded`, `service_unavailable_error`, ...) | 503 |
    public static func openAIImpliedStatus(type: String, code: String) -> Int {
        switch code {
        case "resource_unavailable", "rate_limit_exceeded", "insufficient_quota": return 429
        case "invalid_api_key": return 401
        case "model_not_found": return 404
        case "invalid_prompt", "context_length_exceeded", "invalid_value", "invalid_image", "invalid_image_format",
            "invalid_base64_image", "invalid_image_url", "image_too_large", "image_too_small", "image_parse_error",
            "image_content_policy_violation", "invalid_image_mode", "image_file_too_large",
            "unsupported_image_media_type",
            "empty_image_file", "failed_to_download_image", "image_file_not_found":
            return 400
        case "server_error": return 500
        case "vector_store_timeout": return 504
        default: break
        }
        switch type {
        case "rate_limit_error", "requests", "tokens", "insufficient_quota": return 429
        case "authentication_error": return 401
        case "permission_error", "permission_denied_error": return 403
        case "not_found_error": return 404
        case "invalid_request_error": return 400
        case "server_error", "api_error": return 500
        default: return 503
        }
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

    /// The error code of an HTTP status, and whether the router tries another tier after it (before
    /// the start). `reason` is Gemini's `ErrorInfo` reason: Google answers a bad key 400
    /// `API_KEY_INVALID`, which is the key's fault, not the request's.
    static func meaning(provider: Provider, status: Int, reason: String = "") -> (ErrorCode, retryable: Bool) {
        if provider == .gemini && status == 400 && reason == "API_KEY_INVALID" {
            return (.upstreamUnauthenticated, false)
        }
        return switch status {
        case 401: (.upstreamUnauthenticated, false)
        case 403: (.upstreamPermissionDenied, false)
        case 404: (.upstreamNotFound, false)
        case 400, 413, 422: (.upstreamInvalidRequest, false)
        case 429: (.upstreamRateLimited, false)
        case 529: (.upstreamOverloaded, true)
        case 408, 500...599: (.upstreamUnavailable, true)
        default: (.upstreamError, false)
        }
    }

    /// A `Retry-After` value: delay-seconds, or an HTTP date (RFC 9110, IMF-fixdate, e.g.
    /// `Wed, 21 Oct 2026 07:28:00 GMT`) counted from `now` (a date past is no wait). Nil when it is
    /// neither, or a day or more away.
    static func retryAfter(_ value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        let seconds: Double
        if let number = Double(text) {
            seconds = number
        } else if let date = Self.httpDate.withLock({ $0.date(from: text) }) {
            seconds = max(0, date.timeIntervalSince(now))
        } else {
            return nil
        }
        guard seconds >= 0, seconds < 86_400 else { return nil }
        return .milliseconds(Int64(seconds * 1000))
    }

    /// IMF-fixdate; a formatter is not thread-safe, so it is used under a lock (only on error answers).
    private static let httpDate: Mutex<DateFormatter> = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return Mutex(formatter)
    }()

    /// Reads the provider's error envelope:
    /// OpenAI `{"error": {"message", "type", "param", "code"}}`;
    /// Anthropic `{"type": "error", "error": {"type", "message"}}`;
    /// Gemini `{"error": {"code", "message", "status", "details"}}`, and the `reason` of the first
    /// `details` entry that has one (an `ErrorInfo`; empty otherwise).
    static func parse(
        provider: Provider,
        status: Int,
        headers: [(String, String)],
        body: ByteBuffer
    ) -> (UpstreamError, reason: String) {
        var upstream = UpstreamError(httpStatus: UInt32(clamping: status))
        upstream.body =
            body.getSlice(at: body.readerIndex, length: min(body.readableBytes, Self.maximumBodyBytes)) ?? ByteBuffer()
        if let retryAfter = headers.first(where: { $0.0.lowercased() == "retry-after" })?.1 {
            upstream.retryAfter = Self.retryAfter(retryAfter, now: Date())
        }
        guard let json = try? JSONParser.parse(body.readableBytesView), let error = json["error"] else {
            return (upstream, "")
        }
        // Providers quote rejected keys in messages (masked or not); messages get logged.
        upstream.message = Redaction.scrub(error["message"]?.string ?? "")
        switch provider {
        case .openAI:
            upstream.type = error["type"]?.string ?? ""
            upstream.code = error["code"]?.string ?? ""
        case .anthropic:
            upstream.type = error["type"]?.string ?? ""
        case .gemini:
            upstream.type = error["status"]?.string ?? ""
            upstream.code = error["code"]?.int.map { String($0) } ?? ""
            let reason = error["details"]?.array?.lazy.compactMap { $0["reason"]?.string }.first
            return (upstream, reason ?? "")
        }
        return (upstream, "")
    }
}
