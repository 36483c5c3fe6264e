import FlexLedger
import Foundation
import Logging
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server for the tests: `initdb` into a temporary folder, `postgres` on a free
/// loopback port, stopped and deleted at the end of the suite that asked for it
/// (``PostgresServerTrait``).
///
/// The server runs under a small shell watchdog whose standard input is a pipe from this process:
/// when the pipe closes — because the tests ended, or because this process died — the watchdog
/// stops PostgreSQL (fast shutdown) and exits. So no server outlives the tests, even after a
/// crash. As root, both run as the `postgres` user (initdb refuses root), through `setpriv`.
final class PostgresTestServer: @unchecked Sendable {
    // The Process and Pipe are only touched by start() and stop(), which run once each.
    let port: Int
    let folder: URL
    private let watchdog: Process
    private let watchdogInput: Pipe
    private let logger = Logger(label: "test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    @TaskLocal static var current: PostgresTestServer?

    /// The superuser initdb creates (no password: the server trusts loopback connections).
    static let user = "flexd"

    private init(port: Int, folder: URL, watchdog: Process, watchdogInput: Pipe) {
        self.port = port
        self.folder = folder
        self.watchdog = watchdog
        self.watchdogInput = watchdogInput
    }

    /// The folder with `initdb` and `postgres`: `$FLEXD_TEST_PG_BINDIR`, else the newest
    /// `/usr/lib/postgresql/N/bin` (Debian's layout).
    static func binaries() throws -> URL {
        if let explicit = ProcessInfo.processInfo.environment["FLEXD_TEST_PG_BINDIR"] {
            return URL(fileURLWithPath: explicit)
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = URL(fileURLWithPath: "\(root)/\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("postgres").path) { return bin }
        }
        throw TestFailure(
            "PostgreSQL server binaries not found under \(root) (run tools/bootstrap, or set FLEXD_TEST_PG_BINDIR)"
        )
    }

    /// The command prefix that runs a program as the `postgres` user when we are root.
    private static func asServerUser() throws -> [String] {
        guard getuid() == 0 else { return [] }
        guard let account = getpwnam("postgres") else {
            throw TestFailure(
                "running as root, and there is no postgres user to run PostgreSQL as (install the postgresql package)"
            )
        }
        return [
            "/usr/bin/setpriv", "--reuid=\(account.pointee.pw_uid)", "--regid=\(account.pointee.pw_gid)",
            "--init-groups", "--",
        ]
    }

    static func start() async throws -> PostgresTestServer {
        let bin = try self.binaries()
        let prefix = try self.asServerUser()
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "flexd-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        )
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if getuid() == 0, let account = getpwnam("postgres") {
            guard chown(folder.path, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                throw TestFailure("cannot hand \(folder.path) to the postgres user")
            }
        }
        do {
            let data = folder.appendingPathComponent("data")
            let initdb = try await ProcessRunner.run(
                prefix + [
                    bin.appendingPathComponent("initdb").path, "-D", data.path, "-U", self.user,
                    "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
                ]
            )
            guard initdb.status == 0 else {
                throw TestFailure("initdb failed (\(initdb.status)): \(initdb.output.suffix(2000))")
            }
            var lastError = ""
            for _ in 0..<5 {
                let port = try Self.freePort()
                if let server = try await Self.launch(
                    bin: bin,
                    prefix: prefix,
                    folder: folder,
                    port: port,
                    lastError: &lastError
                ) {
                    return server
                }
            }
            throw TestFailure("PostgreSQL did not start: \(lastError)")
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
    }

    private static func launch(
        bin: URL,
        prefix: [String],
        folder: URL,
        port: Int,
        lastError: inout String
    ) async throws -> PostgresTestServer? {
        let log = folder.appendingPathComponent("postgres-\(port).log")
        // $1 postgres, $2 data folder, $3 port, $4 socket folder, $5 log file.
        let script = """
            "$1" -D "$2" -p "$3" -k "$4" -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on </dev/null >"$5" 2>&1 &
            server=$!
            cat >/dev/null
            kill -INT "$server" 2>/dev/null
            wait "$server"
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: prefix.first ?? "/bin/sh")
        process.arguments =
            Array(prefix.dropFirst()) + (prefix.isEmpty ? [] : ["/bin/sh"]) + [
                "-c", script, "postgres-watchdog", bin.appendingPathComponent("postgres").path,
                folder.appendingPathComponent("data").path, String(port), folder.path, log.path,
            ]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = PostgresTestServer(port: port, folder: folder, watchdog: process, watchdogInput: input)
        // Wait (bounded) for the server to say it is ready, or to fail.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if text.contains("ready to accept connections") { return server }
            if text.contains("could not bind") || text.contains("FATAL") || !process.isRunning {
                lastError = String(text.suffix(1000))
                await server.stopProcesses()
                return nil
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        lastError = "not ready after 60 s"
        await server.stopProcesses()
        return nil
    }

    /// A port nothing listens on now (bound to 0, read, released; `start` retries on a race).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestFailure("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Stops the server (fast shutdown), lets the watchdog exit, deletes the folder.
    func stop() async {
        await self.stopProcesses()
        try? FileManager.default.removeItem(at: self.folder)
    }

    /// Closes the watchdog's stdin (it then stops the server) and waits, without holding a thread
    /// of the tests' small cooperative pool, and never without bound: Foundation's `isRunning` has
    /// lagged seconds behind a child's exit here, and `waitUntilExit()` once never returned.
    private func stopProcesses() async {
        try? self.watchdogInput.fileHandleForWriting.close()
        // Fast shutdown takes well under a second; after 20 s, kill both.
        if await Self.waitWhileRunning(self.watchdog, seconds: 20) { return }
        let pidFile = self.folder.appendingPathComponent("data/postmaster.pid")
        if let text = try? String(contentsOf: pidFile, encoding: .utf8), let line = text.split(separator: "\n").first,
            let pid = Int32(line)
        {
            kill(pid, SIGKILL)
        }
        kill(self.watchdog.processIdentifier, SIGKILL)
        _ = await Self.waitWhileRunning(self.watchdog, seconds: 10)
    }

    /// Polls until `process` has exited (true) or `seconds` have passed (false).
    private static func waitWhileRunning(_ process: Process, seconds: Int) async -> Bool {
        for _ in 0..<(seconds * 20) {
            if !process.isRunning { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !process.isRunning
    }

    /// A new, empty database on this server, as a ledger location.
    func createDatabase() async throws -> LedgerLocation.PostgresLocation {
        let name = "ledger_\(UInt64.random(in: 0...UInt64.max))"
        try await self.withAdminConnection { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: self.logger)
        }
        return LedgerLocation.PostgresLocation(host: "127.0.0.1", port: self.port, user: Self.user, database: name)
    }

    /// Runs `body` on a connection to the `postgres` maintenance database.
    @discardableResult
    func withAdminConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let configuration = PostgresConnection.Configuration(
            host: "127.0.0.1",
            port: self.port,
            username: Self.user,
            password: nil,
            database: "postgres",
            tls: .disable
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: self.logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

/// Starts one PostgreSQL server around a whole suite (nested suites included) and publishes it
/// as ``PostgresTestServer/current``.
struct PostgresServerTrait: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let server = try await PostgresTestServer.start()
        do {
            try await PostgresTestServer.$current.withValue(server) {
                try await function()
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}

extension Trait where Self == PostgresServerTrait {
    /// A real PostgreSQL server for the suite.
    static var postgresServer: Self { Self() }
}

/// A failure of the test fixtures themselves.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
