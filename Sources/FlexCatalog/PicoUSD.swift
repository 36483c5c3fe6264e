/// An exact amount of money in pico-US-dollars (1 USD = 10^12 pUSD).
///
/// Prices are stored as integer micro-USD per 1M tokens, so `tokens x price` is an exact pUSD
/// amount with no rounding anywhere. An `Int64` holds up to about 9.2 million USD, far more than
/// any single request can cost; arithmetic traps on overflow rather than wrapping.
public struct PicoUSD: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var rawValue: Int64

    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    public static let zero = PicoUSD(0)
    public static let perUSD: Int64 = 1_000_000_000_000

    public static func + (lhs: PicoUSD, rhs: PicoUSD) -> PicoUSD { PicoUSD(lhs.rawValue + rhs.rawValue) }
    public static func - (lhs: PicoUSD, rhs: PicoUSD) -> PicoUSD { PicoUSD(lhs.rawValue - rhs.rawValue) }
    public static func < (lhs: PicoUSD, rhs: PicoUSD) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `"$0.000123456789"`-style rendering with all twelve decimals (exact, for humans and logs).
    public var description: String {
        let sign = self.rawValue < 0 ? "-" : ""
        let magnitude = self.rawValue.magnitude
        let whole = magnitude / UInt64(Self.perUSD)
        let fraction = String(magnitude % UInt64(Self.perUSD))
        let padded = String(repeating: "0", count: 12 - fraction.count) + fraction
        return "\(sign)$\(whole).\(padded)"
    }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }
}
