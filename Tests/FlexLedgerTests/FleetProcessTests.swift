import FlexClient
import FlexCodec
import FlexLedger
import FlexTestSupport
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension LedgerStoreTests {
    /// A fleet as separate processes: flexsim, three flexd on one PostgreSQL ledger, and callers
    /// through a multi-endpoint FlexClient or through HAProxy (Debian's, TCP mode, health checks on
    /// `/readyz`). Rolling restarts under steady load fail no call; a kill -9 fails only calls in
    /// flight on the killed instance, with UNAVAILABLE; every call a caller saw complete has exactly
    /// one record, none processed twice; `flexd report` over the shared ledger is the sum of every
    /// instance's records.
    @Suite(.serialized) struct FleetProcessTests {
        static let instances = 3

        /// flexd's ports, its process (replaced on a restart) and where its output goes.
        final class Instance: @unchecked Sendable {
            let index: Int
            let port: Int
            let adminPort: Int
            // Only the test's own task touches it (restart, stop).
            var process: ChildProcess?
            var starts = 0

            init(index: Int, port: Int, adminPort: Int) {
                self.index = index
                self.port = port
                self.adminPort = adminPort
            }

            var id: String { "flexd-\(self.index)" }
            var endpoint: FlexClient.Endpoint { .init(host: "127.0.0.1", port: self.port) }
        }

        struct Fleet {
            let stack: FlexdLedgerProcessTests.Stack
            let ledgerURL: String
            let location: LedgerLocation
            let instances: [Instance]
        }

        static func withFleet<T>(drainDelay: Double, _ body: (Fleet) async throws -> T) async throws -> T {
            guard let server = PostgresTestServer.current else {
                throw TestFailure("no PostgreSQL server for the suite")
            }
            let database = try await server.createDatabase()
            let url = "postgres://\(database.user)@127.0.0.1:\(database.port)/\(database.database)?sslmode=disable"
            return try await FlexdLedgerProcessTests.withFlexsim { stack in
                let instances = (1...Self.instances).map {
                    Instance(index: $0, port: Executables.freePort(), adminPort: Executables.freePort())
                }
                let fleet = Fleet(stack: stack, ledgerURL: url, location: .postgres(database), instances: instances)
                defer { for instance in instances { instance.process?.stop() } }
                for instance in instances { try await Self.start(instance, in: fleet, drainDelay: drainDelay) }
                return try await body(fleet)
            }
        }

        /// Starts (or starts again, on the same ports) one flexd of the fleet and waits until it
        /// listens.
        static func start(_ instance: Instance, in fleet: Fleet, drainDelay: Double) async throws {
            let root = "http://127.0.0.1:\(fleet.stack.simPort)"
            instance.starts += 1
            let log = fleet.stack.directory.appendingPathComponent("\(instance.id)-\(instance.starts).log").path
            let process = try ChildProcess(
                executable: try Executables.path("flexd"),
                arguments: [
                    "serve", "--listen", "127.0.0.1:\(instance.port)", "--admin-listen",
                    "127.0.0.1:\(instance.adminPort)", "--http-listen", "off", "--log-level", "warning",
                    "--ledger", fleet.ledgerURL, "--instance-id", instance.id,
                    "--drain-delay", "\(drainDelay)", "--drain-grace", "30",
                ] + Executables.flexsimUpstream(root),
                outputPath: log
            )
            instance.process = process
            try await Executables.waitUntilListening(instance.port, process: process, outputPath: log)
            try await Executables.waitUntilListening(instance.adminPort, process: process, outputPath: log)
        }

        /// SIGTERM, wait for a clean exit, start again; one instance after the other.
        static func rollingRestart(_ fleet: Fleet, drainDelay: Double, settle: Duration) async throws {
            for instance in fleet.instances {
                let process = try #require(instance.process)
                process.send(SIGTERM)
                #expect(await process.exitStatus(within: .seconds(60)) == 0, "\(instance.id) drains and exits cleanly")
                try await Self.start(instance, in: fleet, drainDelay: drainDelay)
                try await Task.sleep(for: settle)
            }
        }

        /// Callers making calls one after the other (ids `prefix-N`) until told to stop.
        final class Load: Sendable {
            private struct State {
                var next = 0
                var completed: [String] = []
                var failed: [(String, FlexClientError)] = []
                var stop = false
            }

            private let state = NIOLockedValueBox(State())
            let prefix: String

            init(prefix: String) { self.prefix = prefix }

            var completed: [String] { self.state.withLockedValue { $0.completed } }
            var failed: [(String, FlexClientError)] { self.state.withLockedValue { $0.failed } }
            func stop() { self.state.withLockedValue { $0.stop = true } }

            /// Runs `callers` callers on `client` until ``stop()``.
            func run(_ client: FlexClient, callers: Int) async {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<callers {
                        group.addTask {
                            while let id = self.nextID() {
                                do {
                                    _ = try await client.complete(FlexdLedgerProcessTests.request(id))
                                    self.state.withLockedValue { $0.completed.append(id) }
                                } catch let error as FlexClientError {
                                    self.state.withLockedValue { $0.failed.append((id, error)) }
                                } catch {
                                    Issue.record("an error that is not a FlexClientError: \(error)")
                                }
                            }
                        }
                    }
                }
            }

            /// Waits (bounded) until `count` more calls completed.
            func waitForCompletions(_ count: Int) async throws {
                let target = self.completed.count + count
                for _ in 0..<3000 where self.completed.count < target {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }

            private func nextID() -> String? {
                self.state.withLockedValue { state in
                    guard !state.stop else { return nil }
                    defer { state.next += 1 }
                    return "\(self.prefix)-\(state.next)"
                }
            }
        }

        /// Every completed call has its one record, and nothing was recorded twice (a call processed
        /// by two instances would be a conflict: the instance ids differ).
        static func checkLedger(_ fleet: Fleet, completed: [String], prefix: String) async throws {
            let ledger = try await Ledger.open(fleet.location)
            let stored = try await RawLedger.requestIDs(fleet.location, tenant: "anonymous")
                .filter { $0.hasPrefix(prefix + "-") }
            #expect(
                Set(completed).isSubset(of: stored),
                "\(Set(completed).subtracting(stored).count) completed calls lack a record"
            )
            let conflicts = try await RawLedger.ints(fleet.location, "SELECT count(*) FROM ledger_conflicts")
            #expect(conflicts == [0], "a call was processed twice")
            await ledger.close()
        }

        // MARK: - Tests

        @Test func aRollingRestartUnderLoadThroughAMultiEndpointClientFailsNoCall() async throws {
            try await Self.withFleet(drainDelay: 0.3) { fleet in
                let load = Load(prefix: "roll")
                try await withFlexClient(endpoints: fleet.instances.map(\.endpoint)) { client in
                    async let running: Void = load.run(client, callers: 16)
                    try await load.waitForCompletions(60)
                    try await Self.rollingRestart(fleet, drainDelay: 0.3, settle: .milliseconds(500))
                    try await load.waitForCompletions(60)
                    load.stop()
                    await running
                    let statistics = await client.statistics()
                    #expect(statistics.addresses == 3)
                }
                #expect(load.failed.isEmpty, "\(load.failed.prefix(5).map { "\($0.0): \($0.1)" })")
                #expect(load.completed.count >= 120)
                try await Self.checkLedger(fleet, completed: load.completed, prefix: "roll")

                // Every instance served calls after its restart: its last log's records.
                let perInstance = try await RawLedger.ints(
                    fleet.location,
                    "SELECT count(*) FROM ledger_records WHERE request_id LIKE 'roll-%' GROUP BY instance_id ORDER BY instance_id"
                )
                #expect(perInstance.count == 3 && perInstance.allSatisfy { $0 > 0 }, "\(perInstance)")
            }
        }

        @Test func aRollingRestartUnderLoadThroughHAProxyFailsNoCall() async throws {
            // HAProxy checks /readyz every 100 ms and marks an instance down at its first 503: well
            // within the 1 s drain delay, so no new connection reaches an instance about to say GOAWAY.
            try await Self.withFleet(drainDelay: 1) { fleet in
                let proxy = try await HAProxyFront.start(
                    backends: fleet.instances.map { ($0.port, $0.adminPort) },
                    directory: fleet.stack.directory
                )
                defer { proxy.stop() }
                let load = Load(prefix: "haproxy")
                try await withFlexClient(host: "127.0.0.1", port: proxy.port) { client in
                    async let running: Void = load.run(client, callers: 16)
                    try await load.waitForCompletions(60)
                    try await Self.rollingRestart(fleet, drainDelay: 1, settle: .milliseconds(800))
                    try await load.waitForCompletions(60)
                    load.stop()
                    await running
                }
                #expect(load.failed.isEmpty, "\(load.failed.prefix(5).map { "\($0.0): \($0.1)" })")
                #expect(load.completed.count >= 120)
                try await Self.checkLedger(fleet, completed: load.completed, prefix: "haproxy")
            }
        }

        @Test func killNineFailsOnlyTheCallsInFlightThereAndTheReportIsTheSumOfTheInstances() async throws {
            try await Self.withFleet(drainDelay: 0) { fleet in
                let load = Load(prefix: "kill")
                try await withFlexClient(endpoints: fleet.instances.map(\.endpoint)) { client in
                    async let running: Void = load.run(client, callers: 24)
                    try await load.waitForCompletions(60)
                    fleet.instances[1].process?.send(SIGKILL)
                    _ = await fleet.instances[1].process?.exitStatus(within: .seconds(10))
                    try await load.waitForCompletions(120)
                    load.stop()
                    await running
                    // Later calls go to the other instances, one after the other without a failure.
                    for index in 0..<20 {
                        _ = try await client.complete(FlexdLedgerProcessTests.request("kill-after-\(index)"))
                    }
                }
                let failed = load.failed
                #expect(failed.count <= 24, "only calls in flight fail (24 callers): \(failed.count)")
                for (id, error) in failed {
                    #expect(error.code == .unavailable, "\(id): \(error)")
                }
                #expect(load.completed.count >= 180)
                try await Self.checkLedger(fleet, completed: load.completed, prefix: "kill")
                // A failed call may have been recorded (the instance died after its record and before
                // its answer) but never twice, and never under a request id no caller sent.
                let stored = try await RawLedger.requestIDs(fleet.location, tenant: "anonymous")
                #expect(
                    stored.filter { $0.hasPrefix("kill-") && !$0.hasPrefix("kill-after-") }
                        .isSubset(of: Set(load.completed + failed.map(\.0)))
                )

                // flexd report over the shared ledger: the sum of every instance's records.
                let report = try await ProcessRunner.run([
                    try ProcessRunner.product("flexd").path, "report", "--ledger", fleet.ledgerURL, "--format", "json",
                ])
                #expect(report.status == 0, "\(report.output)")
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [String: Any]
                )
                let rows = try #require(object["rows"] as? [[String: Any]])
                let requests = rows.reduce(0) { $0 + (($1["requests"] as? Int) ?? 0) }
                let actual = rows.reduce(Int128(0)) { $0 + (Int128(($1["actual_cost_picousd"] as? String) ?? "") ?? 0) }
                var countSum = 0
                var costSum = Int128(0)
                for instance in fleet.instances {
                    let count = try await RawLedger.ints(
                        fleet.location,
                        "SELECT count(*) FROM ledger_records WHERE instance_id = '\(instance.id)'"
                    )
                    let cost = try await RawLedger.ints(
                        fleet.location,
                        "SELECT COALESCE(sum(actual_cost_picousd), 0) FROM ledger_records WHERE instance_id = '\(instance.id)'"
                    )
                    countSum += count.first ?? 0
                    costSum += Int128(cost.first ?? 0)
                }
                #expect(requests == countSum && requests == stored.count, "\(requests) \(countSum) \(stored.count)")
                #expect(actual == costSum)
            }
        }
    }
}

/// HAProxy in TCP mode in front of the fleet: each flexd a server, checked with `GET /readyz` on
/// its admin port every 100 ms (down at the first failure, up after two successes), a refused
/// connection sent to another server.
struct HAProxyFront {
    let port: Int
    let process: ChildProcess

    static func start(backends: [(port: Int, adminPort: Int)], directory: URL) async throws -> HAProxyFront {
        let binary = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let binary else { throw TestFailure("haproxy is not installed: run tools/bootstrap") }
        let port = Executables.freePort()
        var lines = [
            "global", "    maxconn 4096",
            "defaults", "    mode tcp", "    timeout connect 2s", "    timeout client 300s", "    timeout server 300s",
            "    retries 3", "    option redispatch",
            "frontend front", "    bind 127.0.0.1:\(port)", "    default_backend fleet",
            "backend fleet", "    balance leastconn", "    option httpchk GET /readyz",
            "    http-check expect status 200",
            "    default-server inter 100ms fall 1 rise 2",
        ]
        for (index, backend) in backends.enumerated() {
            lines.append("    server flexd-\(index + 1) 127.0.0.1:\(backend.port) check port \(backend.adminPort)")
        }
        let config = directory.appendingPathComponent("haproxy.cfg")
        try (lines.joined(separator: "\n") + "\n").write(to: config, atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("haproxy.log").path
        let process = try ChildProcess(executable: binary, arguments: ["-db", "-f", config.path], outputPath: log)
        try await Executables.waitUntilListening(port, process: process, outputPath: log)
        // Let the first health checks pass (rise 2 at 100 ms).
        try await Task.sleep(for: .milliseconds(500))
        return HAProxyFront(port: port, process: process)
    }

    func stop() { self.process.stop() }
}
