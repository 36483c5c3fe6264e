/// How long a call may wait to start, as the caller says it in `start_within`.
///
/// Grammar (exact, case-sensitive):
///
/// ```
/// start_within = "priority" | "default" | "auto" | duration
/// duration     = HH "h-" MM "m-" SS "s"      e.g. "00h-00m-30s"
/// HH           = "00" ... "23"   MM, SS = "00" ... "59"   (two digits each)
/// ```
///
/// A duration of `"00h-00m-00s"` means "flex only if it starts at once": the flex attempt still
/// gets one try, and any wait sends the call to standard.
public enum StartWithin: Hashable, Sendable, CustomStringConvertible {
    /// The provider's priority tier.
    case priority
    /// The provider's standard tier.
    case `default`
    /// Let the provider pick its tier.
    case auto
    /// Try flex first; fall back to standard when flex has not started within `budget`.
    case flex(budget: Duration)

    /// The longest duration `start_within` can express: 23h 59m 59s.
    public static let maximumBudget: Duration = .seconds(23 * 3600 + 59 * 60 + 59)

    /// Parses `start_within`.
    /// - Throws: ``RouterError`` `missing_start_within` for an empty value, `invalid_start_within`
    ///   for anything else that does not match the grammar, with an example of the right form.
    public init(parsing text: String) throws(RouterError) {
        switch text {
        case "":
            throw RouterError.missingStartWithin
        case "priority":
            self = .priority
        case "default":
            self = .default
        case "auto":
            self = .auto
        default:
            self = .flex(budget: try Self.parseDuration(text))
        }
    }

    private static func parseDuration(_ text: String) throws(RouterError) -> Duration {
        let bytes = Array(text.utf8)
        // "HHh-MMm-SSs": 11 bytes with the separators at fixed places.
        guard bytes.count == 11, bytes[2] == UInt8(ascii: "h"), bytes[3] == UInt8(ascii: "-"),
            bytes[6] == UInt8(ascii: "m"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "s")
        else {
            throw RouterError.invalidStartWithin(text, "expected a tier name or the form HHh-MMm-SSs")
        }
        func twoDigits(_ at: Int, _ name: String, max: Int) throws(RouterError) -> Int {
            let zero = UInt8(ascii: "0")
            let nine = UInt8(ascii: "9")
            guard (zero...nine).contains(bytes[at]), (zero...nine).contains(bytes[at + 1]) else {
                throw RouterError.invalidStartWithin(text, "\(name) must be two digits")
            }
            let value = Int(bytes[at] - zero) * 10 + Int(bytes[at + 1] - zero)
            guard value <= max else {
                throw RouterError.invalidStartWithin(text, "\(name) must be 00...\(max)")
            }
            return value
        }
        let hours = try twoDigits(0, "hours", max: 23)
        let minutes = try twoDigits(4, "minutes", max: 59)
        let seconds = try twoDigits(8, "seconds", max: 59)
        return .seconds(hours * 3600 + minutes * 60 + seconds)
    }

    /// The canonical text form.
    public var description: String {
        switch self {
        case .priority: return "priority"
        case .default: return "default"
        case .auto: return "auto"
        case .flex(let budget):
            let total = Int(budget.components.seconds)
            func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
            return "\(two(total / 3600))h-\(two(total % 3600 / 60))m-\(two(total % 60))s"
        }
    }
}
