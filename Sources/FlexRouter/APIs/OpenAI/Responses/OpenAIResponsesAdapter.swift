public import FlexCore
public import FlexJSON
public import NIOCore

/// OpenAI Responses (`POST /responses`).
///
/// - Tier field: `service_tier`, spelled as in Chat Completions (`OpenAITier`): flex → `flex`,
///   standard → `default`, priority → `priority`, auto → `auto`. Served tier: `service_tier` of the
///   response object (the terminal event's `response`, or the body of a non-streamed answer).
/// - Streaming: `stream: true`; usage needs no asking (it is in the terminal event's
///   `response.usage`). Every event carries `type` and `sequence_number`; events are forwarded
///   exactly as received, so the caller sees the provider's own numbering (the preamble events held
///   back before the start are forwarded on commit, so a committed attempt's numbers have no gap).
/// - Preamble: the lifecycle events `response.created`, `response.in_progress` and
///   `response.queued`. They describe the response object (status `queued`/`in_progress`, no
///   output); OpenAI sends them when it accepts the request, which on flex may be before capacity
///   is granted (the reference lists this as unconfirmed, and flexsim sends them while queued), so
///   they do not prove that the model is producing anything.
/// - Started: the first *output event*: an event that belongs to an output item, i.e. whose data
///   carries `output_index` or `item_id` (`response.output_item.added` of any item type,
///   including a `reasoning` item, and every `response.output_text.*`, `response.content_part.*`,
///   `response.function_call_arguments.*`, `response.reasoning_*`, built-in tool-call event), or a
///   `*.delta` event (`response.audio.delta` carries neither). In practice it is the first
///   `response.output_item.added`. A reasoning item counts: its tokens are produced (and billed)
///   from then on, so an attempt that emitted one can no longer be abandoned for free, and a
///   reasoning model may think for a long time before its first visible text. Unknown events that
///   belong to no output item are passed through without deciding anything (preamble before the
///   start, content after it).
/// - Terminal: `response.completed`, and `response.incomplete` too: an incomplete response (e.g.
///   `incomplete_details.reason` `max_output_tokens` or `content_filter`) is a legitimate end that
///   the non-streaming API answers with HTTP 200 and `status: "incomplete"`; its partial output and
///   usage are billed. The non-streamed answer is that event's `response` object, as sent (values
///   and field order; re-serialised, so number spelling and string escapes may differ from the
///   provider's bytes). A terminal event can come before any output event (an empty answer): the
///   reader then reports ``EventDisposition/terminal`` without ever reporting
///   ``EventDisposition/started``, and the driver must treat it as started and finished (the
///   provider answered and billed it).
/// - Errors: `response.failed` (`response.error` `{code, message}`) and `error` events (documented
///   with top-level `code`/`message`/`param`; the live API also nests them as
///   `{"error": {"type", "code", "message", "param"}}`, both are read) are ``EventDisposition/error(_:)``,
///   classified by ``UpstreamFailure/classifyStreamError(provider:type:code:message:impliedStatus:flex:)``
///   with the status ``UpstreamFailure/openAIImpliedStatus(type:code:)`` gives: on flex a
///   `resource_unavailable` error is a capacity refusal, `server_error`/`server_is_overloaded` are
///   retryable, `invalid_prompt` and the image errors are the caller's. Data that is not a JSON
///   object is a retryable error. `data: [DONE]` (sent by some OpenAI-compatible servers, not by
///   OpenAI) is internal: never forwarded, not terminal.
/// - Usage: `input_tokens` includes cached reads (`input_tokens_details.cached_tokens`) and cache
///   writes (`input_tokens_details.cache_write_tokens`, GPT-5.6+); `output_tokens` includes
///   `output_tokens_details.reasoning_tokens`.
public struct OpenAIResponsesAdapter: ProviderAdapter {
    public var api: Api { .responses }

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
        return UpstreamRequest(
            path: "/responses",
            headers: OpenAITier.headers(key: key, stream: stream),
            body: NativeBody.encode(body),
            stream: stream
        )
    }

    public func makeStreamReader(for body: JSONObject, tier: Tier, headers: [(String, String)]) -> any StreamReader {
        Reader(flex: tier == .flex)
    }

    public func readResponse(_ body: ByteBuffer, headers: [(String, String)]) throws(RouterError) -> UpstreamResult {
        let json = try NativeBody.parseAnswer(body, api: self.api, keeping: ["service_tier", "usage"])
        return Self.result(of: json)
    }

    /// Usage and served tier of a response object.
    static func result(of response: JSONValue?) -> UpstreamResult {
        let reported = response?["service_tier"]?.string ?? ""
        return UpstreamResult(
            usage: Self.usage(response?["usage"]),
            servedTier: OpenAITier.served(reported),
            servedTierReported: reported
        )
    }

    /// Responses usage → token classes.
    static func usage(_ usage: JSONValue?) -> TokenUsage {
        guard let usage, !usage.isNull else { return TokenUsage() }
        let input = NativeBody.count(usage["input_tokens"])
        let cached = NativeBody.count(usage["input_tokens_details"]?["cached_tokens"])
        let written = NativeBody.count(usage["input_tokens_details"]?["cache_write_tokens"])
        let output = NativeBody.count(usage["output_tokens"])
        let reasoning = NativeBody.count(usage["output_tokens_details"]?["reasoning_tokens"])
        return TokenUsage(
            inputTokens: input.subtractingClamped(cached + written),
            cachedInputTokens: cached,
            cacheWriteTokens: written,
            outputTokens: output,
            reasoningTokens: min(reasoning, output)
        )
    }
}
