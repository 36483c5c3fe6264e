import FlexLedger
import Logging

/// The package-level schema API the migration tests use.
enum LedgerSchemaForTests {
    static var migrations: [LedgerMigration] { LedgerSchema.migrations }
    static var latestVersion: Int { LedgerSchema.latestVersion }

    static func migration(version: Int, name: String, sqlite: [String], postgres: [String]) -> LedgerMigration {
        LedgerMigration(version: version, name: name, sqlite: sqlite, postgres: postgres)
    }

    /// Opens a store with an explicit migration list.
    static func open(_ location: LedgerLocation, migrations: [LedgerMigration]) async throws -> any LedgerStore {
        switch location {
        case .sqlite(let path):
            return try await SQLiteLedgerStore.open(path: path, createIfMissing: true, migrations: migrations)
        case .postgres(let postgres):
            return try await PostgresLedgerStore.open(
                postgres,
                maximumConnections: 2,
                connectTimeout: .seconds(15),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                migrations: migrations
            )
        }
    }
}
