import FlexCore
import FlexLedger
import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing

extension LedgerStoreTests {
    /// Versioned migrations: from an empty database, on re-opening, an upgrade, and refusals.
    @Suite struct MigrationTests {
        static let version1 = LedgerSchemaForTests.migrations[0]
        static let version2 = LedgerSchemaForTests.migrations[1]
        /// A later migration, for the upgrade path (not part of the real schema).
        static let version3 = LedgerSchemaForTests.migration(
            version: 3,
            name: "test: a note column",
            sqlite: ["ALTER TABLE ledger_records ADD COLUMN test_note TEXT"],
            postgres: ["ALTER TABLE ledger_records ADD COLUMN test_note TEXT"]
        )

        @Test(arguments: StoreKind.allCases)
        func anEmptyDatabaseIsMigratedToTheLatestVersion(_ kind: StoreKind) async throws {
            try await kind.withStore { store, location async throws in
                #expect(try await store.schemaVersion() == LedgerSchemaForTests.latestVersion)
                #expect(try await Self.appliedVersions(location) == Array(1...LedgerSchemaForTests.latestVersion))
                #expect(try await store.write([SyntheticRecord.make(1, tenant: "acme")]) == [.recorded])
            }
        }

        @Test(arguments: StoreKind.allCases)
        func reopeningKeepsRecordsAndMigratesNothing(_ kind: StoreKind) async throws {
            let location = try await kind.freshLocation()
            defer { location.removeIfSQLite() }
            let record = SyntheticRecord.make(1, tenant: "acme")
            for round in 0..<3 {
                let store = try await location.openStore()
                #expect(try await store.schemaVersion() == LedgerSchemaForTests.latestVersion)
                #expect(try await store.write([record]) == [round == 0 ? .recorded : .duplicate])
                await store.close()
            }
            #expect(try await Self.appliedVersions(location) == Array(1...LedgerSchemaForTests.latestVersion))
        }

        @Test(arguments: StoreKind.allCases)
        func aNewMigrationUpgradesAnOldLedgerAndAnOldFlexdRefusesIt(_ kind: StoreKind) async throws {
            let location = try await kind.freshLocation()
            defer { location.removeIfSQLite() }
            let record = SyntheticRecord.make(1, tenant: "acme")
            let old = try await LedgerSchemaForTests.open(location, migrations: [Self.version1, Self.version2])
            #expect(try await old.write([record]) == [.recorded])
            await old.close()

            let upgraded = try await LedgerSchemaForTests.open(
                location,
                migrations: [Self.version1, Self.version2, Self.version3]
            )
            #expect(try await upgraded.schemaVersion() == 3)
            #expect(try await upgraded.record(tenant: "acme", requestID: record.requestID) == record)
            #expect(try await upgraded.write([SyntheticRecord.make(2, tenant: "acme")]) == [.recorded])
            await upgraded.close()
            #expect(try await Self.appliedVersions(location) == [1, 2, 3])

            let error = await #expect(throws: LedgerError.self) {
                try await LedgerSchemaForTests.open(location, migrations: [Self.version1, Self.version2])
            }
            #expect(error?.code == .schemaTooNew)
        }

        /// A ledger written by a flexd that knew only migration 1 (its rows inserted with version 1's
        /// columns) keeps its rows through migration 2; they read back with no retries and counted
        /// tokens, and new records carry both fields.
        @Test(arguments: StoreKind.allCases)
        func aVersion1LedgerKeepsItsRowsThroughMigration2(_ kind: StoreKind) async throws {
            let location = try await kind.freshLocation()
            defer { location.removeIfSQLite() }
            await (try await LedgerSchemaForTests.open(location, migrations: [Self.version1])).close()
            let old = SyntheticRecord.make(7, tenant: "acme")
            try await RawLedger.execute(location, Self.version1Insert(old, postgres: kind == .postgres))

            let store = try await location.openStore()
            #expect(try await store.schemaVersion() == 2)
            let read = try await store.record(tenant: "acme", requestID: old.requestID)
            #expect(read == old)
            #expect(read?.retries == 0 && read?.tokensEstimated == false)
            var new = SyntheticRecord.make(8, tenant: "acme")
            new.retries = 3
            new.tokensEstimated = true
            #expect(try await store.write([new]) == [.recorded])
            #expect(try await store.record(tenant: "acme", requestID: new.requestID) == new)
            await store.close()
            #expect(try await Self.appliedVersions(location) == [1, 2])
        }

        /// `record` as version 1's INSERT wrote it (its columns only).
        static func version1Insert(_ record: LedgerRecord, postgres: Bool) -> String {
            func text(_ value: String?) -> String { value.map { "'\($0)'" } ?? "NULL" }
            let (status, errorCode): (String, String) =
                switch record.outcome {
                case .completed: ("OK", "")
                case .failed(let status, let code): (status.description, code)
                }
            let values: [String] = [
                text(record.tenant), text(record.requestID), text(record.instanceID), text(record.provider.name),
                text(record.api.name), text(record.model), text(record.startWithin), text(record.tierRequested.name),
                text(record.tierServed?.name), text(record.tierServedReported),
                postgres ? "\(record.fellBack)" : (record.fellBack ? "1" : "0"), text(record.fallbackReason?.name),
                "\(record.flexAttempts)", "\(record.flexWaitMicroseconds)", "\(record.timeToStartMicroseconds)",
                "\(record.totalMicroseconds)", "\(record.tokens.inputTokens)", "\(record.tokens.cachedInputTokens)",
                "\(record.tokens.cacheWriteTokens)", "\(record.tokens.cacheWrite1hTokens)",
                "\(record.tokens.outputTokens)", "\(record.tokens.reasoningTokens)", "\(record.standardCostPicoUSD)",
                "\(record.actualCostPicoUSD)", "\(record.savedPicoUSD)", "\(record.feePicoUSD)",
                text(record.priceDate), text(record.outcome.name), text(status), text(errorCode),
                "\(record.receivedAtMicroseconds)", "\(record.completedAtMicroseconds)",
                text(record.billingMonth.description), "\(record.completedAtMicroseconds)",
            ]
            let columns = """
                tenant, request_id, instance_id, provider, api, model, start_within, tier_requested, tier_served,
                tier_served_reported, fell_back, fallback_reason, flex_attempts, flex_wait_us, time_to_start_us,
                total_us, input_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens,
                output_tokens, reasoning_tokens, standard_cost_picousd, actual_cost_picousd, saved_picousd,
                fee_picousd, price_date, outcome, status_code, error_code, received_at_us, completed_at_us,
                billing_month, recorded_at_us
                """
            return "INSERT INTO ledger_records (\(columns)) VALUES (\(values.joined(separator: ", ")))"
        }

        @Test(arguments: StoreKind.allCases)
        func aMigrationWithAnotherNameIsAMismatch(_ kind: StoreKind) async throws {
            let location = try await kind.freshLocation()
            defer { location.removeIfSQLite() }
            await (try await location.openStore()).close()
            var renamed = Self.version1
            renamed.name = "something else"
            let error = await #expect(throws: LedgerError.self) {
                try await LedgerSchemaForTests.open(location, migrations: [renamed])
            }
            #expect(error?.code == .schemaMismatch)
        }

        @Test(arguments: StoreKind.allCases)
        func instancesStartingTogetherMigrateOnce(_ kind: StoreKind) async throws {
            let location = try await kind.freshLocation()
            defer { location.removeIfSQLite() }
            let stores = try await withThrowingTaskGroup(of: (any LedgerStore).self) { group in
                for _ in 0..<4 { group.addTask { try await location.openStore() } }
                var stores: [any LedgerStore] = []
                for try await store in group { stores.append(store) }
                return stores
            }
            for store in stores {
                #expect(try await store.schemaVersion() == LedgerSchemaForTests.latestVersion)
                await store.close()
            }
            #expect(try await Self.appliedVersions(location) == Array(1...LedgerSchemaForTests.latestVersion))
        }

        /// The rows of `ledger_schema_migrations`, read directly.
        static func appliedVersions(_ location: LedgerLocation) async throws -> [Int] {
            try await RawLedger.ints(location, "SELECT version FROM ledger_schema_migrations ORDER BY version")
        }
    }
}
