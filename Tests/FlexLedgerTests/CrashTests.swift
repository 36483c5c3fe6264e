import FlexLedger
import Foundation
import Testing

extension LedgerStoreTests {
    /// kill -9 while appending: every record the writer acknowledged is stored exactly once, and
    /// a restarted writer that appends the same records again changes nothing.
    @Suite struct CrashTests {
        /// How many acknowledgements to wait for before the kill.
        static let acknowledgementsBeforeKill = 1500

        @Test(arguments: StoreKind.allCases)
        func acknowledgedRecordsSurviveKillNine(_ kind: StoreKind) async throws {
            let location = try await kind.freshLocation()
            defer { location.removeIfSQLite() }
            let url = kind.url(location)
            let bench = try ProcessRunner.product("ledger-bench")
            let tenant = "crash"

            // 1. Append many records with 32 concurrent appenders; SIGKILL after enough acks.
            let writer = try LineReadingChild(
                bench,
                [
                    "write", "--ledger", url, "--tenant", tenant, "--count", "1000000",
                    "--concurrency", "32",
                ]
            )
            let counter = AckCounter(limit: Self.acknowledgementsBeforeKill)
            let lines = await writer.lines { counter.seen($0) }
            await writer.kill()
            #expect(lines.first == "ready", "writer stderr: \(writer.standardError.suffix(2000))")
            #expect(!lines.contains("done"), "the writer finished before the kill: nothing was tested mid-write")
            let acknowledged = lines.filter { $0.hasPrefix("ack ") }.map { $0.split(separator: " ")[1] }.map(
                String.init
            )
            try #require(
                acknowledged.count >= Self.acknowledgementsBeforeKill,
                "the writer stopped early: \(lines.suffix(3))"
            )

            // 2. Every acknowledged record is there, whole.
            let store = try await location.openStore()
            let stored = try await store.recordCount(tenant: tenant)
            #expect(stored >= acknowledged.count)
            let indexes = acknowledged.map { Int($0.dropFirst("req-".count))! }
            for index in indexes {
                let record = try await store.record(tenant: tenant, requestID: "req-\(index)")
                #expect(record == SyntheticRecord.make(index, tenant: tenant), "request req-\(index)")
            }
            await store.close()

            // Records can be committed without being acknowledged (killed between the commit and
            // the print): they are stored too, once. The writer hands out indexes in order, so all
            // stored ones are below the highest, and nothing else was written.
            let storedIDs = try await RawLedger.requestIDs(location, tenant: tenant)
            #expect(storedIDs.count == stored)
            #expect(Set(acknowledged).isSubset(of: storedIDs))
            let storedIndexes = storedIDs.compactMap { Int($0.dropFirst("req-".count)) }
            #expect(storedIndexes.count == stored)

            // 3. A restarted writer appends everything up to past the highest stored index again:
            //    the acknowledged records come back as duplicates and no record is doubled.
            let end = (storedIndexes.max() ?? 0) + 100
            let again = try LineReadingChild(
                bench,
                [
                    "write", "--ledger", url, "--tenant", tenant, "--count", String(end + 1),
                    "--concurrency", "8",
                ]
            )
            let secondLines = await again.lines { $0 == "done" }
            #expect(await again.waitForExit() == 0, "writer stderr: \(again.standardError.suffix(2000))")
            #expect(secondLines.last == "done")
            var outcomes: [String: String] = [:]
            for line in secondLines where line.hasPrefix("ack ") {
                let parts = line.split(separator: " ")
                outcomes[String(parts[1])] = String(parts[2])
            }
            #expect(outcomes.count == end + 1)
            #expect(acknowledged.allSatisfy { outcomes[$0] == "duplicate" })
            #expect(!outcomes.values.contains("conflict"))
            let reopened = try await location.openStore()
            #expect(try await reopened.recordCount(tenant: tenant) == end + 1)
            let report = try await reopened.monthlyTotals(ReportQuery(tenant: tenant))
            #expect(report.map(\.requests).reduce(0, +) == Int64(end + 1))
            await reopened.close()
        }
    }
}

/// Stops the reader after `limit` acknowledgement lines.
final class AckCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func seen(_ line: String) -> Bool {
        guard line.hasPrefix("ack ") else { return false }
        self.lock.lock()
        defer { self.lock.unlock() }
        self.count += 1
        return self.count >= self.limit
    }
}

extension StoreKind {
    /// The `--ledger` value for `location`.
    func url(_ location: LedgerLocation) -> String {
        switch location {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let postgres):
            "postgres://\(postgres.user)@\(postgres.host):\(postgres.port)/\(postgres.database)"
        }
    }
}
