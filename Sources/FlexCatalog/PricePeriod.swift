/// The prices of a model's tiers from one date on (until the next period starts).
public struct PricePeriod: Sendable, Hashable {
    /// First UTC day these prices apply; nil for "since the model was listed".
    public var validFrom: CalendarDate?
    public var tiers: [ServiceTier: TokenPrices]

    public init(validFrom: CalendarDate?, tiers: [ServiceTier: TokenPrices]) {
        self.validFrom = validFrom
        self.tiers = tiers
    }
}
