import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `flexsim` executable: flags, a profile file, and clean start/stop. Every process is
/// stopped with SIGTERM, then SIGKILL after a grace period, and always reaped.
@Suite struct FlexsimProcessTests {
    static func binary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["FLEXSIM_BIN"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("flexsim")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw TestError("flexsim executable not found next to the test binary; set FLEXSIM_BIN")
    }

    /// Runs flexsim and returns its first stdout line and the process (running or exited).
    static func launch(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = try self.binary()
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    static func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<40 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    static func firstLine(_ pipe: Pipe) -> String {
        var bytes: [UInt8] = []
        let handle = pipe.fileHandleForReading
        while bytes.last != 10, bytes.count < 4096 {
            let data = handle.readData(ofLength: 1)
            if data.isEmpty { break }
            bytes += data
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func servesWithAProfileFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flexsim-profile-\(getpid()).json")
        try Data(
            #"""
            {"name": "from-file", "tiers": {"standard": {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": 0}},
             "flex": {"refusal_probability": 1, "scarce": {"fraction": 0, "window_s": 60, "refusal_probability": 0, "wait_multiplier": 1},
                      "queue_wait_s": {"kind": "constant", "value": 0}, "concurrency": 0, "max_queue_wait_s": 0, "preamble_while_queued": true}}
            """#.utf8
        ).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (process, out, _) = try Self.launch([
            "--listen", "127.0.0.1:0", "--profile", file.path, "--seed", "9", "--time-scale", "10",
        ])
        defer { Self.stop(process) }
        let line = Self.firstLine(out)
        #expect(line.hasPrefix("flexsim listening on 127.0.0.1:"), "\(line)")
        #expect(line.contains("profile=from-file"))
        let port = Int(line.split(separator: " ")[3].split(separator: ":")[1])!
        let client = try TestHTTPClient(port: port)
        client.send("/healthz", method: "GET")
        let health = client.response().json
        #expect(health?["profile"] == "from-file" && health?["seed"] == .int(9))
        client.send(
            "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
            headers: geminiKey,
            body: #"{"contents":[{"parts":[{"text":"x"}]}],"serviceTier":"flex"}"#
        )
        #expect(client.response().status == 503)  // the file's profile refuses all flex
    }

    /// A file with only the required sections (the FlexSim documentation, *Profiles*) serves with
    /// the defaults: flex never refused.
    @Test func servesWithAMinimalProfileFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flexsim-minimal-\(getpid()).json")
        try Data(#"{"name": "minimal", "tiers": {"standard": {}}}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (process, out, _) = try Self.launch(["--listen", "127.0.0.1:0", "--profile", file.path])
        defer { Self.stop(process) }
        let line = Self.firstLine(out)
        #expect(line.contains("profile=minimal"), "\(line)")
        let port = try #require(Int(line.split(separator: " ")[3].split(separator: ":")[1]))
        let client = try TestHTTPClient(port: port)
        client.send(
            "/gemini/v1/models/gemini-2.5-flash:generateContent",
            headers: geminiKey,
            body: #"{"contents":[{"parts":[{"text":"x"}]}],"serviceTier":"flex"}"#
        )
        let response = client.response()
        #expect(response.status == 200 && response.headers["x-gemini-service-tier"] == "flex")
    }

    @Test func aProfileFileWithABadValueFailsNamingTheField() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flexsim-bad-\(getpid()).json")
        try Data(#"{"name": "bad", "tiers": {"standard": {}}, "flex": {"scarce": {"fraction": 1.5}}}"#.utf8)
            .write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (process, _, err) = try Self.launch(["--listen", "127.0.0.1:0", "--profile", file.path])
        defer { Self.stop(process) }
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(message.contains("flex.scarce.fraction must be between 0 and 1"), "\(message)")
    }

    @Test(arguments: [
        (["--profile", "nonexistent-profile"], "neither a built-in profile"),
        (["--listen", "nowhere"], "HOST:PORT"),
        (["--time-scale", "0"], "time-scale"),
        (["--price-date", "2026-13-01"], "YYYY-MM-DD"),
        (["--api-key", "mistral=abc"], "PROVIDER=KEY"),
    ])
    func badFlagsFailWithAReason(_ arguments: [String], _ expected: String) throws {
        let (process, _, err) = try Self.launch(arguments)
        defer { Self.stop(process) }
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(message.contains(expected), "\(message)")
    }
}
