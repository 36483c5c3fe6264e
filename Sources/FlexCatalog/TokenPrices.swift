/// Prices of one tier of one model, in integer micro-USD per 1M tokens (so $0.0375/M = 37500).
///
/// `tokens x price` is then exactly the cost in pico-USD (``PicoUSD``).
public struct TokenPrices: Sendable, Hashable {
    public var input: Int64
    public var cachedInput: Int64
    public var cacheWrite: Int64
    public var cacheWrite1h: Int64
    public var output: Int64

    public init(input: Int64, cachedInput: Int64, cacheWrite: Int64, cacheWrite1h: Int64? = nil, output: Int64) {
        self.input = input
        self.cachedInput = cachedInput
        self.cacheWrite = cacheWrite
        self.cacheWrite1h = cacheWrite1h ?? cacheWrite
        self.output = output
    }
}
