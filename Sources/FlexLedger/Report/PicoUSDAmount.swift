/// An exact sum of money in pico-US-dollars (1 USD = 10^12 picousd), wide enough for any report.
///
/// One record's money is an `Int64` (up to about 9.2 million USD); a big tenant's month can pass
/// that, so sums are 128-bit: exact up to about 1.7 × 10^26 USD. Rendering is exact too: no
/// floating point anywhere.
public struct PicoUSDAmount: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var picoUSD: Int128

    public init(picoUSD: Int128) {
        self.picoUSD = picoUSD
    }

    public static let zero = PicoUSDAmount(picoUSD: 0)
    /// Pico-US-dollars in one US dollar.
    public static let perUSD: Int128 = 1_000_000_000_000

    /// Whole US dollars.
    public static func usd(_ dollars: Int) -> PicoUSDAmount { PicoUSDAmount(picoUSD: Int128(dollars) * Self.perUSD) }

    public static func + (lhs: PicoUSDAmount, rhs: PicoUSDAmount) -> PicoUSDAmount {
        PicoUSDAmount(picoUSD: lhs.picoUSD + rhs.picoUSD)
    }

    public static func < (lhs: PicoUSDAmount, rhs: PicoUSDAmount) -> Bool { lhs.picoUSD < rhs.picoUSD }

    /// The raw amount as a decimal integer string, e.g. `"12345000000000"`.
    public var picoUSDString: String { String(self.picoUSD) }

    /// US dollars with all twelve decimals, e.g. `"12.345000000000"`: exact, for JSON and CSV.
    public var usdString: String {
        let (sign, whole, fraction) = self.parts
        return "\(sign)\(whole).\(fraction)"
    }

    /// US dollars for people, e.g. `"$1,234.50"`, `"$0.000123"`: exact (trailing zeros past the
    /// cents are dropped, never a digit that matters), with thousands separators.
    public var usdDisplay: String {
        var (sign, whole, fraction) = self.parts
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        var grouped = ""
        for (index, digit) in whole.enumerated() {
            if index > 0, (whole.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return "\(sign)$\(grouped).\(fraction)"
    }

    public var description: String { self.usdDisplay }

    private var parts: (sign: String, whole: String, fraction: String) {
        let magnitude = self.picoUSD.magnitude
        let perUSD = UInt128(Self.perUSD)
        let fraction = String(magnitude % perUSD)
        return (
            self.picoUSD < 0 ? "-" : "", String(magnitude / perUSD),
            String(repeating: "0", count: 12 - fraction.count) + fraction
        )
    }
}
