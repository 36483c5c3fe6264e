import FlexLedger
import GRDB
import Logging
import PostgresNIO

/// Reads a ledger's tables directly, bypassing the store under test.
enum RawLedger {
    /// The first column of `sql`'s rows, as integers.
    static func ints(_ location: LedgerLocation, _ sql: String) async throws -> [Int] {
        try await self.texts(location, sql).map { Int($0) ?? -1 }
    }

    /// Every request id stored for `tenant`.
    static func requestIDs(_ location: LedgerLocation, tenant: String) async throws -> Set<String> {
        precondition(!tenant.contains("'"))
        return Set(try await self.texts(location, "SELECT request_id FROM ledger_records WHERE tenant = '\(tenant)'"))
    }

    /// Runs one statement directly (a test's raw write).
    static func execute(_ location: LedgerLocation, _ sql: String) async throws {
        switch location {
        case .sqlite(let path):
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            try await queue.write { db in try db.execute(sql: sql) }
        case .postgres:
            try await self.withConnection(location) { connection, logger in
                _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            }
        }
    }

    /// The first column of `sql`'s rows, as text.
    private static func texts(_ location: LedgerLocation, _ sql: String) async throws -> [String] {
        switch location {
        case .sqlite(let path):
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            return try await queue.read { db in
                try Row.fetchAll(db, sql: sql).map { row -> String in
                    switch (row[0] as DatabaseValue).storage {
                    case .int64(let int): String(int)
                    case .string(let text): text
                    default: "?"
                    }
                }
            }
        case .postgres:
            return try await self.withConnection(location) { connection, logger in
                var values: [String] = []
                let query = PostgresQuery(unsafeSQL: "SELECT x::text FROM (\(sql)) AS t(x)")
                for try await value in try await connection.query(query, logger: logger).decode(String.self) {
                    values.append(value)
                }
                return values
            }
        }
    }

    private static func withConnection<T>(
        _ location: LedgerLocation,
        _ body: (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        guard case .postgres(let postgres) = location else { throw TestFailure("not a PostgreSQL ledger") }
        let configuration = PostgresConnection.Configuration(
            host: postgres.host,
            port: postgres.port,
            username: postgres.user,
            password: postgres.password,
            database: postgres.database,
            tls: .disable
        )
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 2, logger: logger)
        do {
            let result = try await body(connection, logger)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
