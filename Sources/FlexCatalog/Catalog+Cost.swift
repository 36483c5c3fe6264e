public import FlexCore

extension Catalog {
    /// What `tokens` cost on `tier` of `provider`/`model` on `date`, to the pico-USD.
    ///
    /// Each class is `tokens x micro-USD-per-1M`, which is exactly pico-USD; reasoning tokens are
    /// part of output and priced as output. The long-context rule applies to the whole request when its total input
    /// (uncached + cached + cache writes) is above the model's threshold.
    ///
    /// - Throws: ``CatalogError`` for an unknown model, a tier the model does not offer on that
    ///   date, reasoning tokens above output tokens, or an Int64 overflow.
    public func cost(
        provider: Provider,
        model: String,
        tier: Tier,
        tokens: TokenUsage,
        on date: CalendarDate
    ) throws(CatalogError) -> CostBreakdown {
        try self.requireModel(provider, model).cost(tier: tier, tokens: tokens, on: date)
    }
}

extension ModelEntry {
    /// See ``Catalog/cost(provider:model:tier:tokens:on:)``.
    public func cost(tier: Tier, tokens: TokenUsage, on date: CalendarDate) throws(CatalogError) -> CostBreakdown {
        guard tokens.reasoningTokens <= tokens.outputTokens else { throw .reasoningExceedsOutput }
        let (prices, long) = try self.prices(
            tier: tier,
            on: date,
            totalInputTokens: Int(clamping: tokens.totalInputTokens)
        )
        func times(_ count: UInt64, _ price: Int64) throws(CatalogError) -> PicoUSD {
            guard let count = Int64(exactly: count) else { throw .overflow }
            let (product, overflow) = count.multipliedReportingOverflow(by: price)
            guard !overflow else { throw .overflow }
            return PicoUSD(product)
        }
        let breakdown = CostBreakdown(
            input: try times(tokens.inputTokens, prices.input),
            cachedInput: try times(tokens.cachedInputTokens, prices.cachedInput),
            cacheWrite: try times(tokens.cacheWriteTokens, prices.cacheWrite),
            cacheWrite1h: try times(tokens.cacheWrite1hTokens, prices.cacheWrite1h),
            // Reasoning is part of output and billed at the output price.
            output: try times(tokens.outputTokens, prices.output),
            longContext: long,
            prices: prices
        )
        var total: Int64 = 0
        for part in [
            breakdown.input, breakdown.cachedInput, breakdown.cacheWrite, breakdown.cacheWrite1h, breakdown.output,
        ] {
            let (sum, overflow) = total.addingReportingOverflow(part.rawValue)
            guard !overflow else { throw .overflow }
            total = sum
        }
        return breakdown
    }
}
