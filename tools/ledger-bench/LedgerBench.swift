import ArgumentParser
import FlexCore
import FlexLedger
import Foundation

/// Appends synthetic records to a ledger.
///
/// - `ledger-bench measure`: per-record append latency and throughput, with group commit and
///   without (one transaction per record), at a given concurrency.
/// - `ledger-bench write`: appends records and prints `ack ID OUTCOME` for each one once it is
///   durable, flushing every line: the kill -9 test's child process.
@main
struct LedgerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-bench",
        abstract: "Append synthetic records to a flexd savings ledger.",
        subcommands: [Measure.self, Write.self]
    )
}

/// Latency percentiles of a list of durations, in microseconds.
struct Percentiles {
    var p50: Double
    var p90: Double
    var p99: Double
    var max: Double

    init(_ samples: [Duration]) {
        let sorted = samples.map { $0.seconds * 1e6 }.sorted()
        func at(_ q: Double) -> Double {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
        }
        self.p50 = at(0.50)
        self.p90 = at(0.90)
        self.p99 = at(0.99)
        self.max = sorted.last ?? 0
    }
}
