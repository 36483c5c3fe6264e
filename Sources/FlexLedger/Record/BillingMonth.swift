/// A UTC calendar month, `YYYY-MM`: the period the fee report sums over.
public struct BillingMonth: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    /// 1...12.
    public let month: Int

    /// The month `year-month`, or nil when `month` is not 1...12 or `year` is not 1...9999.
    public init?(year: Int, month: Int) {
        guard (1...12).contains(month), (1...9999).contains(year) else { return nil }
        self.year = year
        self.month = month
    }

    /// Parses `YYYY-MM` (four-digit year, two-digit month); nil for anything else.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 7, bytes[4] == UInt8(ascii: "-"),
            bytes.enumerated().allSatisfy({
                $0.offset == 4 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0.element)
            }),
            let year = Int(String(decoding: bytes[0..<4], as: UTF8.self)),
            let month = Int(String(decoding: bytes[5..<7], as: UTF8.self))
        else { return nil }
        self.init(year: year, month: month)
    }

    /// The UTC month containing an instant given in microseconds since the Unix epoch.
    public init(microsecondsSinceEpoch: Int64) {
        // Floor division: instants before 1970 belong to the day that contains them.
        let microsecondsPerDay: Int64 = 86_400_000_000
        var days = microsecondsSinceEpoch / microsecondsPerDay
        if microsecondsSinceEpoch % microsecondsPerDay < 0 { days -= 1 }
        let (year, month) = Self.civil(daysSinceEpoch: days)
        // Instants outside years 1...9999 are clamped (records are validated to lie well inside).
        self.year = min(max(year, 1), 9999)
        self.month = month
    }

    /// `YYYY-MM`.
    public var description: String {
        let y = String(self.year)
        let m = String(self.month)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + (m.count == 1 ? "0" + m : m)
    }

    public static func < (lhs: BillingMonth, rhs: BillingMonth) -> Bool {
        (lhs.year, lhs.month) < (rhs.year, rhs.month)
    }

    /// Year and month of a day number (days since 1970-01-01), proleptic Gregorian calendar
    /// (Howard Hinnant's `civil_from_days`).
    static func civil(daysSinceEpoch: Int64) -> (year: Int, month: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month))
    }
}
