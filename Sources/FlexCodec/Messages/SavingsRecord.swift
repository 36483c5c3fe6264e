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

/// What a call cost against what the standard tier would have cost.
///
/// Money is exact: signed 64-bit pico-US-dollars (1 USD = 10^12 picousd). Catalog prices are USD
/// per million tokens with at most six decimals, so token costs are exact in this unit.
public struct SavingsRecord: Sendable, Hashable {
    public var requestID: String
    public var provider: Provider?
    public var api: Api?
    public var model: String
    /// `start_within` exactly as the caller sent it.
    public var startWithin: String
    public var tierRequested: Tier?
    /// The tier the provider reported serving; billing follows it.
    public var tierServed: Tier?
    /// The provider's own word for the served tier.
    public var tierServedReported: String
    public var fellBack: Bool
    public var fallbackReason: FallbackReason?
    public var flexAttempts: UInt32
    /// Time spent on flex before it started or was abandoned, in microseconds.
    public var flexWaitMicroseconds: UInt64
    /// From the call's arrival to the served attempt's start, in microseconds.
    public var timeToStartMicroseconds: UInt64
    public var tokens: TokenUsage
    public var standardCostPicoUSD: Int64
    public var actualCostPicoUSD: Int64
    public var savedPicoUSD: Int64
    public var feePicoUSD: Int64
    /// The catalog date whose prices applied, `YYYY-MM-DD`.
    public var priceDate: String

    /// Pico-US-dollars in one US dollar.
    public static let picoUSDPerUSD: Int64 = 1_000_000_000_000

    public init(
        requestID: String = "",
        provider: Provider? = nil,
        api: Api? = nil,
        model: String = "",
        startWithin: String = "",
        tierRequested: Tier? = nil,
        tierServed: Tier? = nil,
        tierServedReported: String = "",
        fellBack: Bool = false,
        fallbackReason: FallbackReason? = nil,
        flexAttempts: UInt32 = 0,
        flexWaitMicroseconds: UInt64 = 0,
        timeToStartMicroseconds: UInt64 = 0,
        tokens: TokenUsage = TokenUsage(),
        standardCostPicoUSD: Int64 = 0,
        actualCostPicoUSD: Int64 = 0,
        savedPicoUSD: Int64 = 0,
        feePicoUSD: Int64 = 0,
        priceDate: String = ""
    ) {
        self.requestID = requestID
        self.provider = provider
        self.api = api
        self.model = model
        self.startWithin = startWithin
        self.tierRequested = tierRequested
        self.tierServed = tierServed
        self.tierServedReported = tierServedReported
        self.fellBack = fellBack
        self.fallbackReason = fallbackReason
        self.flexAttempts = flexAttempts
        self.flexWaitMicroseconds = flexWaitMicroseconds
        self.timeToStartMicroseconds = timeToStartMicroseconds
        self.tokens = tokens
        self.standardCostPicoUSD = standardCostPicoUSD
        self.actualCostPicoUSD = actualCostPicoUSD
        self.savedPicoUSD = savedPicoUSD
        self.feePicoUSD = feePicoUSD
        self.priceDate = priceDate
    }
}
