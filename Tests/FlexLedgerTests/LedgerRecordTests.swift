import FlexCodec
import FlexLedger
import Testing

/// Records: validation, billing months, the savings-record bridge.
@Suite struct LedgerRecordTests {
    @Test(arguments: [
        (Int64(0), "1970-01"),
        (Int64(-1), "1969-12"),
        (Int64(1_795_219_200_000_000), "2026-11"),
        (Int64(1_798_761_599_999_999), "2026-12"),  // 2026-12-31T23:59:59.999999Z
        (Int64(1_798_761_600_000_000), "2027-01"),
        (Int64(951_782_400_000_000), "2000-02"),  // 2000-02-29 (leap day)
        (Int64(951_868_800_000_000), "2000-03"),
    ])
    func billingMonthsAreUTCCalendarMonths(_ instant: Int64, _ month: String) {
        #expect(BillingMonth(microsecondsSinceEpoch: instant).description == month)
    }

    @Test func billingMonthParsing() {
        #expect(BillingMonth("2026-11") == BillingMonth(year: 2026, month: 11))
        for bad in ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", "", "abcd-ef", "+026-11"] {
            #expect(BillingMonth(bad) == nil, "\(bad)")
        }
    }

    @Test func validationRefusesWhatCannotBeStoredOrBreaksTheRules() {
        let good = SyntheticRecord.make(1, tenant: "acme")
        #expect(throws: Never.self) { try good.validate() }
        let breakers: [(String, (inout LedgerRecord) -> Void)] = [
            ("empty request id", { $0.requestID = "" }),
            ("long tenant", { $0.tenant = String(repeating: "t", count: 257) }),
            ("NUL in model", { $0.model = "gpt\u{0}5" }),
            ("negative cost", { $0.actualCostPicoUSD = -1 }),
            ("fee above saving", { $0.feePicoUSD = $0.savedPicoUSD + 1 }),
            (
                "saving above standard",
                {
                    $0.savedPicoUSD = $0.standardCostPicoUSD + 1
                    $0.feePicoUSD = 0
                }
            ),
            ("tokens past Int64", { $0.tokens.outputTokens = UInt64(Int64.max) + 1 }),
            ("year 10000", { $0.completedAtMicroseconds = 253_402_300_800_000_000 }),
        ]
        for (name, breaker) in breakers {
            var record = good
            breaker(&record)
            #expect(throws: LedgerError.self, "\(name)") { try record.validate() }
        }
    }

    @Test func aLedgerRecordFromTheRoutersSavingsRecord() throws {
        let savings = SavingsRecord(
            requestID: "req-9",
            provider: .openAI,
            api: .responses,
            model: "gpt-5",
            startWithin: "00h-00m-10s",
            tierRequested: .flex,
            tierServed: .standard,
            tierServedReported: "default",
            fellBack: true,
            fallbackReason: .flexStartTimeout,
            flexAttempts: 1,
            flexWaitMicroseconds: 10_000_000,
            timeToStartMicroseconds: 10_400_000,
            tokens: TokenUsage(inputTokens: 10, outputTokens: 20, cacheWrite1hTokens: 5),
            standardCostPicoUSD: 900,
            actualCostPicoUSD: 900,
            savedPicoUSD: 0,
            feePicoUSD: 0,
            priceDate: "2026-11-20"
        )
        let record = try #require(
            LedgerRecord(
                savings: savings,
                tenant: "acme",
                instanceID: "flexd-1",
                outcome: .completed,
                receivedAtMicroseconds: 1_795_219_200_000_000,
                completedAtMicroseconds: 1_795_219_212_000_000,
                totalMicroseconds: 12_000_000
            )
        )
        #expect(record.requestID == "req-9" && record.tenant == "acme" && record.instanceID == "flexd-1")
        #expect(record.tierServed == .standard && record.fellBack && record.fallbackReason == .flexStartTimeout)
        #expect(record.tokens.cacheWrite1hTokens == 5)
        #expect(record.totalMicroseconds == 12_000_000)
        #expect(record.billingMonth.description == "2026-11")
        #expect(throws: Never.self) { try record.validate() }
        #expect(
            LedgerRecord(
                savings: SavingsRecord(requestID: "x"),
                tenant: "acme",
                instanceID: "i",
                outcome: .completed,
                receivedAtMicroseconds: 0,
                completedAtMicroseconds: 0,
                totalMicroseconds: 0
            ) == nil
        )
    }

    @Test func differingFieldsNameTheColumns() {
        let a = SyntheticRecord.make(1, tenant: "acme")
        var b = a
        #expect(a.differingFields(from: b).isEmpty)
        b.tokens.cacheWrite1hTokens += 1
        b.outcome = .failed(status: .dataLoss, errorCode: "x")
        #expect(a.differingFields(from: b) == ["cache_write_1h_tokens", "outcome", "status_code", "error_code"])
    }
}
