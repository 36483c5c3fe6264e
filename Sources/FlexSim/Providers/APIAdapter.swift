internal import FlexCatalog
internal import FlexCore
internal import FlexJSON
internal import NIOCore

/// What an API adapter needs to render a response: ids, the served tier and final usage.
struct RenderContext {
    var requestID: String
    /// The body's id (`chatcmpl-...`, `resp_...`, `msg_...`, responseId, interaction id).
    var responseID: String
    var createdAt: Int64
    var model: String
    var servedTier: Tier
    /// The provider's spelling of the served tier.
    var servedTierWire: String
    /// Input classes plus output and reasoning, as the response reports them.
    var usage: TokenUsage
    var ids: IDSource
    /// The price date (for rules such as which models report cache writes).
    var date: CalendarDate
}

/// A stream, split by when each part may be sent.
struct StreamPlan {
    /// Events that carry no output (`response.created`, a role-only chunk, ...): sent while the
    /// request is still queued, or at start, as the profile says.
    var preamble: [ByteBuffer] = []
    /// Output events, each with the output tokens it carries (the first also carries reasoning).
    var body: [(bytes: ByteBuffer, tokens: Int)] = []
    /// The events after the last output (usage, completion, `[DONE]`).
    var terminal: [ByteBuffer] = []
    /// For the `stream_error` faults: what replaces the output (before it, or halfway).
    var errorBeforeOutput: [ByteBuffer] = []
    var errorMidStream: [ByteBuffer] = []
}

/// One provider API: strict request validation and response rendering, no I/O.
protocol APIAdapter: Sendable {
    var api: Api { get }
    /// Validates `body` and reduces it to a ``SimRequest``. `model` comes from the URL for Gemini.
    func parse(
        _ body: JSONValue,
        urlModel: String?,
        stream: Bool,
        context: ParseContext
    ) throws(ProviderError) -> SimRequest
    func responseBody(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> JSONValue
    func stream(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> StreamPlan
    /// The API's in-stream error (an overload), as the events that end such a stream;
    /// `sequence` is the next sequence number where the API numbers its events.
    func streamError(sequence: Int, request: SimRequest, context: inout RenderContext) -> [ByteBuffer]
    /// The prefix for the response id (`chatcmpl-`, `resp_`, ...).
    func responseID(_ ids: inout IDSource) -> String
}

/// What parsing needs besides the body.
struct ParseContext {
    var catalog: Catalog
    var cache: PromptCache
    var seed: UInt64
    var contentHash: UInt64
    var forcedOutputTokens: Int?
    var date: CalendarDate
    /// Gemini's API version from the path (`v1beta`, `v1`), for the errors that name it.
    var apiVersion = ""
}

enum SSE {
    /// `event: NAME\ndata: JSON\n\n` (or data only when `event` is nil).
    static func event(_ name: String?, _ data: JSONValue, lineEnd: String = "\n") -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(256)
        if let name {
            buffer.writeStaticString("event: ")
            buffer.writeString(name)
            buffer.writeString(lineEnd)
        }
        buffer.writeStaticString("data: ")
        data.write(into: &buffer)
        buffer.writeString(lineEnd)
        buffer.writeString(lineEnd)
        return buffer
    }

    static func raw(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
}

extension SimRequest {
    /// Looks the model up and resolves the tier field. Errors: the provider's 404 for an unknown
    /// model, its 400 for a tier the model does not offer.
    static func resolveModel(_ id: String, api: Api, context: ParseContext) throws(ProviderError) -> ModelEntry {
        guard let model = context.catalog.model(api.provider, id), model.isServed(on: context.date) else {
            throw .modelNotFound(api, model: id, apiVersion: context.apiVersion)
        }
        return model
    }
}

/// Provider-agnostic prompt-cache accounting for implicit caching (OpenAI, Gemini): a repeated
/// prefix of at least 1024 tokens is read from the cache in 128-token blocks; its first sighting
/// is a cache write where the model prices writes above plain input (OpenAI GPT-5.6+).
enum CacheAccounting {
    static func implicit(
        total: Int,
        prefixTokens: Int,
        prefixKey: @autoclosure () -> UInt64,
        model: ModelEntry,
        context: ParseContext,
        reportsWrites: Bool
    ) -> TokenUsage {
        var counts = TokenUsage(inputTokens: UInt64(total))
        guard prefixTokens >= 1024 else { return counts }
        let cacheable = UInt64(min(total, prefixTokens / 128 * 128))
        if context.cache.lookupAndInsert(prefixKey()) {
            counts.cachedInputTokens = cacheable
            counts.inputTokens -= cacheable
        } else if reportsWrites, let prices = model.period(on: context.date)?.tiers[.standard],
            prices.cacheWrite > prices.input
        {
            counts.cacheWriteTokens = cacheable
            counts.inputTokens -= cacheable
        }
        return counts
    }

    static func key(_ parts: [JSONValue], model: String, seed: UInt64) -> UInt64 {
        var hash = SimRandom.hash(model)
        for part in parts { hash = SimRandom.hash(part.jsonString.utf8, into: hash) }
        return hash ^ seed
    }
}
