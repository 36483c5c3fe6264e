import FlexLedger
import Foundation
import Logging
import Testing

/// The two stores every store test runs on.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { self.rawValue }

    /// A fresh, empty ledger of this kind: a new SQLite file in a temporary folder, or a new
    /// database on the suite's PostgreSQL server.
    func freshLocation() async throws -> LedgerLocation {
        switch self {
        case .sqlite:
            let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
                "flexd-ledger-\(UUID().uuidString)"
            )
            return .sqlite(path: folder.appendingPathComponent("ledger.sqlite").path)
        case .postgres:
            guard let server = PostgresTestServer.current else {
                throw TestFailure(
                    "no PostgreSQL server: the test must run inside a suite with the .postgresServer trait"
                )
            }
            return .postgres(try await server.createDatabase())
        }
    }

    /// Runs `body` with a store on a fresh ledger, then closes the store and removes a SQLite folder.
    func withStore<T>(_ body: (any LedgerStore, LedgerLocation) async throws -> T) async throws -> T {
        let location = try await self.freshLocation()
        defer { location.removeIfSQLite() }
        let store = try await location.openStore()
        do {
            let result = try await body(store, location)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }
}

extension LedgerLocation {
    /// Deletes a test's SQLite folder (the file, its WAL and shared-memory files).
    func removeIfSQLite() {
        if case .sqlite(let path) = self {
            try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent())
        }
    }
}
