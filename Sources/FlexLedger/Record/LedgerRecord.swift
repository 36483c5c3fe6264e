public import FlexCore

/// One billed call in the savings ledger: who asked, what was served, what it cost against the
/// standard tier, what flexd saved and the fee it earned.
///
/// A record is written for every completed call, and for every failed call that cost money (a
/// stream cut after it started is billed by the provider). It never holds a key (provider or
/// tenant), a prompt or any output: only identifiers, tiers, token counts, money and times.
///
/// Identity is (``tenant``, ``requestID``). Writing the same record twice keeps one row; a
/// *different* record under the same identity is a conflict (see ``AppendOutcome``).
///
/// Money is exact: signed 64-bit pico-US-dollars (1 USD = 10^12 picousd), as in
/// `SavingsRecord`. Times are microseconds: durations as measured by flexd, instants since the
/// Unix epoch (UTC).
public struct LedgerRecord: Sendable, Hashable {
    /// The tenant the call was billed to (never its key).
    public var tenant: String
    /// The caller-chosen request id, unique per tenant.
    public var requestID: String
    /// The flexd instance that served the call (several instances can share one PostgreSQL ledger).
    public var instanceID: String

    public var provider: Provider
    public var api: Api
    public var model: String
    /// `start_within` exactly as the caller sent it.
    public var startWithin: String
    public var tierRequested: Tier
    /// The tier the provider reported serving (billing follows it); nil when it reported none and
    /// nothing was served.
    public var tierServed: Tier?
    /// The provider's own word for the served tier.
    public var tierServedReported: String
    public var fellBack: Bool
    public var fallbackReason: FallbackReason?
    public var flexAttempts: UInt32

    /// Time on flex before it started or was abandoned.
    public var flexWaitMicroseconds: UInt64
    /// From the call's arrival to the served attempt's start.
    public var timeToStartMicroseconds: UInt64
    /// From the call's arrival to its end (the last byte of the answer, or the failure).
    public var totalMicroseconds: UInt64

    public var tokens: TokenUsage
    public var standardCostPicoUSD: Int64
    public var actualCostPicoUSD: Int64
    public var savedPicoUSD: Int64
    public var feePicoUSD: Int64
    /// The catalog date whose prices applied, `YYYY-MM-DD`.
    public var priceDate: String

    /// How the call ended.
    public var outcome: LedgerOutcome
    /// When the call arrived, in microseconds since the Unix epoch (UTC).
    public var receivedAtMicroseconds: Int64
    /// When the call ended, in microseconds since the Unix epoch (UTC). Its UTC calendar month is
    /// the record's ``billingMonth``.
    public var completedAtMicroseconds: Int64
    /// How many times the request was re-sent to the tier the call settled on.
    public var retries: UInt32
    /// The token counts are flexd's own, because the provider's usage never arrived.
    public var tokensEstimated: Bool

    public init(
        tenant: String,
        requestID: String,
        instanceID: String,
        provider: Provider,
        api: Api,
        model: String,
        startWithin: String,
        tierRequested: Tier,
        tierServed: Tier?,
        tierServedReported: String = "",
        fellBack: Bool = false,
        fallbackReason: FallbackReason? = nil,
        flexAttempts: UInt32 = 0,
        flexWaitMicroseconds: UInt64 = 0,
        timeToStartMicroseconds: UInt64 = 0,
        totalMicroseconds: UInt64 = 0,
        tokens: TokenUsage = TokenUsage(),
        standardCostPicoUSD: Int64 = 0,
        actualCostPicoUSD: Int64 = 0,
        savedPicoUSD: Int64 = 0,
        feePicoUSD: Int64 = 0,
        priceDate: String = "",
        outcome: LedgerOutcome = .completed,
        receivedAtMicroseconds: Int64,
        completedAtMicroseconds: Int64,
        retries: UInt32 = 0,
        tokensEstimated: Bool = false
    ) {
        self.tenant = tenant
        self.requestID = requestID
        self.instanceID = instanceID
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
        self.totalMicroseconds = totalMicroseconds
        self.tokens = tokens
        self.standardCostPicoUSD = standardCostPicoUSD
        self.actualCostPicoUSD = actualCostPicoUSD
        self.savedPicoUSD = savedPicoUSD
        self.feePicoUSD = feePicoUSD
        self.priceDate = priceDate
        self.outcome = outcome
        self.receivedAtMicroseconds = receivedAtMicroseconds
        self.completedAtMicroseconds = completedAtMicroseconds
        self.retries = retries
        self.tokensEstimated = tokensEstimated
    }

    /// The UTC calendar month the record is billed in (that of ``completedAtMicroseconds``).
    public var billingMonth: BillingMonth { BillingMonth(microsecondsSinceEpoch: self.completedAtMicroseconds) }
}
