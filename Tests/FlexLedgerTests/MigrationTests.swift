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
        /// A later migration, for the upgrade path (not part of the real schema).
        static let version2 = LedgerSchemaForTests.migration(
            version: 2,
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
            let old = try await LedgerSchemaForTests.open(location, migrations: [Self.version1])
            #expect(try await old.write([record]) == [.recorded])
            await old.close()

            let upgraded = try await LedgerSchemaForTests.open(location, migrations: [Self.version1, Self.version2])
            #expect(try await upgraded.schemaVersion() == 2)
            #expect(try await upgraded.record(tenant: "acme", requestID: record.requestID) == record)
            #expect(try await upgraded.write([SyntheticRecord.make(2, tenant: "acme")]) == [.recorded])
            await upgraded.close()
            #expect(try await Self.appliedVersions(location) == [1, 2])

            let error = await #expect(throws: LedgerError.self) {
                try await LedgerSchemaForTests.open(location, migrations: [Self.version1])
            }
            #expect(error?.code == .schemaTooNew)
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
