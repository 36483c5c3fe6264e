public import Logging

extension LedgerLocation {
    /// Opens the store at this location and brings its schema up to date.
    ///
    /// - Parameters:
    ///   - createIfMissing: Whether a missing SQLite file is created (the server: yes; reports: no,
    ///     they fail with `ledger_not_found`). PostgreSQL databases are never created.
    ///   - logger: Where the store logs (PostgreSQL's connection pool).
    public func openStore(
        createIfMissing: Bool = true,
        logger: Logger = Logger(label: "flexd.ledger", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws(LedgerError) -> any LedgerStore {
        switch self {
        case .sqlite(let path):
            return try await SQLiteLedgerStore.open(path: path, createIfMissing: createIfMissing)
        case .postgres(let location):
            return try await PostgresLedgerStore.open(location, logger: logger)
        }
    }
}
