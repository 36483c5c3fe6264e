/// What a call cost against what the standard tier would have cost.
///
/// Money is exact: signed 64-bit pico-US-dollars (1 USD = 10^12 picousd). Catalog prices are USD
/// per million tokens with at most six decimals, so token costs are exact in this unit.
public struct SavingsRecord: Sendable, Hashable {
    // The fields live in one copy-on-write box: a record is 8 bytes wherever it is held or passed,
    // instead of 200, and the async functions a waiting call sits in keep room for the record
    // they will return. Reading costs a pointer hop; a write copies the box only if it is shared.
    private var storage: Storage

    private struct Fields: Hashable, Sendable {
        var requestID: String
        var provider: Provider?
        var api: Api?
        var model: String
        var startWithin: String
        var tierRequested: Tier?
        var tierServed: Tier?
        var tierServedReported: String
        var fellBack: Bool
        var fallbackReason: FallbackReason?
        var flexAttempts: UInt32
        var flexWaitMicroseconds: UInt64
        var timeToStartMicroseconds: UInt64
        var tokens: TokenUsage
        var standardCostPicoUSD: Int64
        var actualCostPicoUSD: Int64
        var savedPicoUSD: Int64
        var feePicoUSD: Int64
        var priceDate: String
        var retries: UInt32
        var tokensEstimated: Bool
    }

    /// `@unchecked`: its one mutable field is written only through ``uniqueStorage()``, that is
    /// when no other record shares the box.
    private final class Storage: @unchecked Sendable {
        var fields: Fields

        init(_ fields: Fields) {
            self.fields = fields
        }
    }

    private mutating func uniqueStorage() -> Storage {
        if !isKnownUniquelyReferenced(&self.storage) {
            self.storage = Storage(self.storage.fields)
        }
        return self.storage
    }

    public var requestID: String {
        get { self.storage.fields.requestID }
        set { self.uniqueStorage().fields.requestID = newValue }
    }

    public var provider: Provider? {
        get { self.storage.fields.provider }
        set { self.uniqueStorage().fields.provider = newValue }
    }

    public var api: Api? {
        get { self.storage.fields.api }
        set { self.uniqueStorage().fields.api = newValue }
    }

    public var model: String {
        get { self.storage.fields.model }
        set { self.uniqueStorage().fields.model = newValue }
    }

    /// `start_within` exactly as the caller sent it.
    public var startWithin: String {
        get { self.storage.fields.startWithin }
        set { self.uniqueStorage().fields.startWithin = newValue }
    }

    public var tierRequested: Tier? {
        get { self.storage.fields.tierRequested }
        set { self.uniqueStorage().fields.tierRequested = newValue }
    }

    /// The tier the provider reported serving; billing follows it.
    public var tierServed: Tier? {
        get { self.storage.fields.tierServed }
        set { self.uniqueStorage().fields.tierServed = newValue }
    }

    /// The provider's own word for the served tier.
    public var tierServedReported: String {
        get { self.storage.fields.tierServedReported }
        set { self.uniqueStorage().fields.tierServedReported = newValue }
    }

    public var fellBack: Bool {
        get { self.storage.fields.fellBack }
        set { self.uniqueStorage().fields.fellBack = newValue }
    }

    public var fallbackReason: FallbackReason? {
        get { self.storage.fields.fallbackReason }
        set { self.uniqueStorage().fields.fallbackReason = newValue }
    }

    public var flexAttempts: UInt32 {
        get { self.storage.fields.flexAttempts }
        set { self.uniqueStorage().fields.flexAttempts = newValue }
    }

    /// Time spent on flex before it started or was abandoned, in microseconds.
    public var flexWaitMicroseconds: UInt64 {
        get { self.storage.fields.flexWaitMicroseconds }
        set { self.uniqueStorage().fields.flexWaitMicroseconds = newValue }
    }

    /// From the call's arrival to the served attempt's start, in microseconds.
    public var timeToStartMicroseconds: UInt64 {
        get { self.storage.fields.timeToStartMicroseconds }
        set { self.uniqueStorage().fields.timeToStartMicroseconds = newValue }
    }

    public var tokens: TokenUsage {
        get { self.storage.fields.tokens }
        set { self.uniqueStorage().fields.tokens = newValue }
    }

    public var standardCostPicoUSD: Int64 {
        get { self.storage.fields.standardCostPicoUSD }
        set { self.uniqueStorage().fields.standardCostPicoUSD = newValue }
    }

    public var actualCostPicoUSD: Int64 {
        get { self.storage.fields.actualCostPicoUSD }
        set { self.uniqueStorage().fields.actualCostPicoUSD = newValue }
    }

    public var savedPicoUSD: Int64 {
        get { self.storage.fields.savedPicoUSD }
        set { self.uniqueStorage().fields.savedPicoUSD = newValue }
    }

    public var feePicoUSD: Int64 {
        get { self.storage.fields.feePicoUSD }
        set { self.uniqueStorage().fields.feePicoUSD = newValue }
    }

    /// The catalog date whose prices applied, `YYYY-MM-DD`.
    public var priceDate: String {
        get { self.storage.fields.priceDate }
        set { self.uniqueStorage().fields.priceDate = newValue }
    }

    /// How many times the request was re-sent to the tier the call settled on (the retry option).
    public var retries: UInt32 {
        get { self.storage.fields.retries }
        set { self.uniqueStorage().fields.retries = newValue }
    }

    /// True when ``tokens`` is flexd's own count, because the provider's usage never arrived (a
    /// stream cut after the start, a call stopped after the start by its deadline or a CANCEL).
    public var tokensEstimated: Bool {
        get { self.storage.fields.tokensEstimated }
        set { self.uniqueStorage().fields.tokensEstimated = newValue }
    }

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
        priceDate: String = "",
        retries: UInt32 = 0,
        tokensEstimated: Bool = false
    ) {
        self.storage = Storage(
            Fields(
                requestID: requestID,
                provider: provider,
                api: api,
                model: model,
                startWithin: startWithin,
                tierRequested: tierRequested,
                tierServed: tierServed,
                tierServedReported: tierServedReported,
                fellBack: fellBack,
                fallbackReason: fallbackReason,
                flexAttempts: flexAttempts,
                flexWaitMicroseconds: flexWaitMicroseconds,
                timeToStartMicroseconds: timeToStartMicroseconds,
                tokens: tokens,
                standardCostPicoUSD: standardCostPicoUSD,
                actualCostPicoUSD: actualCostPicoUSD,
                savedPicoUSD: savedPicoUSD,
                feePicoUSD: feePicoUSD,
                priceDate: priceDate,
                retries: retries,
                tokensEstimated: tokensEstimated
            )
        )
    }
}

extension SavingsRecord {
    public static func == (lhs: SavingsRecord, rhs: SavingsRecord) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    public func hash(into hasher: inout Hasher) {
        self.storage.fields.hash(into: &hasher)
    }
}
