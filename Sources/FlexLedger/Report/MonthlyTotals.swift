/// One tenant's month in the fee report: the sums of its records, to the picousd.
public struct MonthlyTotals: Sendable, Hashable {
    /// flexd bills a tenant's month only when the fee reaches this: 20 USD.
    public static let billingThreshold = PicoUSDAmount.usd(20)

    public var tenant: String
    public var month: BillingMonth
    /// Recorded calls (completed, and failed ones that cost money).
    public var requests: Int64
    /// Of those, calls that failed after costing money.
    public var failedRequests: Int64
    /// Calls the provider served on flex.
    public var flexServed: Int64
    /// Calls that tried flex and fell back to standard.
    public var fellBack: Int64
    public var tokens: TokenTotals
    /// What the calls would have cost on the standard tier.
    public var standardCost: PicoUSDAmount
    /// What the provider billed for them.
    public var actualCost: PicoUSDAmount
    public var saved: PicoUSDAmount
    /// flexd's fee: 20% of what flex saved.
    public var fee: PicoUSDAmount
    /// Records that conflicted with a stored record of the same request id (set apart, not summed).
    public var conflicts: Int64

    public init(
        tenant: String,
        month: BillingMonth,
        requests: Int64 = 0,
        failedRequests: Int64 = 0,
        flexServed: Int64 = 0,
        fellBack: Int64 = 0,
        tokens: TokenTotals = TokenTotals(),
        standardCost: PicoUSDAmount = .zero,
        actualCost: PicoUSDAmount = .zero,
        saved: PicoUSDAmount = .zero,
        fee: PicoUSDAmount = .zero,
        conflicts: Int64 = 0
    ) {
        self.tenant = tenant
        self.month = month
        self.requests = requests
        self.failedRequests = failedRequests
        self.flexServed = flexServed
        self.fellBack = fellBack
        self.tokens = tokens
        self.standardCost = standardCost
        self.actualCost = actualCost
        self.saved = saved
        self.fee = fee
        self.conflicts = conflicts
    }

    /// Whether the month's fee reaches ``billingThreshold`` (20 USD or more): only then is it billed.
    public var feeReachesThreshold: Bool { self.fee >= Self.billingThreshold }
}

/// Token sums by class (128-bit: a month of a big tenant can pass 2^63 in no class, but sums are
/// exact whatever they are).
public struct TokenTotals: Sendable, Hashable {
    public var input: Int128 = 0
    public var cachedInput: Int128 = 0
    public var cacheWrite: Int128 = 0
    public var cacheWrite1h: Int128 = 0
    /// Output, reasoning included.
    public var output: Int128 = 0
    /// The reasoning share of ``output``.
    public var reasoning: Int128 = 0

    public init(
        input: Int128 = 0,
        cachedInput: Int128 = 0,
        cacheWrite: Int128 = 0,
        cacheWrite1h: Int128 = 0,
        output: Int128 = 0,
        reasoning: Int128 = 0
    ) {
        self.input = input
        self.cachedInput = cachedInput
        self.cacheWrite = cacheWrite
        self.cacheWrite1h = cacheWrite1h
        self.output = output
        self.reasoning = reasoning
    }

    /// Every token: all input classes plus output (reasoning is inside output).
    public var total: Int128 { self.input + self.cachedInput + self.cacheWrite + self.cacheWrite1h + self.output }
}
