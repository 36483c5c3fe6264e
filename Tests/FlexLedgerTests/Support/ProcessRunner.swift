import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs commands to completion, and child processes that the tests read line by line and kill.
enum ProcessRunner {
    struct Result {
        var status: Int32
        var output: String
    }

    /// Runs `arguments` (the first is the program) with stdout and stderr together; always reaped.
    /// The blocking reads and wait happen on a thread of their own, not on the tests' small
    /// cooperative pool (a blocked pool thread starves every other test).
    static func run(_ arguments: [String]) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Swift.Result { try Self.runBlocking(arguments) })
            }.start()
        }
    }

    private static func runBlocking(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// The folder of the test binary's build products (where `swift build` put the executables).
    static func productsFolder() -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<5 {
            if FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("ledger-bench").path) {
                return folder
            }
            folder = folder.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// An executable built by this package (`ledger-bench`, `flexd`).
    static func product(_ name: String) throws -> URL {
        if let explicit = ProcessInfo.processInfo.environment["FLEXD_BIN_DIR"] {
            return URL(fileURLWithPath: explicit).appendingPathComponent(name)
        }
        let url = self.productsFolder().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw TestFailure(
                "\(name) not found next to the test binary; run swift build --build-tests (or set FLEXD_BIN_DIR)"
            )
        }
        return url
    }
}

/// A child process whose stdout the test reads line by line; ``kill()`` SIGKILLs and reaps it.
final class LineReadingChild: @unchecked Sendable {
    // `process` is only touched by the creating test; `buffer` only by `nextLine()` on one thread.
    private let process: Process
    private let output: Pipe
    private let errorFile: URL
    private var buffer: [UInt8] = []

    init(_ executable: URL, _ arguments: [String]) throws {
        self.process = Process()
        self.process.executableURL = executable
        self.process.arguments = arguments
        self.output = Pipe()
        self.process.standardOutput = self.output
        self.errorFile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "child-stderr-\(UUID().uuidString)"
        )
        _ = FileManager.default.createFile(atPath: self.errorFile.path, contents: nil)
        self.process.standardError = try FileHandle(forWritingTo: self.errorFile)
        self.process.standardInput = FileHandle.nullDevice
        try self.process.run()
    }

    /// The next whole line (without its newline), or nil at end of output. Blocks: call it off the
    /// cooperative pool (``lines(until:)`` does).
    func nextLine() -> String? {
        while true {
            if let newline = self.buffer.firstIndex(of: 10) {
                let line = String(decoding: self.buffer[..<newline], as: UTF8.self)
                self.buffer.removeSubrange(...newline)
                return line
            }
            let data = self.output.fileHandleForReading.availableData
            if data.isEmpty { return nil }  // end of output; a partial last line is ignored
            self.buffer += data
        }
    }

    /// Reads lines on a dedicated thread until `stop` returns true for one or the output ends.
    func lines(until stop: @escaping @Sendable (String) -> Bool) async -> [String] {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                var lines: [String] = []
                while let line = self.nextLine() {
                    lines.append(line)
                    if stop(line) { break }
                }
                continuation.resume(returning: lines)
            }
            thread.start()
        }
    }

    /// What the child wrote to stderr so far (for failure messages).
    var standardError: String {
        (try? String(contentsOf: self.errorFile, encoding: .utf8)) ?? ""
    }

    /// SIGKILL (no chance to flush or clean up), then waits for the exit: polling, without
    /// holding a thread of the tests' cooperative pool, at most 30 s (Foundation's `isRunning` has
    /// lagged behind a child's exit here, and `waitUntilExit()` once never returned).
    func kill() async {
        if self.process.isRunning { Glibc.kill(self.process.processIdentifier, SIGKILL) }
        _ = await self.exited(within: 30)
    }

    /// Waits for a normal exit (bounded: SIGKILL after `seconds`) and returns the exit status
    /// (-1 if it could not be had), polling without holding a thread of the cooperative pool.
    func waitForExit(seconds: Int = 120) async -> Int32 {
        if await self.exited(within: seconds) { return self.process.terminationStatus }
        Glibc.kill(self.process.processIdentifier, SIGKILL)
        return await self.exited(within: 30) ? self.process.terminationStatus : -1
    }

    private func exited(within seconds: Int) async -> Bool {
        for _ in 0..<(seconds * 20) {
            if !self.process.isRunning { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !self.process.isRunning
    }

    deinit {
        // No waiting here (a deinit cannot suspend): Foundation reaps the child.
        if self.process.isRunning { Glibc.kill(self.process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: self.errorFile)
    }
}
