/// The report's SQL, shared by both stores, and the decoding of its rows.
///
/// Sums are exact past 2^63: PostgreSQL sums `BIGINT` into `NUMERIC` (read as text); SQLite's
/// `SUM` would fail on overflow, so each column is summed in two parts, `x >> 24` and
/// `x & 0xFFFFFF` (both sums stay far inside 64 bits for any real ledger), and joined in 128-bit
/// arithmetic: `(Σ hi) · 2^24 + Σ lo = Σ x`.
enum ReportSQL {
    enum Dialect {
        case sqlite
        case postgres
    }

    static let summedColumns = [
        "input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens",
        "reasoning_tokens", "standard_cost_picousd", "actual_cost_picousd", "saved_picousd", "fee_picousd",
    ]

    /// The totals query and its parameters.
    static func totals(_ dialect: Dialect, _ query: ReportQuery) -> (sql: String, parameters: [LedgerValue]) {
        let fellBack = dialect == .sqlite ? "fell_back = 1" : "fell_back"
        var select = [
            "tenant", "billing_month", "COUNT(*)",
            "SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END)",
            "SUM(CASE WHEN tier_served = 'flex' THEN 1 ELSE 0 END)",
            "SUM(CASE WHEN \(fellBack) THEN 1 ELSE 0 END)",
        ]
        for column in self.summedColumns {
            switch dialect {
            case .sqlite: select += ["SUM(\(column) >> 24)", "SUM(\(column) & 16777215)"]
            case .postgres: select += ["SUM(\(column))::text"]
            }
        }
        let (filter, parameters) = self.filter(dialect, query)
        let sql =
            "SELECT \(select.joined(separator: ", ")) FROM ledger_records\(filter) GROUP BY tenant, billing_month ORDER BY tenant, billing_month"
        return (sql, parameters)
    }

    /// Conflicts per tenant and month.
    static func conflicts(_ dialect: Dialect, _ query: ReportQuery) -> (sql: String, parameters: [LedgerValue]) {
        let (filter, parameters) = self.filter(dialect, query)
        return (
            "SELECT tenant, billing_month, COUNT(*) FROM ledger_conflicts\(filter) GROUP BY tenant, billing_month",
            parameters
        )
    }

    private static func filter(_ dialect: Dialect, _ query: ReportQuery) -> (String, [LedgerValue]) {
        var conditions: [String] = []
        var parameters: [LedgerValue] = []
        func placeholder() -> String { dialect == .sqlite ? "?" : "$\(parameters.count)" }
        if let month = query.month {
            parameters.append(.text(month.description))
            conditions.append("billing_month = \(placeholder())")
        }
        if let tenant = query.tenant {
            parameters.append(.text(tenant))
            conditions.append("tenant = \(placeholder())")
        }
        return (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), parameters)
    }

    /// One row of ``totals(_:_:)``.
    static func decodeTotals(_ dialect: Dialect, _ row: [LedgerValue]) throws(LedgerError) -> MonthlyTotals {
        var index = 0
        func next() -> LedgerValue {
            defer { index += 1 }
            return index < row.count ? row[index] : .null
        }
        func text() throws(LedgerError) -> String {
            guard case .text(let text) = next() else {
                throw LedgerError(.corruptRecord, "a report row has no tenant or month")
            }
            return text
        }
        func count() throws(LedgerError) -> Int64 {
            switch next() {
            case .int(let int): return int
            case .text(let text) where Int64(text) != nil: return Int64(text)!
            default: throw LedgerError(.corruptRecord, "a report row has a count that is not an integer")
            }
        }
        func sum() throws(LedgerError) -> Int128 {
            switch dialect {
            case .sqlite:
                guard case .int(let high) = next(), case .int(let low) = next() else {
                    throw LedgerError(.corruptRecord, "a report row has a sum that is not an integer")
                }
                return Int128(high) * (1 << 24) + Int128(low)
            case .postgres:
                guard case .text(let text) = next(), let value = Int128(text) else {
                    throw LedgerError(.corruptRecord, "a report row has a sum that is not an integer")
                }
                return value
            }
        }
        let tenant = try text()
        let monthText = try text()
        guard let month = BillingMonth(monthText) else {
            throw LedgerError(.corruptRecord, "the ledger has a billing month \"\(monthText)\" that is not YYYY-MM")
        }
        var totals = MonthlyTotals(tenant: tenant, month: month)
        totals.requests = try count()
        totals.failedRequests = try count()
        totals.flexServed = try count()
        totals.fellBack = try count()
        totals.tokens = TokenTotals(
            input: try sum(),
            cachedInput: try sum(),
            cacheWrite: try sum(),
            cacheWrite1h: try sum(),
            output: try sum(),
            reasoning: try sum()
        )
        totals.standardCost = PicoUSDAmount(picoUSD: try sum())
        totals.actualCost = PicoUSDAmount(picoUSD: try sum())
        totals.saved = PicoUSDAmount(picoUSD: try sum())
        totals.fee = PicoUSDAmount(picoUSD: try sum())
        return totals
    }

    /// Merges the conflict counts (tenant, month, count rows) into the totals, adding months that
    /// have only conflicts.
    static func merge(_ totals: [MonthlyTotals], conflicts: [(String, String, Int64)]) -> [MonthlyTotals] {
        var result = totals
        for (tenant, monthText, count) in conflicts {
            guard let month = BillingMonth(monthText) else { continue }
            if let index = result.firstIndex(where: { $0.tenant == tenant && $0.month == month }) {
                result[index].conflicts = count
            } else {
                result.append(MonthlyTotals(tenant: tenant, month: month, conflicts: count))
            }
        }
        return result.sorted { ($0.tenant, $0.month) < ($1.tenant, $1.month) }
    }
}
