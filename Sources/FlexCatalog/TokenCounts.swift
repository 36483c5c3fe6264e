/// Tokens of one request, split into the classes that are priced differently.
///
/// The classes do not overlap: ``input`` is uncached, non-cache-write input only. Reasoning tokens
/// are billed at the output price; they are counted apart from ``output`` so that a record can
/// show them, and ``billedOutput`` adds them back. Each provider reports these differently
/// (OpenAI's `prompt_tokens` includes cached tokens; Anthropic's `input_tokens` excludes cache
/// reads and writes); converting is the caller's job.
public struct TokenCounts: Sendable, Hashable, Codable {
    public var input: Int
    public var cachedInput: Int
    /// Cache writes (Anthropic: 5-minute writes; OpenAI GPT-5.6+: `cache_write_tokens`).
    public var cacheWrite: Int
    /// Anthropic 1-hour cache writes, priced apart from 5-minute ones. Zero elsewhere.
    public var cacheWrite1h: Int
    /// Visible output, without reasoning.
    public var output: Int
    /// Reasoning ("thinking") tokens, billed as output.
    public var reasoning: Int

    public init(input: Int = 0, cachedInput: Int = 0, cacheWrite: Int = 0, cacheWrite1h: Int = 0,
                output: Int = 0, reasoning: Int = 0) {
        self.input = input
        self.cachedInput = cachedInput
        self.cacheWrite = cacheWrite
        self.cacheWrite1h = cacheWrite1h
        self.output = output
        self.reasoning = reasoning
    }

    public static let zero = TokenCounts()

    /// Every input token, however it is priced: what long-context thresholds compare against.
    public var totalInput: Int { self.input + self.cachedInput + self.cacheWrite + self.cacheWrite1h }

    /// Output plus reasoning: the tokens billed at the output price.
    public var billedOutput: Int { self.output + self.reasoning }

    enum CodingKeys: String, CodingKey {
        case input
        case cachedInput = "cached_input"
        case cacheWrite = "cache_write"
        case cacheWrite1h = "cache_write_1h"
        case output
        case reasoning
    }
}
