internal import FlexCore
internal import Foundation
internal import GRDB

/// The ledger in one SQLite file: flexd's default store, for one flexd instance.
///
/// It runs GRDB over Debian's system SQLite. The file is in WAL mode with `synchronous=FULL`:
/// every commit fsyncs the WAL before it returns (`NORMAL`, SQLite's usual WAL setting, would
/// survive a process crash but could lose the last commits on power loss). Opening checks that
/// both settings took effect and refuses the file otherwise. Writes take `BEGIN IMMEDIATE`
/// transactions on GRDB's single writer connection; reports read from a pool of readers, which
/// WAL lets run beside the writer. Another process may open the same file (writes wait up to 10
/// seconds for the lock), but several flexd instances should share a PostgreSQL ledger instead.
public final class SQLiteLedgerStore: LedgerStore {
    /// The database file.
    public let path: String
    private let pool: DatabasePool

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// Opens (and creates, unless `createIfMissing` is false) the ledger at `path`, checks its
    /// durability settings and brings its schema up to date.
    public static func open(path: String, createIfMissing: Bool = true) async throws(LedgerError) -> SQLiteLedgerStore {
        try await self.open(path: path, createIfMissing: createIfMissing, migrations: LedgerSchema.migrations)
    }

    /// ``open(path:createIfMissing:)`` with an explicit migration list (for the migration tests).
    package static func open(
        path: String,
        createIfMissing: Bool,
        migrations: [LedgerMigration]
    ) async throws(LedgerError) -> SQLiteLedgerStore {
        let files = FileManager.default
        if !files.fileExists(atPath: path) {
            guard createIfMissing else {
                throw LedgerError(.notFound, "there is no SQLite ledger at \(path)")
            }
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty {
                do {
                    try files.createDirectory(atPath: folder, withIntermediateDirectories: true)
                } catch {
                    throw LedgerError(
                        .storeFailed,
                        "cannot create the ledger's folder \(folder): \(error.localizedDescription)"
                    )
                }
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "flexd.ledger"
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw Self.storeError(error, "cannot open the SQLite ledger at \(path)")
        }
        let store = SQLiteLedgerStore(path: path, pool: pool)
        do {
            try await store.checkDurability()
            try await store.migrate(migrations)
        } catch {
            try? pool.close()
            throw error
        }
        return store
    }

    /// Sets `synchronous=FULL` on the writer connection (the only one that commits) and checks
    /// it took, with WAL. GRDB's pool sets `synchronous=NORMAL` when it turns WAL on, after any
    /// `prepareDatabase` hook, so this runs once the pool is open.
    private func checkDurability() async throws(LedgerError) {
        let (journal, synchronous): (String, Int) = try await self.writing("cannot set the ledger's durability") { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            return (
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
        guard journal.lowercased() == "wal", synchronous >= 2 else {
            throw LedgerError(
                .notDurable,
                "the SQLite ledger at \(self.path) runs journal_mode=\(journal), synchronous=\(synchronous); flexd needs WAL with synchronous=FULL (2)"
            )
        }
    }

    private func migrate(_ migrations: [LedgerMigration]) async throws(LedgerError) {
        try await self.writing("cannot migrate the ledger's schema") { db in
            try db.inTransaction(.immediate) {
                try db.execute(sql: LedgerSchema.migrationsTableSQLite)
                let applied = try Row.fetchAll(
                    db,
                    sql: "SELECT version, name FROM ledger_schema_migrations ORDER BY version"
                )
                .map { (version: $0[0] as Int, name: $0[1] as String) }
                for migration in try LedgerSchema.pending(applied: applied, known: migrations) {
                    for statement in migration.sqlite { try db.execute(sql: statement) }
                    try db.execute(
                        sql: "INSERT INTO ledger_schema_migrations (version, name, applied_at_us) VALUES (?, ?, ?)",
                        arguments: [migration.version, migration.name, WallClock.microsecondsSinceEpoch()]
                    )
                }
                return .commit
            }
        }
    }

    // MARK: - LedgerStore

    public func write(_ records: [LedgerRecord]) async throws(LedgerError) -> [AppendOutcome] {
        try await self.writing("cannot write to the SQLite ledger") { db in
            var outcomes: [AppendOutcome] = []
            outcomes.reserveCapacity(records.count)
            try db.inTransaction(.immediate) {
                let now = WallClock.microsecondsSinceEpoch()
                let insert = try db.cachedStatement(sql: SQLiteLedgerStore.insertRecordSQL)
                for record in records {
                    try insert.execute(
                        arguments: StatementArguments(record.columnValues.map(\.databaseValue) + [now.databaseValue])
                    )
                    if db.changesCount > 0 {
                        outcomes.append(.recorded)
                        continue
                    }
                    guard
                        let stored = try SQLiteLedgerStore.fetchRecord(
                            db,
                            tenant: record.tenant,
                            requestID: record.requestID
                        )
                    else {
                        throw LedgerError(.storeFailed, "request \(record.requestID) was neither inserted nor found")
                    }
                    let differing = record.differingFields(from: stored)
                    if differing.isEmpty {
                        outcomes.append(.duplicate)
                    } else {
                        let conflict = try db.cachedStatement(sql: SQLiteLedgerStore.insertConflictSQL)
                        try conflict.execute(
                            arguments: StatementArguments(
                                record.columnValues.map(\.databaseValue)
                                    + [
                                        record.fingerprint.databaseValue,
                                        differing.joined(separator: ",").databaseValue, now.databaseValue,
                                    ]
                            )
                        )
                        outcomes.append(.conflict(differingFields: differing))
                    }
                }
                return .commit
            }
            return outcomes
        }
    }

    public func monthlyTotals(_ query: ReportQuery) async throws(LedgerError) -> [MonthlyTotals] {
        let (totalsSQL, totalsParameters) = ReportSQL.totals(.sqlite, query)
        let (conflictsSQL, conflictsParameters) = ReportSQL.conflicts(.sqlite, query)
        let (rows, conflictRows) = try await self.reading("cannot read the SQLite ledger's report") { db in
            (
                try Row.fetchAll(
                    db,
                    sql: totalsSQL,
                    arguments: StatementArguments(totalsParameters.map(\.databaseValue))
                ).map(\.ledgerValues),
                try Row.fetchAll(
                    db,
                    sql: conflictsSQL,
                    arguments: StatementArguments(conflictsParameters.map(\.databaseValue))
                )
                .map { ($0[0] as String, $0[1] as String, $0[2] as Int64) }
            )
        }
        var totals: [MonthlyTotals] = []
        for row in rows { totals.append(try ReportSQL.decodeTotals(.sqlite, row)) }
        return ReportSQL.merge(totals, conflicts: conflictRows)
    }

    public func record(tenant: String, requestID: String) async throws(LedgerError) -> LedgerRecord? {
        let values = try await self.reading("cannot read the SQLite ledger") { db in
            try Row.fetchOne(db, sql: SQLiteLedgerStore.selectRecordSQL, arguments: [tenant, requestID])?.ledgerValues
        }
        return try values.map { values throws(LedgerError) in try LedgerRecord(columnValues: values) }
    }

    public func recordCount(tenant: String?) async throws(LedgerError) -> Int {
        try await self.reading("cannot read the SQLite ledger") { db in
            if let tenant {
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ledger_records WHERE tenant = ?", arguments: [tenant])
                    ?? 0
            } else {
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ledger_records") ?? 0
            }
        }
    }

    public func schemaVersion() async throws(LedgerError) -> Int {
        try await self.reading("cannot read the SQLite ledger's schema version") { db in
            try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(version), 0) FROM ledger_schema_migrations") ?? 0
        }
    }

    public func close() async {
        try? self.pool.close()
    }

    // MARK: - SQL

    private static let insertRecordSQL: String = {
        let columns = LedgerColumns.names + ["recorded_at_us"]
        return
            "INSERT INTO ledger_records (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", "))) ON CONFLICT (tenant, request_id) DO NOTHING"
    }()

    private static let insertConflictSQL: String = {
        let columns = LedgerColumns.names + ["fingerprint", "differing_fields", "detected_at_us"]
        return
            "INSERT INTO ledger_conflicts (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", "))) ON CONFLICT DO NOTHING"
    }()

    private static let selectRecordSQL =
        "SELECT \(LedgerColumns.names.joined(separator: ", ")) FROM ledger_records WHERE tenant = ? AND request_id = ?"

    private static func fetchRecord(_ db: Database, tenant: String, requestID: String) throws -> LedgerRecord? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: selectRecordSQL), arguments: [tenant, requestID])
        else { return nil }
        return try LedgerRecord(columnValues: row.ledgerValues)
    }

    // MARK: - Errors

    private func writing<T: Sendable>(
        _ what: String,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(LedgerError) -> T {
        do {
            return try await self.pool.writeWithoutTransaction(body)
        } catch {
            throw Self.storeError(error, what)
        }
    }

    private func reading<T: Sendable>(
        _ what: String,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(LedgerError) -> T {
        do {
            return try await self.pool.read(body)
        } catch {
            throw Self.storeError(error, what)
        }
    }

    /// A ``LedgerError`` for any error: ledger errors pass through; SQLite errors keep their code
    /// and message (never the statement's arguments).
    private static func storeError(_ error: any Error, _ what: String) -> LedgerError {
        switch error {
        case let error as LedgerError:
            return error
        case let error as DatabaseError:
            if error.resultCode == .SQLITE_MISUSE {
                return LedgerError(.closed, "\(what): the ledger is closed")
            }
            return LedgerError(
                .storeFailed,
                "\(what): SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "unknown")"
            )
        default:
            return LedgerError(.storeFailed, "\(what): \(error)")
        }
    }
}

extension LedgerValue {
    var databaseValue: DatabaseValue {
        switch self {
        case .text(let text): text.databaseValue
        case .int(let int): int.databaseValue
        case .bool(let flag): (flag ? Int64(1) : Int64(0)).databaseValue
        case .null: .null
        }
    }
}

extension Row {
    /// The row's values as ledger values (SQLite has no REAL or BLOB in the ledger).
    var ledgerValues: [LedgerValue] {
        self.databaseValues.map { value in
            switch value.storage {
            case .null: .null
            case .int64(let int): .int(int)
            case .string(let text): .text(text)
            case .double(let double): .int(Int64(exactly: double) ?? Int64.min)
            case .blob(let data): .text(String(decoding: data, as: UTF8.self))
            }
        }
    }
}
