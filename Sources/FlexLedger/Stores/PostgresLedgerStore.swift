internal import FlexCore
public import Logging
internal import NIOSSL
internal import PostgresNIO

/// The ledger in a PostgreSQL database, for several flexd instances writing one ledger.
///
/// It runs postgres-nio's connection pool. Each batch is one transaction with
/// `SET LOCAL synchronous_commit TO on`, so `COMMIT` returns only once the server has flushed its
/// WAL, whatever the server's default; opening refuses a server running with `fsync=off`.
/// Instances coordinate through the primary key alone: an insert of an existing (tenant,
/// request id) does nothing (`ON CONFLICT DO NOTHING`) and then compares. Rows are inserted in key
/// order, so two instances' batches cannot deadlock; a deadlock or serialization failure is
/// retried anyway. Migrations run under a transaction-scoped advisory lock, so instances starting
/// together migrate once.
public final class PostgresLedgerStore: LedgerStore {
    /// The server and database (``LedgerLocation/description`` hides the password).
    public let location: LedgerLocation.PostgresLocation
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// Rows per INSERT statement (34 parameters each, well under PostgreSQL's 65,535).
    private static let rowsPerStatement = 1000
    /// Serializes migrations across instances (an arbitrary constant: "flexledg").
    private static let migrationLockKey: Int64 = 0x666c_6578_6c65_6467

    private init(
        location: LedgerLocation.PostgresLocation,
        client: PostgresClient,
        runner: Task<Void, Never>,
        logger: Logger
    ) {
        self.location = location
        self.client = client
        self.runner = runner
        self.logger = logger
    }

    /// Connects to `location`, checks the server's durability setting and brings the schema up
    /// to date. Fails after `connectTimeout` when the server cannot be reached.
    public static func open(
        _ location: LedgerLocation.PostgresLocation,
        maximumConnections: Int = 4,
        connectTimeout: Duration = .seconds(15),
        logger: Logger = Logger(label: "flexd.ledger", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws(LedgerError) -> PostgresLedgerStore {
        try await self.open(
            location,
            maximumConnections: maximumConnections,
            connectTimeout: connectTimeout,
            logger: logger,
            migrations: LedgerSchema.migrations
        )
    }

    /// ``open(_:maximumConnections:connectTimeout:logger:)`` with an explicit migration list (for the tests).
    package static func open(
        _ location: LedgerLocation.PostgresLocation,
        maximumConnections: Int,
        connectTimeout: Duration,
        logger: Logger,
        migrations: [LedgerMigration]
    ) async throws(LedgerError) -> PostgresLedgerStore {
        let tls: PostgresClient.Configuration.TLS
        switch location.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: location.host,
            port: location.port,
            username: location.user,
            password: location.password,
            database: location.database,
            tls: tls
        )
        configuration.options.maximumConnections = max(1, maximumConnections)
        configuration.options.connectTimeout = connectTimeout
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let runner = Task { await client.run() }
        let store = PostgresLedgerStore(location: location, client: client, runner: runner, logger: logger)
        do {
            try await store.withDeadline(
                connectTimeout,
                "cannot reach the PostgreSQL ledger at \(LedgerLocation.postgres(location))"
            ) {
                () async throws(LedgerError) in
                try await store.checkDurability()
                try await store.migrate(migrations)
            }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    private func checkDurability() async throws(LedgerError) {
        let fsync = try await self.run("cannot read the server's settings") { client, logger in
            var value = ""
            for try await row in try await client.query("SHOW fsync", logger: logger) {
                value = try row.decode(String.self)
            }
            return value
        }
        guard fsync == "on" else {
            throw LedgerError(
                .notDurable,
                "the PostgreSQL server at \(LedgerLocation.postgres(self.location)) runs with fsync=\(fsync); flexd's ledger needs fsync=on"
            )
        }
    }

    private func migrate(_ migrations: [LedgerMigration]) async throws(LedgerError) {
        try await self.transaction("cannot migrate the ledger's schema") { connection, logger in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(PostgresLedgerStore.migrationLockKey))",
                logger: logger
            )
            try await connection.query(PostgresQuery(unsafeSQL: LedgerSchema.migrationsTablePostgres), logger: logger)
            var applied: [(version: Int, name: String)] = []
            for try await (version, name) in try await connection.query(
                "SELECT version, name FROM ledger_schema_migrations ORDER BY version",
                logger: logger
            ).decode((Int32, String).self) {
                applied.append((Int(version), name))
            }
            for migration in try LedgerSchema.pending(applied: applied, known: migrations) {
                for statement in migration.postgres {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO ledger_schema_migrations (version, name, applied_at_us) VALUES (\(Int32(migration.version)), \(migration.name), \(WallClock.microsecondsSinceEpoch()))",
                    logger: logger
                )
            }
        }
    }

    // MARK: - LedgerStore

    public func write(_ records: [LedgerRecord]) async throws(LedgerError) -> [AppendOutcome] {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await self.client.withTransaction(logger: self.logger) { connection in
                    try await PostgresLedgerStore.write(records, on: connection, logger: self.logger)
                }
            } catch {
                // Key-ordered inserts make deadlocks between instances impossible in principle;
                // should the server still abort the transaction for one, running it again is safe.
                if attempt < 4, let state = Self.sqlState(of: error), state == "40001" || state == "40P01" {
                    self.logger.debug("ledger transaction retried", metadata: ["sqlstate": "\(state)"])
                    continue
                }
                throw Self.storeError(error, "cannot write \(records.count) record(s) to the PostgreSQL ledger")
            }
        }
    }

    private struct Key: Hashable, Comparable {
        var tenant: String
        var requestID: String
        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.tenant, lhs.requestID) < (rhs.tenant, rhs.requestID) }
    }

    private static func write(
        _ records: [LedgerRecord],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [AppendOutcome] {
        try await connection.query("SET LOCAL synchronous_commit TO on", logger: logger)
        let now = WallClock.microsecondsSinceEpoch()
        // The first record of each key is inserted, in key order (a fixed lock order across instances).
        var firstIndex: [Key: Int] = [:]
        for (index, record) in records.enumerated()
        where firstIndex[Key(tenant: record.tenant, requestID: record.requestID)] == nil {
            firstIndex[Key(tenant: record.tenant, requestID: record.requestID)] = index
        }
        let keys = firstIndex.keys.sorted()
        var inserted = Set<Key>()
        for chunk in stride(from: 0, to: keys.count, by: self.rowsPerStatement).map({
            keys[$0..<min($0 + self.rowsPerStatement, keys.count)]
        }) {
            let query = self.insertQuery(
                table: "ledger_records",
                rows: chunk.map { records[firstIndex[$0]!].columnValues + [.int(now)] },
                extraColumns: ["recorded_at_us"],
                conflictTarget: "(tenant, request_id)",
                returning: " RETURNING tenant, request_id"
            )
            for try await (tenant, requestID) in try await connection.query(query, logger: logger).decode(
                (String, String).self
            ) {
                inserted.insert(Key(tenant: tenant, requestID: requestID))
            }
        }
        // What is stored for the keys that were there already.
        var stored: [Key: LedgerRecord] = [:]
        let existing = keys.filter { !inserted.contains($0) }
        for chunk in stride(from: 0, to: existing.count, by: self.rowsPerStatement).map({
            existing[$0..<min($0 + self.rowsPerStatement, existing.count)]
        }) {
            var bindings = PostgresBindings(capacity: chunk.count * 2)
            var tuples: [String] = []
            for key in chunk {
                bindings.append(key.tenant)
                bindings.append(key.requestID)
                tuples.append("($\(bindings.count - 1), $\(bindings.count))")
            }
            let sql =
                "SELECT \(LedgerColumns.names.joined(separator: ", ")) FROM ledger_records WHERE (tenant, request_id) IN (\(tuples.joined(separator: ", ")))"
            for try await row in try await connection.query(
                PostgresQuery(unsafeSQL: sql, binds: bindings),
                logger: logger
            ) {
                let record = try LedgerRecord(columnValues: try row.ledgerValues(LedgerColumns.all.map(\.type)))
                stored[Key(tenant: record.tenant, requestID: record.requestID)] = record
            }
        }
        for key in inserted { stored[key] = records[firstIndex[key]!] }
        // One outcome per record; conflicting records go to ledger_conflicts.
        var outcomes: [AppendOutcome] = []
        var conflicts: [[LedgerValue]] = []
        for (index, record) in records.enumerated() {
            let key = Key(tenant: record.tenant, requestID: record.requestID)
            if firstIndex[key] == index, inserted.contains(key) {
                outcomes.append(.recorded)
                continue
            }
            guard let first = stored[key] else {
                throw LedgerError(.storeFailed, "request \(record.requestID) was neither inserted nor found")
            }
            let differing = record.differingFields(from: first)
            if differing.isEmpty {
                outcomes.append(.duplicate)
            } else {
                outcomes.append(.conflict(differingFields: differing))
                conflicts.append(
                    record.columnValues + [
                        .text(record.fingerprint), .text(differing.joined(separator: ",")), .int(now),
                    ]
                )
            }
        }
        for chunk in stride(from: 0, to: conflicts.count, by: self.rowsPerStatement).map({
            conflicts[$0..<min($0 + self.rowsPerStatement, conflicts.count)]
        }) {
            let query = self.insertQuery(
                table: "ledger_conflicts",
                rows: Array(chunk),
                extraColumns: ["fingerprint", "differing_fields", "detected_at_us"],
                conflictTarget: "",
                returning: ""
            )
            try await connection.query(query, logger: logger)
        }
        return outcomes
    }

    private static func insertQuery(
        table: String,
        rows: [[LedgerValue]],
        extraColumns: [String],
        conflictTarget: String,
        returning: String
    ) -> PostgresQuery {
        let columns = LedgerColumns.names + extraColumns
        var bindings = PostgresBindings(capacity: rows.count * columns.count)
        var tuples: [String] = []
        tuples.reserveCapacity(rows.count)
        for row in rows {
            var placeholders: [String] = []
            for value in row {
                bindings.append(value)
                placeholders.append("$\(bindings.count)")
            }
            tuples.append("(\(placeholders.joined(separator: ", ")))")
        }
        let sql =
            "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES \(tuples.joined(separator: ", ")) ON CONFLICT \(conflictTarget) DO NOTHING\(returning)"
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    public func monthlyTotals(_ query: ReportQuery) async throws(LedgerError) -> [MonthlyTotals] {
        let (totalsSQL, totalsParameters) = ReportSQL.totals(.postgres, query)
        let (conflictsSQL, conflictsParameters) = ReportSQL.conflicts(.postgres, query)
        let types: [LedgerColumnType] =
            [.text, .text, .int, .int, .int, .int]
            + Array(repeating: .optionalText, count: ReportSQL.summedColumns.count)
        let (rows, conflictRows) = try await self.run("cannot read the PostgreSQL ledger's report") { client, logger in
            var rows: [[LedgerValue]] = []
            for try await row in try await client.query(
                PostgresQuery(unsafeSQL: totalsSQL, binds: .init(totalsParameters)),
                logger: logger
            ) {
                rows.append(try row.ledgerValues(types))
            }
            var conflictRows: [(String, String, Int64)] = []
            for try await row in try await client.query(
                PostgresQuery(unsafeSQL: conflictsSQL, binds: .init(conflictsParameters)),
                logger: logger
            ).decode((String, String, Int64).self) {
                conflictRows.append(row)
            }
            return (rows, conflictRows)
        }
        var totals: [MonthlyTotals] = []
        for row in rows { totals.append(try ReportSQL.decodeTotals(.postgres, row)) }
        return ReportSQL.merge(totals, conflicts: conflictRows)
    }

    public func record(tenant: String, requestID: String) async throws(LedgerError) -> LedgerRecord? {
        let values = try await self.run("cannot read the PostgreSQL ledger") { client, logger -> [LedgerValue]? in
            let sql =
                "SELECT \(LedgerColumns.names.joined(separator: ", ")) FROM ledger_records WHERE tenant = $1 AND request_id = $2"
            var values: [LedgerValue]?
            for try await row in try await client.query(
                PostgresQuery(unsafeSQL: sql, binds: .init([.text(tenant), .text(requestID)])),
                logger: logger
            ) {
                values = try row.ledgerValues(LedgerColumns.all.map(\.type))
            }
            return values
        }
        return try values.map { values throws(LedgerError) in try LedgerRecord(columnValues: values) }
    }

    public func recordCount(tenant: String?) async throws(LedgerError) -> Int {
        try await self.run("cannot read the PostgreSQL ledger") { client, logger in
            let query: PostgresQuery =
                tenant.map { "SELECT COUNT(*) FROM ledger_records WHERE tenant = \($0)" }
                ?? "SELECT COUNT(*) FROM ledger_records"
            var count: Int64 = 0
            for try await value in try await client.query(query, logger: logger).decode(Int64.self) { count = value }
            return Int(count)
        }
    }

    public func schemaVersion() async throws(LedgerError) -> Int {
        try await self.run("cannot read the PostgreSQL ledger's schema version") { client, logger in
            var version: Int32 = 0
            for try await value in try await client.query(
                "SELECT COALESCE(MAX(version), 0) FROM ledger_schema_migrations",
                logger: logger
            ).decode(Int32.self) {
                version = value
            }
            return Int(version)
        }
    }

    public func close() async {
        self.runner.cancel()
        await self.runner.value
    }

    // MARK: - Running queries

    private func transaction<T: Sendable>(
        _ what: String,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws(LedgerError) -> T {
        do {
            return try await self.client.withTransaction(logger: self.logger) { connection in
                try await body(connection, self.logger)
            }
        } catch {
            throw Self.storeError(error, what)
        }
    }

    private func run<T: Sendable>(
        _ what: String,
        _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T
    ) async throws(LedgerError) -> T {
        do {
            return try await body(self.client, self.logger)
        } catch {
            throw Self.storeError(error, what)
        }
    }

    /// The deadlines of opening a store, on the PostgreSQL client's event loops.
    private static let timers = DeadlineTimers(on: PostgresClient.defaultEventLoopGroup.next())

    /// Runs `body`, failing with `what` when it has not finished after `timeout`.
    private func withDeadline(
        _ timeout: Duration,
        _ what: String,
        _ body: @escaping @Sendable () async throws(LedgerError) -> Void
    )
        async throws(LedgerError)
    {
        let result: Result<Void, LedgerError> = await withTaskGroup(of: Result<Void, LedgerError>?.self) { group in
            group.addTask {
                do throws(LedgerError) { try await body() } catch { return .failure(error) }
                return .success(())
            }
            group.addTask {
                await Self.timers.sleep(until: .now + timeout)
                return Task.isCancelled ? nil : .failure(LedgerError(.unavailable, "\(what) within \(timeout)"))
            }
            var first: Result<Void, LedgerError>?
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first ?? .failure(LedgerError(.storeFailed, what))
        }
        try result.get()
    }

    private static func sqlState(of error: any Error) -> String? {
        switch error {
        case let error as PSQLError: return error.serverInfo?[.sqlState]
        case let error as PostgresTransactionError:
            return [error.closureError, error.commitError, error.beginError].compactMap { $0.flatMap(sqlState(of:)) }
                .first
        default: return nil
        }
    }

    /// A ``LedgerError`` for any error: ledger errors pass through; PostgreSQL errors keep their
    /// SQLSTATE and message (never a query's parameters or the password).
    private static func storeError(_ error: any Error, _ what: String) -> LedgerError {
        switch error {
        case let error as LedgerError:
            return error
        case let error as PostgresTransactionError:
            if let inner = error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError {
                return self.storeError(inner, what)
            }
            return LedgerError(.storeFailed, "\(what): the transaction failed")
        case let error as PSQLError:
            if error.code == .poolClosed || error.code == .clientClosedConnection {
                return LedgerError(.closed, "\(what): the ledger is closed")
            }
            if error.code == .connectionError || error.code == .serverClosedConnection || error.code == .uncleanShutdown
            {
                return LedgerError(.unavailable, "\(what): the connection to the server failed (\(error.code))")
            }
            if let info = error.serverInfo {
                return LedgerError(
                    .storeFailed,
                    "\(what): PostgreSQL \(info[.sqlState] ?? "?"): \(info[.message] ?? "unknown error")"
                )
            }
            return LedgerError(.storeFailed, "\(what): \(error.code)")
        default:
            // postgres-nio's pool errors (its module is not public API): a shut-down pool, or no
            // connection for about a minute (its circuit breaker).
            let text = String(describing: error)
            if text.contains("poolShutdown") {
                return LedgerError(.closed, "\(what): the ledger is closed")
            }
            if text.contains("CircuitBreakerTripped") {
                return LedgerError(.unavailable, "\(what): no connection to the server could be made")
            }
            return LedgerError(.storeFailed, "\(what): \(type(of: error))")
        }
    }
}

extension PostgresBindings {
    init(_ values: [LedgerValue]) {
        self.init(capacity: values.count)
        for value in values { self.append(value) }
    }

    mutating func append(_ value: LedgerValue) {
        switch value {
        case .text(let text): self.append(text)
        case .int(let int): self.append(int)
        case .bool(let flag): self.append(flag)
        case .null: self.appendNull()
        }
    }
}

extension PostgresRow {
    /// The row's cells as ledger values of the given types.
    func ledgerValues(_ types: [LedgerColumnType]) throws -> [LedgerValue] {
        var values: [LedgerValue] = []
        values.reserveCapacity(types.count)
        for (cell, type) in zip(self, types) {
            switch type {
            case .text: values.append(.text(try cell.decode(String.self)))
            case .optionalText: values.append(try cell.decode(String?.self).map { .text($0) } ?? .null)
            case .int: values.append(.int(try cell.decode(Int64.self)))
            case .bool: values.append(.bool(try cell.decode(Bool.self)))
            }
        }
        return values
    }
}
