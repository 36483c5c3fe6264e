public import FlexCatalog
public import FlexCore

/// Prices a finished call and fills its savings record (brief, section 2).
///
/// - The **standard cost** is the call's tokens at the model's standard prices on the call's date.
/// - The **actual cost** is the same tokens at the prices of the tier the provider *reported*
///   serving (not the tier asked for). When the provider reports nothing, the tier the committed
///   attempt asked for is used.
/// - **saved** = standard − actual when positive, else 0; the **fee** is 20% of saved (rounded
///   down to a whole picousd) on calls served by flex, 0 otherwise. Neither is ever negative.
/// - Money is exact: Int64 pico-USD, from integer micro-USD-per-million prices.
public struct SavingsCalculator: Sendable {
    public let catalog: Catalog

    /// flexd's share of what it saved, in percent.
    public static let feePercent: Int64 = 20

    public init(catalog: Catalog) {
        self.catalog = catalog
    }

    /// The model's catalog entry, or `unknown_model` (flexd fails closed: it never routes a call it
    /// cannot price).
    public func model(_ provider: Provider, _ model: String) throws(RouterError) -> ModelEntry {
        guard let entry = self.catalog.model(provider, model) else {
            throw RouterError(
                .unknownModel,
                "flexd's model catalog does not list \(provider.name) model \(model); use a listed model or add it with a catalog override file",
                details: ["field": "model", "provider": provider.name, "model": model]
            )
        }
        return entry
    }

    /// Fills the money fields (and the served tier) of `record`.
    ///
    /// - Parameters:
    ///   - record: The record with identity, timing and routing fields already set.
    ///   - model: The catalog entry.
    ///   - result: What the provider reported (usage, served tier).
    ///   - attemptTier: The tier the committed attempt asked for (used when nothing was reported).
    ///   - date: The day whose prices apply (UTC).
    public func price(
        _ record: SavingsRecord,
        model: ModelEntry,
        result: UpstreamResult,
        attemptTier: Tier,
        on date: CalendarDate
    ) throws(RouterError) -> SavingsRecord {
        var record = record
        let served = result.servedTier ?? (attemptTier == .auto ? .standard : attemptTier)
        record.tierServed = served
        record.tierServedReported = result.servedTierReported
        record.tokens = result.usage
        record.priceDate = date.description
        let standard = try self.cost(model, .standard, result.usage, date)
        let actual = try self.cost(model, served, result.usage, date)
        record.standardCostPicoUSD = standard
        record.actualCostPicoUSD = actual
        record.savedPicoUSD = max(0, standard - actual)
        record.feePicoUSD = served == .flex ? record.savedPicoUSD * Self.feePercent / 100 : 0
        return record
    }

    private func cost(
        _ model: ModelEntry,
        _ tier: Tier,
        _ usage: TokenUsage,
        _ date: CalendarDate
    ) throws(RouterError) -> Int64 {
        do {
            return try model.cost(tier: tier, tokens: usage, on: date).total.rawValue
        } catch {
            throw RouterError(
                .pricingFailed,
                "flexd could not price \(model.provider.name) \(model.id) on the \(tier.name) tier for \(date): \(error)"
            )
        }
    }
}
