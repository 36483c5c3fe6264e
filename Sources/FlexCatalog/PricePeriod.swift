public import FlexCore

/// The prices of a model's tiers from one date on (until the next period starts).
public struct PricePeriod: Sendable, Hashable {
    /// First UTC day these prices apply; nil for "since the model was listed".
    public var validFrom: CalendarDate?
    public var tiers: [Tier: TokenPrices]

    public init(validFrom: CalendarDate?, tiers: [Tier: TokenPrices]) {
        self.validFrom = validFrom
        self.tiers = tiers
    }
}
