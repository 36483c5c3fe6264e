public import FlexCore

/// One model of one provider: its tiers, prices over time and pricing rules.
public struct ModelEntry: Sendable, Hashable {
    public var provider: Provider
    public var id: String
    /// Other ids that name this model (dated snapshots such as `gpt-5-2025-08-07`).
    public var aliases: [String]
    /// Whether a flex race may be run on this model (the catalog's word, checked against the prices:
    /// a flex-capable model offers flex in every period).
    public var flexCapable: Bool
    /// Whether the model produces reasoning tokens (used by the simulator).
    public var reasoning: Bool
    /// The first day the provider no longer serves the model, where it has announced one.
    public var retiresOn: CalendarDate?
    public var longContext: LongContextRule?
    /// Sorted by date; the first may have no start date.
    public var periods: [PricePeriod]
    public var notes: String?

    public init(
        provider: Provider,
        id: String,
        aliases: [String] = [],
        flexCapable: Bool,
        reasoning: Bool = false,
        retiresOn: CalendarDate? = nil,
        longContext: LongContextRule? = nil,
        periods: [PricePeriod],
        notes: String? = nil
    ) {
        self.provider = provider
        self.id = id
        self.aliases = aliases
        self.flexCapable = flexCapable
        self.reasoning = reasoning
        self.retiresOn = retiresOn
        self.longContext = longContext
        self.periods = periods
        self.notes = notes
    }

    /// Whether the model is still served on `date`.
    public func isServed(on date: CalendarDate) -> Bool {
        guard let retiresOn = self.retiresOn else { return true }
        return date < retiresOn
    }

    /// The period in force on `date`, or nil before the first dated period when none is open-ended.
    public func period(on date: CalendarDate) -> PricePeriod? {
        var current: PricePeriod?
        for period in self.periods {
            if let from = period.validFrom, from > date { break }
            current = period
        }
        return current
    }

    /// The tiers offered on `date`.
    public func tiers(on date: CalendarDate) -> Set<Tier> {
        Set(self.period(on: date)?.tiers.keys.map { $0 } ?? [])
    }

    /// Whether `tier` is offered on `date`.
    public func offers(_ tier: Tier, on date: CalendarDate) -> Bool {
        self.period(on: date)?.tiers[tier] != nil
    }

    /// The prices that apply on `date` for `tier`, with the long-context rule applied when
    /// `totalInputTokens` is above its threshold.
    public func prices(
        tier: Tier,
        on date: CalendarDate,
        totalInputTokens: Int
    ) throws(CatalogError) -> (TokenPrices, longContext: Bool) {
        guard let period = self.period(on: date) else {
            throw .noPriceOnDate(provider: self.provider, model: self.id, date: date)
        }
        guard let base = period.tiers[tier] else {
            throw .tierNotOffered(provider: self.provider, model: self.id, tier: tier)
        }
        if let rule = self.longContext, totalInputTokens > rule.aboveInputTokens {
            guard let scaled = rule.apply(to: base) else {
                throw .invalid("\(self.provider)/\(self.id): long-context price is not a whole micro-USD")
            }
            return (scaled, true)
        }
        return (base, false)
    }
}
