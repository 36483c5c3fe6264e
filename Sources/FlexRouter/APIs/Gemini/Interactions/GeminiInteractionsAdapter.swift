public import FlexCore
public import FlexJSON
public import NIOCore

/// Gemini Interactions (`POST /interactions`).
///
/// - Model: `model` in the body (set from the call when absent; a different one is
///   `model_mismatch`).
/// - Tier field: top-level `service_tier`: `flex`, `standard`, `priority` (a `serviceTier` the
///   caller sent is removed too). Gemini has no auto tier (`auto_unsupported_for_gemini`). Served
///   tier: the interaction's `service_tier` (on `interaction.created` and
///   `interaction.completed`), else the `x-gemini-service-tier` header.
/// - Headers: `x-goog-api-key`, and `Api-Revision: 2026-05-20`, which pins the step-based stream
///   events (`step.start`/`step.delta`/`step.stop`) this adapter reads. The legacy events
///   (`interaction.start`, `content.*`, `interaction.complete`) are not read: a stream of them
///   never reports its terminal event, so the router fails it as truncated rather than
///   reassembling a wrong answer.
/// - Started: the first `step.start` (a thought, model output or function call step: the model is
///   producing output). `interaction.created` and `interaction.status_update` before it are
///   preamble: the interaction exists, queued or not, before any output does.
/// - Terminal: `interaction.completed` (whatever the final `status`: `completed`,
///   `requires_action`, `incomplete`, `failed`), except that an interaction that `failed` or was
///   `cancelled` before any step started is a retryable error: there is no answer to commit to.
/// - Errors in the stream: an `error` event (`GeminiStreamError`): `UNAVAILABLE` on flex before
///   the start is a capacity refusal.
/// - Usage (latest of `step.stop`, `interaction.status_update` and the completed interaction):
///   `total_input_tokens` includes `total_cached_tokens`; `total_tool_use_tokens` is input billed
///   apart; `total_output_tokens` excludes `total_thought_tokens`, and output is their sum.
/// - The streamed answer is reassembled as the unstreamed interaction: the completed interaction
///   (lifecycle events omit `steps`) with the steps rebuilt from `step.start` and its deltas (text
///   and thought summaries merged, `arguments_delta` parsed into `arguments`, the thought
///   signature right after the step's `type`), `output_text` (the model output steps' text) after
///   them, before `updated`, and `role: "model"` at the end, as the unstreamed answer has them.
public struct GeminiInteractionsAdapter: ProviderAdapter {
    /// The `Api-Revision` header every request carries.
    public static let apiRevision = "2026-05-20"

    public var api: Api { .interactions }

    public init() {}

    public func makeRequest(
        body: JSONObject,
        model: String,
        tier: Tier,
        stream: Bool,
        key: Secret
    ) throws(RouterError) -> UpstreamRequest {
        var body = try NativeBody.settingModel(body, model, api: self.api)
        body["serviceTier"] = nil
        body["service_tier"] = .string(try GeminiTier.wireValue(tier, model: model))
        Self.setStream(stream, in: &body)
        return UpstreamRequest(
            path: "/interactions",
            headers: GeminiTier.headers(key: key, stream: stream) + [("api-revision", Self.apiRevision)],
            body: NativeBody.encode(body),
            stream: stream
        )
    }

    public func makeStreamReader(for body: JSONObject, tier: Tier, headers: [(String, String)]) -> any StreamReader {
        Reader(flex: tier == .flex, headerTier: GeminiTier.header(headers))
    }

    public func readResponse(_ body: ByteBuffer, headers: [(String, String)]) throws(RouterError) -> UpstreamResult {
        let json = try NativeBody.parseAnswer(body, api: self.api, keeping: ["service_tier", "usage"])
        return GeminiTier.result(
            usage: Self.usage(json["usage"]?.object ?? [:]),
            bodyWord: json["service_tier"]?.string ?? "",
            headerWord: GeminiTier.header(headers)
        )
    }

    /// Interaction `usage` → token classes.
    static func usage(_ usage: JSONObject) -> TokenUsage {
        let input = NativeBody.count(usage["total_input_tokens"])
        let cached = NativeBody.count(usage["total_cached_tokens"])
        let toolUse = NativeBody.count(usage["total_tool_use_tokens"])
        let output = NativeBody.count(usage["total_output_tokens"])
        let thoughts = NativeBody.count(usage["total_thought_tokens"])
        return TokenUsage(
            inputTokens: input.subtractingClamped(cached).addingClamped(toolUse),
            cachedInputTokens: min(cached, input),
            outputTokens: output.addingClamped(thoughts),
            reasoningTokens: thoughts
        )
    }
}
