import FlexLedger
import Testing

extension LedgerStoreTests {
    /// Many concurrent writers on one ledger, and two ledgers ("two flexd instances") on one store.
    @Suite struct ConcurrencyTests {
        /// Counts of append outcomes.
        struct Tally: Equatable {
            var recorded = 0
            var duplicate = 0
            var conflict = 0

            mutating func add(_ outcome: AppendOutcome) {
                switch outcome {
                case .recorded: self.recorded += 1
                case .duplicate: self.duplicate += 1
                case .conflict: self.conflict += 1
                }
            }

            static func + (lhs: Tally, rhs: Tally) -> Tally {
                Tally(
                    recorded: lhs.recorded + rhs.recorded,
                    duplicate: lhs.duplicate + rhs.duplicate,
                    conflict: lhs.conflict + rhs.conflict
                )
            }
        }

        /// Appends `records` from `writers` concurrent tasks, each taking every writers-th record.
        static func append(_ records: [LedgerRecord], to ledger: Ledger, writers: Int) async throws -> Tally {
            try await withThrowingTaskGroup(of: Tally.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var tally = Tally()
                        for index in stride(from: writer, to: records.count, by: writers) {
                            tally.add(try await ledger.append(records[index]))
                        }
                        return tally
                    }
                }
                var total = Tally()
                for try await tally in group { total = total + tally }
                return total
            }
        }

        @Test(arguments: StoreKind.allCases)
        func manyWritersEachRecordOnce(_ kind: StoreKind) async throws {
            try await kind.withStore { store, _ async throws in
                let ledger = Ledger(
                    store: store,
                    configuration: GroupCommitConfiguration(maximumBatchSize: 64, queueCapacity: 100)
                )
                // Every record twice, from different writers.
                let unique = (0..<1000).map { SyntheticRecord.make($0, tenant: "acme") }
                let tally = try await Self.append(unique + unique.reversed(), to: ledger, writers: 48)
                #expect(tally == Tally(recorded: 1000, duplicate: 1000, conflict: 0))
                #expect(try await store.recordCount(tenant: "acme") == 1000)
                for index in [0, 1, 499, 998, 999] {
                    #expect(try await store.record(tenant: "acme", requestID: "req-\(index)") == unique[index])
                }
                let statistics = ledger.statistics
                #expect(statistics.records == 2000)
                #expect(statistics.waiting == 0)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func twoInstancesOnOneLedger(_ kind: StoreKind) async throws {
            let location = try await kind.freshLocation()
            defer { location.removeIfSQLite() }
            async let openA = location.openStore()
            async let openB = location.openStore()
            let (storeA, storeB) = try await (openA, openB)
            let a = Ledger(store: storeA)
            let b = Ledger(store: storeB)
            func record(_ index: Int, instance: String) -> LedgerRecord {
                SyntheticRecord.make(index, tenant: "fleet", instanceID: instance)
            }
            // 0..<300 only through A, 300..<600 only through B, 600..<800 the same record through
            // both (a retried append), 800..<900 a different record through each (a reused id).
            let onA =
                (0..<300).map { record($0, instance: "a") } + (600..<800).map { record($0, instance: "shared") }
                + (800..<900).map { record($0, instance: "a") }
            let onB =
                (300..<600).map { record($0, instance: "b") } + (600..<800).map { record($0, instance: "shared") }
                + (800..<900).map { record($0, instance: "b") }
            async let tallyA = Self.append(onA.shuffled(), to: a, writers: 16)
            async let tallyB = Self.append(onB.shuffled(), to: b, writers: 16)
            let total = try await tallyA + tallyB
            await a.close()
            await b.close()

            #expect(total == Tally(recorded: 900, duplicate: 200, conflict: 100))
            let store = try await location.openStore()
            #expect(try await store.recordCount(tenant: "fleet") == 900)
            for index in [0, 299, 300, 599, 600, 799] {
                let expected = record(index, instance: index < 300 ? "a" : index < 600 ? "b" : "shared")
                #expect(try await store.record(tenant: "fleet", requestID: "req-\(index)") == expected)
            }
            for index in [800, 850, 899] {
                let stored = try await store.record(tenant: "fleet", requestID: "req-\(index)")
                #expect(stored == record(index, instance: "a") || stored == record(index, instance: "b"))
            }
            let report = try await store.monthlyTotals(ReportQuery(tenant: "fleet"))
            #expect(report.map(\.requests).reduce(0, +) == 900)
            #expect(report.map(\.conflicts).reduce(0, +) == 100)
            await store.close()
        }
    }
}
