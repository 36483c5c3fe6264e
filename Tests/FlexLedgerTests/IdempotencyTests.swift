import FlexCodec
import FlexLedger
import Testing

extension LedgerStoreTests {
    /// One record per (tenant, request id): the same record twice keeps one; a different record
    /// under the same id is reported and set apart, never merged.
    @Suite struct IdempotencyTests {
        @Test(arguments: StoreKind.allCases)
        func theSameRecordTwiceKeepsOne(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                let ledger = Ledger(store: store)
                let record = SyntheticRecord.make(1, tenant: "acme")
                #expect(try await ledger.append(record) == .recorded)
                #expect(try await ledger.append(record) == .duplicate)
                #expect(try await store.recordCount(tenant: "acme") == 1)
                #expect(try await store.record(tenant: "acme", requestID: record.requestID) == record)
                let report = try await store.monthlyTotals(ReportQuery())
                #expect(report.count == 1)
                #expect(report.first?.requests == 1)
                #expect(report.first?.standardCost.picoUSD == Int128(record.standardCostPicoUSD))
            }
        }

        @Test(arguments: StoreKind.allCases)
        func theSameRecordTwiceInOneBatchKeepsOne(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                let record = SyntheticRecord.make(2, tenant: "acme")
                let other = SyntheticRecord.make(3, tenant: "acme")
                #expect(try await store.write([record, other, record]) == [.recorded, .recorded, .duplicate])
                #expect(try await store.write([other, record]) == [.duplicate, .duplicate])
                #expect(try await store.recordCount(tenant: nil) == 2)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func aConflictingRecordIsReportedAndTheFirstIsKept(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                let ledger = Ledger(store: store)
                let first = SyntheticRecord.make(4, tenant: "acme")
                var second = first
                second.actualCostPicoUSD = first.standardCostPicoUSD
                second.savedPicoUSD = 0
                second.feePicoUSD = 0
                second.instanceID = "other-instance"
                #expect(try await ledger.append(first) == .recorded)
                let outcome = try await ledger.append(second)
                #expect(
                    outcome
                        == .conflict(differingFields: [
                            "instance_id", "actual_cost_picousd", "saved_picousd", "fee_picousd",
                        ])
                )
                // Retrying the conflicting record is still a conflict, and is set apart once.
                #expect(try await ledger.append(second) == outcome)
                #expect(try await store.record(tenant: "acme", requestID: first.requestID) == first)
                #expect(try await store.recordCount(tenant: "acme") == 1)
                let report = try #require(try await store.monthlyTotals(ReportQuery()).first)
                #expect(report.conflicts == 1)
                #expect(report.requests == 1)
                #expect(report.fee.picoUSD == Int128(first.feePicoUSD))
                // A conflict in the same batch as the first record is caught too.
                var third = SyntheticRecord.make(5, tenant: "acme")
                let thirdFirst = third
                third.model = "another-model"
                #expect(
                    try await store.write([thirdFirst, third]) == [.recorded, .conflict(differingFields: ["model"])]
                )
                #expect(try await store.monthlyTotals(ReportQuery()).first?.conflicts == 2)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func theSameRequestIDUnderTwoTenantsIsTwoRecords(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                let a = SyntheticRecord.make(6, tenant: "acme")
                let b = SyntheticRecord.make(6, tenant: "globex")
                #expect(a.requestID == b.requestID)
                #expect(try await store.write([a, b]) == [.recorded, .recorded])
                #expect(try await store.record(tenant: "globex", requestID: b.requestID) == b)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func everyFieldRoundTrips(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                let full = LedgerRecord(
                    tenant: "tenant with spaces, commas and \"quotes\" ünïcode",
                    requestID: "req-'; DROP TABLE ledger_records; --",
                    instanceID: "flexd-7",
                    provider: .anthropic,
                    api: .messages,
                    model: "claude-sonnet-4-5",
                    startWithin: "priority",
                    tierRequested: .auto,
                    tierServed: .priority,
                    tierServedReported: "priority",
                    fellBack: true,
                    fallbackReason: .flexStartTimeout,
                    flexAttempts: 3,
                    flexWaitMicroseconds: 123_456_789,
                    timeToStartMicroseconds: 987_654,
                    totalMicroseconds: UInt64(Int64.max),
                    tokens: TokenUsage(
                        inputTokens: 1,
                        cachedInputTokens: 2,
                        cacheWriteTokens: 3,
                        outputTokens: 5,
                        reasoningTokens: 4,
                        cacheWrite1hTokens: UInt64(Int64.max)
                    ),
                    standardCostPicoUSD: Int64.max,
                    actualCostPicoUSD: 0,
                    savedPicoUSD: Int64.max,
                    feePicoUSD: Int64.max / 5,
                    priceDate: "2026-02-28",
                    outcome: .failed(status: .dataLoss, errorCode: "upstream_stream_truncated"),
                    receivedAtMicroseconds: -1,
                    completedAtMicroseconds: 0
                )
                var bare = SyntheticRecord.make(7, tenant: "acme")
                bare.tierServed = nil
                bare.fallbackReason = nil
                bare.tierServedReported = ""
                #expect(try await store.write([full, bare]) == [.recorded, .recorded])
                #expect(try await store.record(tenant: full.tenant, requestID: full.requestID) == full)
                #expect(try await store.record(tenant: bare.tenant, requestID: bare.requestID) == bare)
                #expect(try await store.record(tenant: "acme", requestID: "no-such-request") == nil)
                let months = try await store.monthlyTotals(ReportQuery()).map(\.month.description)
                #expect(months.contains("1970-01"))
            }
        }

        @Test(arguments: StoreKind.allCases)
        func anInvalidRecordIsRefusedBeforeItIsQueued(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                let ledger = Ledger(store: store)
                var record = SyntheticRecord.make(8, tenant: "")
                await #expect(throws: LedgerError.self) { try await ledger.append(record) }
                record.tenant = "acme"
                record.feePicoUSD = record.savedPicoUSD + 1
                let error = await #expect(throws: LedgerError.self) { try await ledger.append(record) }
                #expect(error?.code == .invalidRecord)
                #expect(try await store.recordCount(tenant: nil) == 0)
                #expect(ledger.statistics.batches == 0)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func aClosedLedgerSaysSo(_ kind: StoreKind) async throws {
            let location = try await kind.freshLocation()
            defer { location.removeIfSQLite() }
            let store = try await location.openStore()
            let ledger = Ledger(store: store)
            _ = try await ledger.append(SyntheticRecord.make(1, tenant: "acme"))
            await ledger.close()
            let fromLedger = await #expect(throws: LedgerError.self) {
                try await ledger.append(SyntheticRecord.make(2, tenant: "acme"))
            }
            #expect(fromLedger?.code == .closed)
            let fromStore = await #expect(throws: LedgerError.self) {
                try await store.write([SyntheticRecord.make(3, tenant: "acme")])
            }
            #expect(fromStore?.code == .closed)
        }
    }
}
