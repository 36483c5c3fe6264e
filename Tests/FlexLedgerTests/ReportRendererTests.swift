import FlexLedger
import Foundation
import Testing

/// Money formatting and the three report formats.
@Suite struct ReportRendererTests {
    static let rows: [MonthlyTotals] = [
        MonthlyTotals(
            tenant: "acme, \"inc\"",
            month: BillingMonth(year: 2026, month: 11)!,
            requests: 1234,
            failedRequests: 2,
            flexServed: 1000,
            fellBack: 234,
            tokens: TokenTotals(
                input: 1_000_000,
                cachedInput: 5,
                cacheWrite: 6,
                cacheWrite1h: 7,
                output: 2_000_000,
                reasoning: 3
            ),
            standardCost: PicoUSDAmount(picoUSD: 250_000_000_000_000),
            actualCost: PicoUSDAmount(picoUSD: 125_000_000_000_001),
            saved: PicoUSDAmount(picoUSD: 124_999_999_999_999),
            fee: PicoUSDAmount(picoUSD: 24_999_999_999_999),
            conflicts: 1
        ),
        MonthlyTotals(
            tenant: "whale",
            month: BillingMonth(year: 2026, month: 12)!,
            requests: 3,
            standardCost: PicoUSDAmount(picoUSD: Int128(Int64.max) * 3),
            fee: .usd(1_000_000)
        ),
    ]

    @Test func moneyIsExact() {
        #expect(PicoUSDAmount(picoUSD: 0).usdString == "0.000000000000")
        #expect(PicoUSDAmount(picoUSD: 1).usdString == "0.000000000001")
        #expect(PicoUSDAmount(picoUSD: 1).usdDisplay == "$0.000000000001")
        #expect(PicoUSDAmount.usd(20).usdDisplay == "$20.00")
        #expect(PicoUSDAmount(picoUSD: 1_234_567_500_000_000_000).usdDisplay == "$1,234,567.50")
        #expect(PicoUSDAmount(picoUSD: -1_500_000_000_000).usdDisplay == "-$1.50")
        #expect(PicoUSDAmount(picoUSD: Int128(Int64.max) * 3).usdString == "27670116.110564327421")
    }

    @Test func table() {
        let text = ReportRenderer.render(Self.rows, as: .table)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("TENANT"))
        #expect(
            lines[1].contains("2026-11") && lines[1].contains("1,234") && lines[1].contains("$250.00")
                && lines[1].contains("$125.000000000001") && lines[1].contains("$24.999999999999")
                && lines[1].hasSuffix("yes")
        )
        #expect(lines[2].contains("$27,670,116.110564327421") && lines[2].hasSuffix("yes"))
        #expect(text.contains("1 conflicting record(s)"))
        #expect(ReportRenderer.render([], as: .table) == "no ledger records match\n")
    }

    @Test func json() throws {
        let text = ReportRenderer.render(Self.rows, as: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["billing_threshold_usd"] as? String == "20.000000000000")
        let rows = try #require(object["rows"] as? [[String: Any]])
        #expect(rows.count == 2)
        #expect(rows[0]["tenant"] as? String == "acme, \"inc\"")
        #expect(rows[0]["actual_cost_usd"] as? String == "125.000000000001")
        #expect(rows[0]["actual_cost_picousd"] as? String == "125000000000001")
        #expect(rows[0]["fee_reaches_threshold"] as? Bool == true)
        #expect((rows[0]["tokens"] as? [String: Any])?["total"] as? Int == 3_000_018)
        #expect(rows[1]["standard_cost_picousd"] as? String == "27670116110564327421")
        let empty = try #require(
            try JSONSerialization.jsonObject(with: Data(ReportRenderer.render([], as: .json).utf8)) as? [String: Any]
        )
        #expect((empty["rows"] as? [Any])?.isEmpty == true)
    }

    @Test func csv() {
        let lines = ReportRenderer.render(Self.rows, as: .csv).components(separatedBy: "\r\n")
        #expect(lines[0].hasPrefix("tenant,month,requests,"))
        #expect(
            lines[1].hasPrefix(
                "\"acme, \"\"inc\"\"\",2026-11,1234,2,1000,234,1000000,5,6,7,2000000,3,3000018,250.000000000000,250000000000000,"
            )
        )
        #expect(lines[1].hasSuffix(",24.999999999999,24999999999999,true,1"))
        #expect(lines.count == 4 && lines[3].isEmpty)
    }
}
