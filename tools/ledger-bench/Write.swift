import ArgumentParser
import FlexLedger
import Foundation

/// `ledger-bench write`: appends synthetic records and acknowledges each durable one on stdout.
struct Write: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append records and print `ack REQUEST_ID OUTCOME` for each, once it is durable (for crash tests)."
    )

    @Option(help: "The ledger (sqlite:PATH or postgres://...).")
    var ledger: String

    @Option(help: "The tenant of every record.")
    var tenant: String

    @Option(help: "The first record's index.")
    var first = 0

    @Option(help: "How many records (indexes first..<first+count).")
    var count = 100_000

    @Option(help: "Concurrent appenders.")
    var concurrency = 32

    func run() async throws {
        let location = try LedgerLocation(parsing: self.ledger, environment: ProcessInfo.processInfo.environment)
        let ledger = try await Ledger.open(location)
        Acknowledger.write("ready\n")
        let next = NextIndex(self.first)
        let end = self.first + self.count
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<self.concurrency {
                group.addTask {
                    while let index = next.take(below: end) {
                        let record = SyntheticRecord.make(index, tenant: self.tenant)
                        let outcome = try await ledger.append(record)
                        let name =
                            switch outcome {
                            case .recorded: "recorded"
                            case .duplicate: "duplicate"
                            case .conflict: "conflict"
                            }
                        Acknowledger.write("ack \(record.requestID) \(name)\n")
                    }
                }
            }
            try await group.waitForAll()
        }
        await ledger.close()
        Acknowledger.write("done\n")
    }
}

/// Hands out record indexes to the appenders.
final class NextIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int

    init(_ value: Int) { self.value = value }

    func take(below end: Int) -> Int? {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard self.value < end else { return nil }
        defer { self.value += 1 }
        return self.value
    }
}

/// Writes whole lines to stdout with one write(2) each, so a kill leaves no half-acknowledged id
/// that the reader could mistake for a whole one (the reader also ignores a last line without
/// a newline).
enum Acknowledger {
    private static let lock = NSLock()

    static func write(_ line: String) {
        self.lock.lock()
        defer { self.lock.unlock() }
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes {
                Foundation.write(1, $0.baseAddress! + offset, $0.count - offset)
            }
            if written <= 0 { return }
            offset += written
        }
    }
}
