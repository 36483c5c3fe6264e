import FlexTestSupport
import Foundation
import NIOCore
import NIOPosix

/// Debian's `nghttpd` (package nghttp2-server, installed by tools/bootstrap): a real HTTP/2 server
/// over TLS, with a self-signed certificate made by `openssl` for 127.0.0.1.
///
/// It serves the files of a temporary document root. Run verbosely, it logs one "SSL/TLS handshake
/// completed" line per connection, which is how the tests count connections on the server's side.
///
/// The process is always reaped (``ChildProcess``): SIGTERM, a short grace, then SIGKILL.
final class NGHTTPDServer: @unchecked Sendable {
    // Immutable after start; `process` is only touched by `stop()`.
    let port: Int
    let directory: URL
    let certificateFile: String
    fileprivate let process: ChildProcess
    private let logFile: URL

    var baseURL: String { "https://127.0.0.1:\(self.port)" }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private init(port: Int, directory: URL, process: ChildProcess, logFile: URL) {
        self.port = port
        self.directory = directory
        self.certificateFile = directory.appendingPathComponent("cert.pem").path
        self.process = process
        self.logFile = logFile
    }

    /// Starts nghttpd on a free port with `files` (name → contents) in its document root.
    static func start(files: [String: [UInt8]]) async throws -> NGHTTPDServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("flexhttp-nghttpd-\(UUID().uuidString)")
        let docroot = directory.appendingPathComponent("docroot")
        try FileManager.default.createDirectory(at: docroot, withIntermediateDirectories: true)
        for (name, contents) in files {
            // Written from the array itself: a Data copy would double a large file in memory.
            let path = docroot.appendingPathComponent(name).path
            guard FileManager.default.createFile(atPath: path, contents: nil),
                let handle = FileHandle(forWritingAtPath: path)
            else {
                throw Failure(description: "cannot create \(name) in nghttpd's document root")
            }
            defer { try? handle.close() }
            try contents.withUnsafeBytes { bytes in
                try handle.write(contentsOf: UnsafeRawBufferPointer(bytes))
            }
        }
        try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", directory.appendingPathComponent("key.pem").path,
                "-out", directory.appendingPathComponent("cert.pem").path,
                "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ]
        )
        // A random port below Linux's ephemeral range (32768-60999), so that the test's own outgoing
        // connections cannot hold it; if it is taken anyway, nghttpd does not log that it listens on
        // it, and the start is retried on another port.
        var lastError: (any Error)?
        for attempt in 0..<5 {
            let port = Int.random(in: 20000..<32000)
            let logFile = directory.appendingPathComponent("nghttpd-\(attempt).log")
            let process: ChildProcess
            do {
                process = try ChildProcess(
                    executable: "/usr/sbin/nghttpd",
                    arguments: [
                        "-v", "-d", docroot.path, "\(port)",
                        directory.appendingPathComponent("key.pem").path,
                        directory.appendingPathComponent("cert.pem").path,
                    ],
                    outputPath: logFile.path
                )
            } catch {
                throw Failure(description: "cannot start /usr/sbin/nghttpd (run tools/bootstrap): \(error)")
            }
            let server = NGHTTPDServer(port: port, directory: directory, process: process, logFile: logFile)
            if await server.waitUntilListening() {
                return server
            }
            lastError = Failure(description: "nghttpd did not listen on \(port): \(server.log)")
            server.process.stop()
        }
        try? FileManager.default.removeItem(at: directory)
        throw lastError ?? Failure(description: "nghttpd did not start")
    }

    /// The number of TLS connections nghttpd has completed.
    var connectionsAccepted: Int {
        self.log.components(separatedBy: "SSL/TLS handshake completed").count - 1
    }

    var log: String {
        Executables.contents(of: self.logFile.path)
    }

    /// Stops nghttpd (SIGTERM, then SIGKILL after 2 s), reaps it and removes its files.
    func stop() {
        self.process.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }

    private func waitUntilListening() async -> Bool {
        for _ in 0..<250 {
            guard self.process.isRunning else {
                return false
            }
            // nghttpd logs "listen 0.0.0.0:PORT" once bound: only then is a connection to the port
            // a connection to this nghttpd.
            if self.log.contains("listen 0.0.0.0:\(self.port)"),
                let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: self.port).get()
            {
                try? await channel.close()
                // That probe was a connection nghttpd may log as a failed handshake, never a completed
                // one.
                return true
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

/// Runs `body` with a started nghttpd and always stops it.
///
/// - Parameters:
///   - files: evaluated once the lock is held, so that a test's large file (tens of MiB in
///     memory while it is written) never lands in another test's memory reading.
///   - measuresMemory: run alone (``MeasurementLock``), for a test that reads the process's RSS.
func withNGHTTPD<T>(
    files: @autoclosure () -> [String: [UInt8]],
    measuresMemory: Bool = false,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (NGHTTPDServer) async throws -> T
) async throws -> T {
    if measuresMemory {
        return try await MeasurementLock.shared.withExclusive {
            try await runNGHTTPD(files: files(), body)
        }
    }
    return try await MeasurementLock.shared.withShared {
        try await runNGHTTPD(files: files(), body)
    }
}

private func runNGHTTPD<T>(
    files: [String: [UInt8]],
    isolation: isolated (any Actor)? = #isolation,
    _ body: (NGHTTPDServer) async throws -> T
) async throws -> T {
    let server = try await NGHTTPDServer.start(files: files)
    defer { server.stop() }
    return try await body(server)
}

/// Runs a short-lived tool to completion; throws if it fails.
private func run(_ executable: String, _ arguments: [String]) throws {
    let process = try ChildProcess(executable: executable, arguments: arguments, outputPath: "/dev/null")
    guard process.waitForExit() == 0 else {
        throw NGHTTPDServer.Failure(description: "\(executable) \(arguments.joined(separator: " ")) failed")
    }
}
