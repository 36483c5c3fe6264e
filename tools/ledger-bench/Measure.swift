import ArgumentParser
import FlexCore
import FlexLedger
import Foundation

/// `ledger-bench measure`: append latency and throughput with and without group commit.
struct Measure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure append latency and throughput, with group commit and without."
    )

    @Option(help: "The ledger (sqlite:PATH or postgres://...). A SQLite file is emptied first; use a scratch database.")
    var ledger: String

    @Option(help: "Records per run.")
    var records = 5000

    @Option(help: "Concurrent appenders (each appends its share one after another, like calls finishing).")
    var concurrency = 64

    @Option(help: "Largest batch with group commit.")
    var batch = 256

    @Option(help: "batched, unbatched or both.")
    var mode = "both"

    func run() async throws {
        let location = try LedgerLocation(parsing: self.ledger, environment: ProcessInfo.processInfo.environment)
        if case .sqlite(let path) = location {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let modes: [(String, GroupCommitConfiguration)] = [
            ("batched", GroupCommitConfiguration(maximumBatchSize: self.batch)),
            ("unbatched", .unbatched),
        ].filter { self.mode == "both" || self.mode == $0.0 }
        print("ledger=\(location) records=\(self.records) concurrency=\(self.concurrency)")
        if case .sqlite(let path) = location {
            // The disk's own cost of one durable write here, for context: the unbatched rate
            // cannot beat it, and on a shared machine it moves with everyone's I/O.
            let folder = (path as NSString).deletingLastPathComponent
            let probe = FsyncProbe.median(in: folder.isEmpty ? "." : folder)
            print(String(format: "fdatasync of 4 KiB in %@: median %.0f us", folder, probe))
        }
        print("mode       records/s   p50_us   p90_us   p99_us   max_us  transactions  records/transaction")
        for (index, (name, configuration)) in modes.enumerated() {
            let store = try await location.openStore()
            let ledger = Ledger(store: store, configuration: configuration)
            let tenant =
                "bench-\(name)-\(index)-\(ProcessInfo.processInfo.processIdentifier)-\(Int(Date().timeIntervalSince1970))"
            let perWorker = (self.records + self.concurrency - 1) / self.concurrency
            let started = ContinuousClock.now
            let samples = try await withThrowingTaskGroup(of: [Duration].self) { group in
                for worker in 0..<self.concurrency {
                    group.addTask {
                        var samples: [Duration] = []
                        let first = min(worker * perWorker, self.records)
                        for i in first..<min(first + perWorker, self.records) {
                            let record = SyntheticRecord.make(i, tenant: tenant)
                            let began = ContinuousClock.now
                            _ = try await ledger.append(record)
                            samples.append(ContinuousClock.now - began)
                        }
                        return samples
                    }
                }
                var all: [Duration] = []
                for try await part in group { all += part }
                return all
            }
            let elapsed = ContinuousClock.now - started
            let seconds = elapsed.seconds
            let statistics = ledger.statistics
            await ledger.close()
            let p = Percentiles(samples)
            let perTransaction = Double(statistics.records) / Double(max(1, statistics.batches))
            print(
                String(
                    format: "%-9@ %10.0f %8.0f %8.0f %8.0f %8.0f %13d %20.1f",
                    name as NSString,
                    Double(samples.count) / seconds,
                    p.p50,
                    p.p90,
                    p.p99,
                    p.max,
                    statistics.batches,
                    perTransaction
                )
            )
        }
    }
}
