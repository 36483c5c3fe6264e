public import FlexCore
public import FlexJSON
public import NIOCore

/// OpenAI Chat Completions (`POST /chat/completions`).
///
/// - Tier field: `service_tier`: flex → `flex`, standard → `default`, priority → `priority`,
///   auto → `auto`. Served tier: `service_tier` in the body or in every chunk.
/// - Started: the first chunk whose delta carries `content` (non-empty), `refusal`, or
///   `tool_calls`; the role-only first chunk is preamble.
/// - Terminal: `data: [DONE]`. Usage comes in the chunk before it (the router always asks for
///   `stream_options.include_usage` when streaming; the caller sees that chunk only if it asked).
/// - Usage: `prompt_tokens` includes cached reads and cache writes; `completion_tokens` includes
///   reasoning.
public struct OpenAIChatAdapter: ProviderAdapter {
    public var api: Api { .chatCompletions }

    public init() {}

    public func makeRequest(
        body: JSONObject,
        model: String,
        tier: Tier,
        stream: Bool,
        key: Secret
    ) throws(RouterError) -> UpstreamRequest {
        var body = try NativeBody.settingModel(body, model, api: self.api)
        body["service_tier"] = .string(OpenAITier.wireValue(tier))
        Self.setStream(stream, in: &body)
        if stream {
            var options = body["stream_options"]?.object ?? JSONObject()
            options["include_usage"] = true
            body["stream_options"] = .object(options)
        }
        return UpstreamRequest(
            path: "/chat/completions",
            headers: OpenAITier.headers(key: key, stream: stream),
            body: NativeBody.encode(body),
            stream: stream
        )
    }

    public func makeStreamReader(for body: JSONObject, tier: Tier, headers: [(String, String)]) -> any StreamReader {
        Reader(forwardUsageChunk: body["stream_options"]?["include_usage"]?.bool == true, flex: tier == .flex)
    }

    public func readResponse(_ body: ByteBuffer, headers: [(String, String)]) throws(RouterError) -> UpstreamResult {
        let json = try NativeBody.parseAnswer(body, api: self.api, keeping: ["service_tier", "usage"])
        let reported = json["service_tier"]?.string ?? ""
        return UpstreamResult(
            usage: Self.usage(json["usage"]),
            servedTier: OpenAITier.served(reported),
            servedTierReported: reported
        )
    }

    /// Chat usage → token classes.
    static func usage(_ usage: JSONValue?) -> TokenUsage {
        guard let usage, !usage.isNull else { return TokenUsage() }
        let prompt = NativeBody.count(usage["prompt_tokens"])
        let cached = NativeBody.count(usage["prompt_tokens_details"]?["cached_tokens"])
        let written = NativeBody.count(usage["prompt_tokens_details"]?["cache_write_tokens"])
        let completion = NativeBody.count(usage["completion_tokens"])
        let reasoning = NativeBody.count(usage["completion_tokens_details"]?["reasoning_tokens"])
        return TokenUsage(
            inputTokens: prompt.subtractingClamped(cached + written),
            cachedInputTokens: cached,
            cacheWriteTokens: written,
            outputTokens: completion,
            reasoningTokens: min(reasoning, completion)
        )
    }
}
