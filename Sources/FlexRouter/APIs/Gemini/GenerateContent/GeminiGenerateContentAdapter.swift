public import FlexCore
public import FlexJSON
public import NIOCore

/// Gemini generateContent (`POST /models/{model}:generateContent`) and its streamed twin
/// (`POST /models/{model}:streamGenerateContent?alt=sse`).
///
/// - Model: in the path, never in the body. A body `model` equal to the call's (with or without the
///   `models/` prefix) is removed; a different one is `model_mismatch`. A model id may hold only
///   letters, digits, `.`, `-` and `_`, so it cannot change the path.
/// - Tier field: top-level `serviceTier`: `flex`, `standard`, `priority`; any `serviceTier` or
///   `service_tier` the caller sent is replaced. The REST name is UNCONFIRMED in the reference;
///   this is what the google-genai SDK sends and what flexsim reads. Gemini has no auto tier
///   (`auto_unsupported_for_gemini`). Served tier: `usageMetadata.serviceTier` (or Vertex's
///   `usageMetadata.trafficType`) when the body has one, else the `x-gemini-service-tier` header.
/// - Streaming is chosen by the endpoint, not by a body field: the caller's body cannot ask for it
///   (a streaming caller uses the `Stream` RPC).
/// - Started: the first chunk with a candidate part that carries output: non-empty text (thought
///   summaries included: thinking is output), a function call, inline data, code, ... A part with
///   only an empty text and a thought signature is not output.
/// - Terminal: SSE has no end marker, so the answer is complete at the chunk in which every
///   candidate has a `finishReason` (any value: `STOP`, `MAX_TOKENS`, `SAFETY`, ...), or which
///   carries `promptFeedback.blockReason` (the prompt was blocked: no candidate will follow). That
///   chunk also carries the final, cumulative `usageMetadata`. A stream that ends before such a
///   chunk was cut. Chunks after it (none are expected) are read as content, usage included.
/// - Errors in the stream: a chunk `{"error": {...}}` (`GeminiStreamError`): 503 on flex before
///   the start is a capacity refusal.
/// - Usage: `promptTokenCount` includes `cachedContentTokenCount`; `toolUsePromptTokenCount` is
///   apart from it and billed as input; `candidatesTokenCount` excludes `thoughtsTokenCount`, and
///   output is their sum.
/// - The streamed answer is reassembled as the unstreamed `GenerateContentResponse`: one candidate
///   per `index` whose parts are the chunks' parts in order, consecutive text parts of the same
///   kind (thought or not) merged into one and empty text parts dropped; the candidate's other
///   fields and the top-level fields from the latest chunk that had them; fields in Gemini's order
///   (`candidates`, `promptFeedback`, `usageMetadata`, `modelVersion`, `responseId`).
public struct GeminiGenerateContentAdapter: ProviderAdapter {
    public var api: Api { .generateContent }

    public init() {}

    public func makeRequest(
        body: JSONObject,
        model: String,
        tier: Tier,
        stream: Bool,
        key: Secret
    ) throws(RouterError) -> UpstreamRequest {
        let id = try Self.modelID(model, body: body)
        var body = body
        body["model"] = nil
        body["service_tier"] = nil
        body["serviceTier"] = .string(try GeminiTier.wireValue(tier, model: id))
        let method = stream ? "streamGenerateContent?alt=sse" : "generateContent"
        return UpstreamRequest(
            path: "/models/\(id):\(method)",
            headers: GeminiTier.headers(key: key, stream: stream),
            body: NativeBody.encode(body),
            stream: stream
        )
    }

    public func makeStreamReader(for body: JSONObject, tier: Tier, headers: [(String, String)]) -> any StreamReader {
        Reader(flex: tier == .flex, headerTier: GeminiTier.header(headers))
    }

    public func readResponse(_ body: ByteBuffer, headers: [(String, String)]) throws(RouterError) -> UpstreamResult {
        let json = try NativeBody.parseAnswer(body, api: self.api, keeping: ["usageMetadata"])
        return Self.result(usageMetadata: json["usageMetadata"]?.object ?? [:], headerTier: GeminiTier.header(headers))
    }

    /// The model id for the path: the call's model (without a `models/` prefix), checked against the
    /// body's own `model` if it has one.
    static func modelID(_ model: String, body: JSONObject) throws(RouterError) -> String {
        let id = model.hasPrefix("models/") ? String(model.dropFirst("models/".count)) : model
        let allowed = id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default:
                false
            }
        }
        guard !id.isEmpty, id.utf8.count <= 128, allowed else {
            throw RouterError(
                .invalidModel,
                "a Gemini model id may contain only letters, digits, '.', '-' and '_' (e.g. gemini-2.5-flash)",
                details: ["field": "model"]
            )
        }
        switch body["model"] {
        case nil, .null?:
            break
        case .string(let own)?:
            let ownID = own.hasPrefix("models/") ? String(own.dropFirst("models/".count)) : own
            guard ownID == id else {
                throw RouterError(
                    .modelMismatch,
                    "the call names model \(id) but its generate_content body names \(own.prefix(128)); send one model",
                    details: ["field": "model"]
                )
            }
        default:
            throw RouterError(.invalidRequestBody, "the body's model must be a string", details: ["field": "model"])
        }
        return id
    }

    static func result(usageMetadata: JSONObject, headerTier: String) -> UpstreamResult {
        let bodyWord = usageMetadata["serviceTier"]?.string ?? usageMetadata["trafficType"]?.string ?? ""
        return GeminiTier.result(usage: Self.usage(usageMetadata), bodyWord: bodyWord, headerWord: headerTier)
    }

    /// `usageMetadata` → token classes.
    static func usage(_ usage: JSONObject) -> TokenUsage {
        let prompt = NativeBody.count(usage["promptTokenCount"])
        let cached = NativeBody.count(usage["cachedContentTokenCount"])
        let toolPrompt = NativeBody.count(usage["toolUsePromptTokenCount"])
        let candidates = NativeBody.count(usage["candidatesTokenCount"])
        let thoughts = NativeBody.count(usage["thoughtsTokenCount"])
        return TokenUsage(
            inputTokens: prompt.subtractingClamped(cached).addingClamped(toolPrompt),
            cachedInputTokens: min(cached, prompt),
            outputTokens: candidates.addingClamped(thoughts),
            reasoningTokens: thoughts
        )
    }
}
