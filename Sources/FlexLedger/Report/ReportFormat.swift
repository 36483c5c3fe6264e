/// How `flexd report` prints the monthly totals.
public enum ReportFormat: String, Sendable, Hashable, CaseIterable {
    /// Aligned columns for people; money as `$1,234.56` (exact: only trailing zeros dropped).
    case table
    /// One JSON object; money as exact decimal strings in USD and picousd.
    case json
    /// RFC 4180 CSV with a header row; money in USD (12 decimals) and picousd.
    case csv
}
