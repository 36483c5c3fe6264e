/// A provider's long-context pricing: when a request's total input is above a threshold, every
/// token of that request is priced at the base price times a per-class multiplier.
///
/// Multipliers are in permille (2000 = x2, 1500 = x1.5) so that the catalog stays integral; the
/// loader rejects a rule whose multiplied price would not be a whole micro-USD.
public struct LongContextRule: Sendable, Hashable {
    /// Long-context pricing applies when total input tokens are strictly greater than this.
    public var aboveInputTokens: Int
    public var inputPermille: Int64
    public var cachedInputPermille: Int64
    public var cacheWritePermille: Int64
    public var cacheWrite1hPermille: Int64
    public var outputPermille: Int64

    public init(
        aboveInputTokens: Int,
        inputPermille: Int64,
        cachedInputPermille: Int64,
        cacheWritePermille: Int64,
        cacheWrite1hPermille: Int64? = nil,
        outputPermille: Int64
    ) {
        self.aboveInputTokens = aboveInputTokens
        self.inputPermille = inputPermille
        self.cachedInputPermille = cachedInputPermille
        self.cacheWritePermille = cacheWritePermille
        self.cacheWrite1hPermille = cacheWrite1hPermille ?? cacheWritePermille
        self.outputPermille = outputPermille
    }

    /// `prices` with the multipliers applied, or nil if one is not a whole micro-USD.
    public func apply(to prices: TokenPrices) -> TokenPrices? {
        func scale(_ price: Int64, _ permille: Int64) -> Int64? {
            let product = price * permille
            return product % 1000 == 0 ? product / 1000 : nil
        }
        guard let input = scale(prices.input, self.inputPermille),
            let cached = scale(prices.cachedInput, self.cachedInputPermille),
            let write = scale(prices.cacheWrite, self.cacheWritePermille),
            let write1h = scale(prices.cacheWrite1h, self.cacheWrite1hPermille),
            let output = scale(prices.output, self.outputPermille)
        else { return nil }
        return TokenPrices(input: input, cachedInput: cached, cacheWrite: write, cacheWrite1h: write1h, output: output)
    }
}
