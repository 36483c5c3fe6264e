/// Renders the monthly totals as a table, JSON or CSV.
///
/// Money is exact everywhere: USD with every significant decimal, and the raw picousd
/// (1 USD = 10^12 picousd) in JSON and CSV. In JSON the amounts are strings, because many JSON
/// readers turn numbers into doubles, which are exact only below 2^53 picousd (about 9,007 USD).
public enum ReportRenderer {
    public static func render(_ totals: [MonthlyTotals], as format: ReportFormat) -> String {
        switch format {
        case .table: self.table(totals)
        case .json: self.json(totals)
        case .csv: self.csv(totals)
        }
    }

    // MARK: - Table

    static func table(_ totals: [MonthlyTotals]) -> String {
        guard !totals.isEmpty else { return "no ledger records match\n" }
        let header = ["TENANT", "MONTH", "REQUESTS", "TOKENS", "STANDARD", "ACTUAL", "SAVED", "FEE", "BILLED"]
        let rightAligned: Set<Int> = [2, 3, 4, 5, 6, 7]
        var rows = [header]
        for row in totals {
            rows.append([
                row.tenant, row.month.description, self.grouped(String(row.requests)),
                self.grouped(String(row.tokens.total)),
                row.standardCost.usdDisplay, row.actualCost.usdDisplay, row.saved.usdDisplay, row.fee.usdDisplay,
                row.feeReachesThreshold ? "yes" : "no (< $20)",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var output = ""
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? padding + cell : cell + padding
            }
            output += cells.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }
        let notes = totals.filter { $0.failedRequests > 0 || $0.conflicts > 0 }
        for row in notes {
            var parts: [String] = []
            if row.failedRequests > 0 { parts.append("\(row.failedRequests) failed after costing money (included)") }
            if row.conflicts > 0 { parts.append("\(row.conflicts) conflicting record(s) set apart (not included)") }
            output += "note: \(row.tenant) \(row.month): \(parts.joined(separator: "; "))\n"
        }
        output += "A tenant's month is billed when its fee reaches $20.00. Amounts are exact USD.\n"
        return output
    }

    static func grouped(_ digits: String) -> String {
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0, digit != "-" { result.append(",") }
            result.append(digit)
        }
        return result
    }

    // MARK: - JSON

    static func json(_ totals: [MonthlyTotals]) -> String {
        var rows: [String] = []
        for row in totals {
            var fields: [String] = [
                "\"tenant\": \(self.quoted(row.tenant))",
                "\"month\": \"\(row.month)\"",
                "\"requests\": \(row.requests)",
                "\"failed_requests\": \(row.failedRequests)",
                "\"flex_served\": \(row.flexServed)",
                "\"fell_back\": \(row.fellBack)",
                "\"tokens\": {\"input\": \(row.tokens.input), \"cached_input\": \(row.tokens.cachedInput), \"cache_write\": \(row.tokens.cacheWrite), \"cache_write_1h\": \(row.tokens.cacheWrite1h), \"output\": \(row.tokens.output), \"reasoning\": \(row.tokens.reasoning), \"total\": \(row.tokens.total)}",
            ]
            for (name, amount) in self.money(row) {
                fields.append("\"\(name)_usd\": \"\(amount.usdString)\"")
                fields.append("\"\(name)_picousd\": \"\(amount.picoUSDString)\"")
            }
            fields.append("\"fee_reaches_threshold\": \(row.feeReachesThreshold)")
            fields.append("\"conflicts\": \(row.conflicts)")
            rows.append("    {" + fields.joined(separator: ", ") + "}")
        }
        return """
            {
              "unit": "USD; *_usd are exact decimal strings, *_picousd exact integer strings (1 USD = 10^12 picousd)",
              "billing_threshold_usd": "\(MonthlyTotals.billingThreshold.usdString)",
              "rows": [\(rows.isEmpty ? "" : "\n" + rows.joined(separator: ",\n") + "\n  ")]
            }

            """
    }

    static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    private static func money(_ row: MonthlyTotals) -> [(String, PicoUSDAmount)] {
        [("standard_cost", row.standardCost), ("actual_cost", row.actualCost), ("saved", row.saved), ("fee", row.fee)]
    }

    // MARK: - CSV

    static let csvHeader = [
        "tenant", "month", "requests", "failed_requests", "flex_served", "fell_back", "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "total_tokens",
        "standard_cost_usd", "standard_cost_picousd", "actual_cost_usd", "actual_cost_picousd", "saved_usd",
        "saved_picousd",
        "fee_usd", "fee_picousd", "fee_reaches_threshold", "conflicts",
    ]

    static func csv(_ totals: [MonthlyTotals]) -> String {
        var lines = [self.csvHeader.joined(separator: ",")]
        for row in totals {
            var cells = [
                self.csvCell(row.tenant), row.month.description, String(row.requests), String(row.failedRequests),
                String(row.flexServed), String(row.fellBack), String(row.tokens.input), String(row.tokens.cachedInput),
                String(row.tokens.cacheWrite), String(row.tokens.cacheWrite1h), String(row.tokens.output),
                String(row.tokens.reasoning), String(row.tokens.total),
            ]
            for (_, amount) in self.money(row) { cells += [amount.usdString, amount.picoUSDString] }
            cells += [String(row.feeReachesThreshold), String(row.conflicts)]
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func csvCell(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " { result.removeLast() }
        return result
    }

    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        self.split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
