public import FlexCatalog
public import FlexCore

/// Everything that decides how a flexsim instance behaves.
public struct SimConfiguration: Sendable {
    public var catalog: Catalog
    public var profile: Profile
    /// Seeds every simulated choice (content, capacity draws, faults).
    public var seed: UInt64
    /// Every simulated delay is divided by this (10 = ten times faster than real time).
    public var timeScale: Double
    /// Largest accepted request body; larger ones get the provider's 413.
    public var maxBodyBytes: Int
    /// Ledger lines kept in memory.
    public var ledgerCapacity: Int
    /// Prices (and model retirements) as of this day; nil means the current UTC day.
    public var priceDate: CalendarDate?
    /// Accepted keys per provider; a provider without an entry accepts any key with its usual
    /// prefix (`sk-` for OpenAI, `sk-ant-` for Anthropic, `AIza` for Gemini).
    public var apiKeys: [Provider: Set<String>]

    public init(
        catalog: Catalog,
        profile: Profile = .instant,
        seed: UInt64 = 1,
        timeScale: Double = 1,
        maxBodyBytes: Int = 16 << 20,
        ledgerCapacity: Int = 1_000_000,
        priceDate: CalendarDate? = nil,
        apiKeys: [Provider: Set<String>] = [:]
    ) {
        self.catalog = catalog
        self.profile = profile
        self.seed = seed
        self.timeScale = timeScale
        self.maxBodyBytes = maxBodyBytes
        self.ledgerCapacity = ledgerCapacity
        self.priceDate = priceDate
        self.apiKeys = apiKeys
    }

    func accepts(key: String, for provider: Provider) -> Bool {
        if let keys = self.apiKeys[provider] { return keys.contains(key) }
        switch provider {
        case .openAI: return key.hasPrefix("sk-") && !key.hasPrefix("sk-ant-")
        case .anthropic: return key.hasPrefix("sk-ant-")
        case .gemini: return key.hasPrefix("AIza")
        }
    }
}
