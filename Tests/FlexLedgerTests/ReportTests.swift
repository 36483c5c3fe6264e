import FlexCodec
import FlexLedger
import Testing

extension LedgerStoreTests {
    /// The report's totals equal the sums of the records, to the picousd, past 2^63 too; the
    /// billing threshold is a fee of 20 USD or more.
    @Suite struct ReportTests {
        /// What the report must say, summed here from the records themselves (Int128).
        static func expectedTotals(_ records: [LedgerRecord]) -> [MonthlyTotals] {
            var totals: [String: MonthlyTotals] = [:]
            for record in records {
                let key = "\(record.tenant)|\(record.billingMonth)"
                var row = totals[key] ?? MonthlyTotals(tenant: record.tenant, month: record.billingMonth)
                row.requests += 1
                if case .failed = record.outcome { row.failedRequests += 1 }
                if record.tierServed == .flex { row.flexServed += 1 }
                if record.fellBack { row.fellBack += 1 }
                row.tokens.input += Int128(record.tokens.inputTokens)
                row.tokens.cachedInput += Int128(record.tokens.cachedInputTokens)
                row.tokens.cacheWrite += Int128(record.tokens.cacheWriteTokens)
                row.tokens.cacheWrite1h += Int128(record.tokens.cacheWrite1hTokens)
                row.tokens.output += Int128(record.tokens.outputTokens)
                row.tokens.reasoning += Int128(record.tokens.reasoningTokens)
                row.standardCost = row.standardCost + PicoUSDAmount(picoUSD: Int128(record.standardCostPicoUSD))
                row.actualCost = row.actualCost + PicoUSDAmount(picoUSD: Int128(record.actualCostPicoUSD))
                row.saved = row.saved + PicoUSDAmount(picoUSD: Int128(record.savedPicoUSD))
                row.fee = row.fee + PicoUSDAmount(picoUSD: Int128(record.feePicoUSD))
                totals[key] = row
            }
            return totals.values.sorted { ($0.tenant, $0.month) < ($1.tenant, $1.month) }
        }

        @Test(arguments: StoreKind.allCases)
        func totalsEqualTheSumOfTheRecords(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                var records: [LedgerRecord] = []
                for index in 0..<600 {
                    records.append(
                        SyntheticRecord.make(index, tenant: index % 3 == 0 ? "acme" : "globex", month: index % 2)
                    )
                }
                let ledger = Ledger(store: store)
                _ = try await ConcurrencyTests.append(records, to: ledger, writers: 8)
                let expected = Self.expectedTotals(records)
                #expect(expected.count == 4)
                #expect(try await store.monthlyTotals(ReportQuery()) == expected)
                // Filters: one month, one tenant, both.
                let november = try #require(BillingMonth("2026-11"))
                #expect(
                    try await store.monthlyTotals(ReportQuery(month: november))
                        == expected.filter { $0.month == november }
                )
                #expect(
                    try await store.monthlyTotals(ReportQuery(tenant: "acme"))
                        == expected.filter { $0.tenant == "acme" }
                )
                #expect(
                    try await store.monthlyTotals(ReportQuery(month: november, tenant: "globex"))
                        == expected.filter { $0.month == november && $0.tenant == "globex" }
                )
                #expect(try await store.monthlyTotals(ReportQuery(tenant: "nobody")).isEmpty)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func sumsPastInt64AreExact(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                // Three records of just under 2^63 picousd each (about 9.2 million USD).
                let records = (0..<3).map { index in
                    var record = SyntheticRecord.make(index, tenant: "whale")
                    record.standardCostPicoUSD = Int64.max - Int64(index)
                    record.actualCostPicoUSD = Int64.max / 2
                    record.savedPicoUSD = record.standardCostPicoUSD - record.actualCostPicoUSD
                    record.feePicoUSD = record.savedPicoUSD / 5
                    record.tokens.outputTokens = UInt64(Int64.max)
                    return record
                }
                _ = try await store.write(records)
                let row = try #require(try await store.monthlyTotals(ReportQuery()).first)
                #expect(row == Self.expectedTotals(records).first)
                #expect(row.standardCost.picoUSD == 3 * Int128(Int64.max) - 3)
                #expect(row.standardCost.picoUSDString == "27670116110564327418")
                #expect(row.tokens.output == 3 * Int128(Int64.max))
            }
        }

        @Test(arguments: StoreKind.allCases)
        func theFeeIsBilledFromTwentyDollars(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                func record(_ tenant: String, _ index: Int, fee: Int64) -> LedgerRecord {
                    var record = SyntheticRecord.make(index, tenant: tenant)
                    record.standardCostPicoUSD = 200 * 1_000_000_000_000
                    record.actualCostPicoUSD = 100 * 1_000_000_000_000
                    record.savedPicoUSD = 100 * 1_000_000_000_000
                    record.feePicoUSD = fee
                    return record
                }
                let twelveDollars: Int64 = 12 * 1_000_000_000_000
                let eightDollars: Int64 = 8 * 1_000_000_000_000
                _ = try await store.write([
                    record("exactly", 1, fee: twelveDollars), record("exactly", 2, fee: eightDollars),
                    record("one-picousd-short", 1, fee: twelveDollars),
                    record("one-picousd-short", 2, fee: eightDollars - 1),
                    record("above", 1, fee: 25 * 1_000_000_000_000),
                ])
                let report = Dictionary(
                    uniqueKeysWithValues: try await store.monthlyTotals(ReportQuery()).map { ($0.tenant, $0) }
                )
                #expect(report["exactly"]?.fee == .usd(20))
                #expect(report["exactly"]?.feeReachesThreshold == true)
                #expect(report["one-picousd-short"]?.fee.usdString == "19.999999999999")
                #expect(report["one-picousd-short"]?.feeReachesThreshold == false)
                #expect(report["above"]?.feeReachesThreshold == true)
            }
        }
    }
}
