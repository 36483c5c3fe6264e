/// The cost of one request, per token class and in total, in exact pico-USD.
public struct CostBreakdown: Sendable, Hashable {
    public var input: PicoUSD
    public var cachedInput: PicoUSD
    public var cacheWrite: PicoUSD
    public var cacheWrite1h: PicoUSD
    /// Output and reasoning tokens, both at the output price.
    public var output: PicoUSD
    /// Whether the long-context rule priced this request.
    public var longContext: Bool
    /// The prices used (after the long-context rule).
    public var prices: TokenPrices

    public var total: PicoUSD { self.input + self.cachedInput + self.cacheWrite + self.cacheWrite1h + self.output }
}
