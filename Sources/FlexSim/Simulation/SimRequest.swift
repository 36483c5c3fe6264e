internal import FlexCatalog
internal import FlexCore
internal import FlexJSON

/// A validated provider request, reduced to what the simulation needs. Each API's parser builds
/// one; the generator, the capacity model and the billing work only from this.
struct SimRequest {
    var api: Api
    var model: ModelEntry
    /// The model id as the caller wrote it (an alias such as `gpt-5-2025-08-07` is echoed back).
    var requestedModel = ""
    /// The tier field as sent (provider spelling), nil when absent.
    var tierAsked: String?
    /// The tier asked for, provider-neutral, after resolving `auto`/`standard_only`/absent.
    var tier: Tier
    var stream: Bool
    /// OpenAI Chat `stream_options.include_usage`.
    var includeUsage = false
    /// Input tokens by class (uncached input, cached, cache writes).
    var input = TokenUsage()
    var imageTokens = 0
    var tools: [ToolSpec] = []
    var toolChoice: ToolChoice = .auto
    var parallelToolCalls = true
    /// The conversation ends with a tool result: answer in text.
    var lastTurnIsToolResult = false
    /// Structured output: the JSON schema to honour.
    var responseSchema: JSONValue?
    /// JSON mode without a schema.
    var jsonObject = false
    var maxOutputTokens: Int?
    /// Reasoning tokens to produce (0 for none).
    var reasoningTokens = 0
    /// Whether thinking text is returned (Anthropic thinking, Gemini includeThoughts).
    var visibleThinking = false
    /// Fingerprint of the body: seeds the generator.
    var contentHash: UInt64 = 0
    /// Exact number of output tokens from `x-flexsim-output-tokens`.
    var forcedOutputTokens: Int?
    /// Echoed fields (Responses echoes instructions, temperature, ...).
    var echo = JSONObject()
}

struct ToolSpec {
    var name: String
    var parameters: JSONValue?
}

enum ToolChoice: Equatable {
    case auto
    case none
    case required
    case named(String)
}
