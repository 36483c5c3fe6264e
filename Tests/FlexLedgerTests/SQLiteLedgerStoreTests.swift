import FlexLedger
import Foundation
import GRDB
import Testing

/// What only the SQLite store has: a real file in WAL mode, and no file for a report.
@Suite struct SQLiteLedgerStoreTests {
    @Test func theLedgerIsARealFileInWALMode() async throws {
        let location = try await StoreKind.sqlite.freshLocation()
        defer { location.removeIfSQLite() }
        guard case .sqlite(let path) = location else { return }
        let store = try await location.openStore()
        _ = try await store.write([SyntheticRecord.make(1, tenant: "acme")])
        await store.close()
        // Bytes 18 and 19 of the database header are 2 in WAL mode (https://sqlite.org/fileformat.html).
        let header = try #require(FileHandle(forReadingAtPath: path)).readData(ofLength: 100)
        #expect(header.prefix(16) == Data("SQLite format 3\u{0}".utf8))
        #expect(header[18] == 2 && header[19] == 2)
        // Another connection reads the record the store committed.
        let queue = try DatabaseQueue(path: path)
        #expect(try await queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM ledger_records") } == 1)
        try queue.close()
    }

    @Test func readingAMissingLedgerCreatesNothing() async throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "flexd-none-\(UUID().uuidString)"
        )
        let error = await #expect(throws: LedgerError.self) {
            try await LedgerLocation.sqlite(path: folder.appendingPathComponent("ledger.sqlite").path).openStore(
                createIfMissing: false
            )
        }
        #expect(error?.code == .notFound)
        #expect(!FileManager.default.fileExists(atPath: folder.path))
    }
}
