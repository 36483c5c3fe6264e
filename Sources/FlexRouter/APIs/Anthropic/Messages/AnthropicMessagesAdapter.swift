public import FlexCore
public import FlexJSON
public import NIOCore

/// Anthropic Messages (`POST /messages`).
///
/// - Tier field: `service_tier`: priority → `auto` (Priority Tier capacity when the account has
///   some, else standard: the best Anthropic still sells), standard → `standard_only`, auto →
///   `auto`. Anthropic has no flex tier: asking for it throws `flex_unsupported_for_anthropic`
///   (``TierPlan`` refuses such calls earlier; this is the adapter's own guard). Served tier:
///   `usage.service_tier` (`standard`, `priority`; `batch` maps to no tier).
/// - Headers: `x-api-key` and `anthropic-version: 2023-06-01`. The version is a header, and the
///   caller's native body has no way to carry headers, so the router pins the version whose
///   shapes this adapter reads. Beta features that need an `anthropic-beta` header cannot be asked
///   for through a native body today.
/// - Started: the first `content_block_start` (thinking, text or tool use: the model is producing
///   output, which Anthropic bills). `message_start` and `ping` before it are preamble: the
///   message object exists before any output does.
/// - Terminal: `message_stop`. `message_delta` (stop reason, cumulative usage) comes before it. A
///   message with no content block at all has `message_stop` as its only output-bearing event:
///   terminal before started, which ``EventDisposition/terminal`` defines as the start too.
/// - Errors in the stream: an `error` event (`overloaded_error`, `api_error`, ...) is classified as
///   the HTTP status its type stands for (overloaded → 529: retryable).
/// - Usage: `input_tokens` excludes cache reads and writes; `cache_creation_input_tokens` is every
///   cache write, of which `cache_creation.ephemeral_1h_input_tokens` are 1-hour writes (their own
///   price class); `output_tokens` includes thinking. Anthropic does not report thinking tokens
///   apart, so `TokenUsage.reasoningTokens` is 0 (reasoning is billed as output anyway).
/// - The streamed answer is reassembled the way Anthropic's SDKs accumulate it: the
///   `message_start` message, content blocks by index (text, `input_json_delta` parsed into
///   `input`, thinking and its signature, citations), the `message_delta` fields over it, and the
///   `message_delta` usage (non-null fields) over the `message_start` usage.
public struct AnthropicMessagesAdapter: ProviderAdapter {
    /// The `anthropic-version` header every request carries.
    public static let apiVersion = "2023-06-01"

    public var api: Api { .messages }

    public init() {}

    public func makeRequest(
        body: JSONObject,
        model: String,
        tier: Tier,
        stream: Bool,
        key: Secret
    ) throws(RouterError) -> UpstreamRequest {
        var body = try NativeBody.settingModel(body, model, api: self.api)
        body["service_tier"] = .string(try Self.wireValue(tier, model: model))
        Self.setStream(stream, in: &body)
        return UpstreamRequest(
            path: "/messages",
            headers: [
                ("x-api-key", key.value),
                ("anthropic-version", Self.apiVersion),
                ("content-type", "application/json"),
                ("accept", stream ? "text/event-stream" : "application/json"),
            ],
            body: NativeBody.encode(body),
            stream: stream
        )
    }

    public func makeStreamReader(for body: JSONObject, tier: Tier, headers: [(String, String)]) -> any StreamReader {
        Reader(flex: tier == .flex)
    }

    public func readResponse(_ body: ByteBuffer, headers: [(String, String)]) throws(RouterError) -> UpstreamResult {
        let json = try NativeBody.parseAnswer(body, api: self.api, keeping: ["usage"])
        return Self.result(usage: json["usage"]?.object ?? [:])
    }

    /// Anthropic's spelling of a tier (brief, section 2).
    static func wireValue(_ tier: Tier, model: String) throws(RouterError) -> String {
        switch tier {
        case .priority, .auto: "auto"
        case .standard: "standard_only"
        case .flex: throw RouterError.flexUnsupportedForAnthropic(model: model)
        }
    }

    /// The served tier from `usage.service_tier`.
    static func served(_ reported: String) -> Tier? {
        switch reported {
        case "standard": .standard
        case "priority": .priority
        default: nil
        }
    }

    static func result(usage: JSONObject) -> UpstreamResult {
        let reported = usage["service_tier"]?.string ?? ""
        return UpstreamResult(usage: Self.usage(usage), servedTier: Self.served(reported), servedTierReported: reported)
    }

    /// Messages usage → token classes.
    static func usage(_ usage: JSONObject) -> TokenUsage {
        let breakdown = usage["cache_creation"]
        let fiveMinutes = NativeBody.count(breakdown?["ephemeral_5m_input_tokens"])
        let oneHour = NativeBody.count(breakdown?["ephemeral_1h_input_tokens"])
        // The total is authoritative; the breakdown only says which part of it was 1-hour writes.
        let written = usage["cache_creation_input_tokens"].map { NativeBody.count($0) } ?? (fiveMinutes + oneHour)
        let longLived = min(oneHour, written)
        return TokenUsage(
            inputTokens: NativeBody.count(usage["input_tokens"]),
            cachedInputTokens: NativeBody.count(usage["cache_read_input_tokens"]),
            cacheWriteTokens: written - longLived,
            outputTokens: NativeBody.count(usage["output_tokens"]),
            reasoningTokens: 0,
            cacheWrite1hTokens: longLived
        )
    }

    /// The HTTP status an Anthropic error type stands for (the errors page's table).
    static func impliedStatus(_ type: String) -> Int {
        switch type {
        case "invalid_request_error": 400
        case "authentication_error": 401
        case "billing_error": 402
        case "permission_error": 403
        case "not_found_error": 404
        case "request_too_large": 413
        case "rate_limit_error": 429
        case "timeout_error": 504
        case "overloaded_error": 529
        default: 500  // api_error and anything new: the provider's fault
        }
    }
}
