extension Catalog {
    /// What `tokens` cost on `tier` of `provider`/`model` on `date`, to the pico-USD.
    ///
    /// Each class is `tokens x micro-USD-per-1M`, which is exactly pico-USD; reasoning tokens are
    /// priced as output. The long-context rule applies to the whole request when its total input
    /// (uncached + cached + cache writes) is above the model's threshold.
    ///
    /// - Throws: ``CatalogError`` for an unknown model, a tier the model does not offer on that
    ///   date, negative counts, or an Int64 overflow.
    public func cost(provider: Provider, model: String, tier: ServiceTier, tokens: TokenCounts,
                     on date: CalendarDate) throws(CatalogError) -> CostBreakdown {
        try self.requireModel(provider, model).cost(tier: tier, tokens: tokens, on: date)
    }
}

extension ModelEntry {
    /// See ``Catalog/cost(provider:model:tier:tokens:on:)``.
    public func cost(tier: ServiceTier, tokens: TokenCounts, on date: CalendarDate) throws(CatalogError) -> CostBreakdown {
        for (name, count) in [("input", tokens.input), ("cached_input", tokens.cachedInput),
                              ("cache_write", tokens.cacheWrite), ("cache_write_1h", tokens.cacheWrite1h),
                              ("output", tokens.output), ("reasoning", tokens.reasoning)] where count < 0 {
            throw .negativeTokens(name)
        }
        let (prices, long) = try self.prices(tier: tier, on: date, totalInputTokens: tokens.totalInput)
        func times(_ count: Int, _ price: Int64) throws(CatalogError) -> PicoUSD {
            let (product, overflow) = Int64(count).multipliedReportingOverflow(by: price)
            guard !overflow else { throw .overflow }
            return PicoUSD(product)
        }
        let (billedOutput, outputOverflow) = tokens.output.addingReportingOverflow(tokens.reasoning)
        guard !outputOverflow else { throw .overflow }
        let breakdown = CostBreakdown(
            input: try times(tokens.input, prices.input),
            cachedInput: try times(tokens.cachedInput, prices.cachedInput),
            cacheWrite: try times(tokens.cacheWrite, prices.cacheWrite),
            cacheWrite1h: try times(tokens.cacheWrite1h, prices.cacheWrite1h),
            output: try times(billedOutput, prices.output),
            longContext: long,
            prices: prices
        )
        var total: Int64 = 0
        for part in [breakdown.input, breakdown.cachedInput, breakdown.cacheWrite, breakdown.cacheWrite1h, breakdown.output] {
            let (sum, overflow) = total.addingReportingOverflow(part.rawValue)
            guard !overflow else { throw .overflow }
            total = sum
        }
        return breakdown
    }
}
