/// Tokens by billing class. The classes do not overlap, except that ``reasoningTokens`` is the
/// reasoning share of ``outputTokens``.
public struct TokenUsage: Sendable, Hashable {
    /// Input billed at the plain input rate: excludes cached reads and cache writes.
    public var inputTokens: UInt64
    /// Input read from the provider's prompt cache.
    public var cachedInputTokens: UInt64
    /// Input written to the provider's prompt cache (the standard, shortest cache lifetime).
    public var cacheWriteTokens: UInt64
    /// Input written to a longer-lived prompt cache, priced apart (Anthropic's 1-hour cache writes).
    public var cacheWrite1hTokens: UInt64
    /// All output tokens, reasoning included.
    public var outputTokens: UInt64
    /// The reasoning share of ``outputTokens``.
    public var reasoningTokens: UInt64

    public init(
        inputTokens: UInt64 = 0,
        cachedInputTokens: UInt64 = 0,
        cacheWriteTokens: UInt64 = 0,
        outputTokens: UInt64 = 0,
        reasoningTokens: UInt64 = 0,
        cacheWrite1hTokens: UInt64 = 0
    ) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.cacheWrite1hTokens = cacheWrite1hTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
    }

    /// All input: plain, cached reads and both kinds of cache writes (what long-context pricing
    /// rules look at). Saturates at `UInt64.max` rather than trapping on absurd counts.
    public var totalInputTokens: UInt64 {
        Self.saturatingSum([self.inputTokens, self.cachedInputTokens, self.cacheWriteTokens, self.cacheWrite1hTokens])
    }

    /// Every token the call consumed or produced (reasoning is inside output). Saturates.
    public var totalTokens: UInt64 { Self.saturatingSum([self.totalInputTokens, self.outputTokens]) }

    private static func saturatingSum(_ values: [UInt64]) -> UInt64 {
        var total: UInt64 = 0
        for value in values {
            let (sum, overflow) = total.addingReportingOverflow(value)
            if overflow { return .max }
            total = sum
        }
        return total
    }
}
