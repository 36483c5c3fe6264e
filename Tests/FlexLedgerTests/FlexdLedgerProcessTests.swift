import FlexClient
import FlexCodec
import FlexJSON
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
    /// The ledger behind the real flexd: flexd, flexsim and the callers as separate processes (the
    /// callers through FlexClient). A SIGKILL under load loses no record of a call its caller saw
    /// complete; two flexd instances share one PostgreSQL ledger; and the report's totals equal
    /// the records and what flexsim billed.
    @Suite(.serialized) struct FlexdLedgerProcessTests {
        /// flexsim with every tier streaming at 300 tokens/s, so calls are in flight for a while.
        static let profile = #"""
            {"name": "ledger-load",
             "tiers": {"flex": {"ttft_s": {"kind": "constant", "value": 0.02}, "tokens_per_s": 300},
                       "standard": {"ttft_s": {"kind": "constant", "value": 0.02}, "tokens_per_s": 300}},
             "flex": {"refusal_probability": 0, "scarce": {"fraction": 0, "window_s": 60, "refusal_probability": 0, "wait_multiplier": 1},
                      "queue_wait_s": {"kind": "constant", "value": 0}, "concurrency": 0,
                      "max_queue_wait_s": 0, "preamble_while_queued": true}}
            """#

        struct Stack {
            let directory: URL
            let simPort: Int
            let flexsim: ChildProcess
        }

        static func withFlexsim<T>(_ body: (Stack) async throws -> T) async throws -> T {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "flexd-ledger-e2e-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let profile = directory.appendingPathComponent("profile.json").path
            try Self.profile.write(toFile: profile, atomically: true, encoding: .utf8)
            let simLog = directory.appendingPathComponent("flexsim.log").path
            let (flexsim, simPort, _) = try await Executables.startListening {
                let port = Executables.freePort()
                let process = try ChildProcess(
                    executable: try Executables.path("flexsim"),
                    arguments: ["--listen", "127.0.0.1:\(port)", "--profile", profile],
                    outputPath: simLog
                )
                return (process, port, simLog, ())
            }
            defer { flexsim.stop() }
            return try await body(Stack(directory: directory, simPort: simPort, flexsim: flexsim))
        }

        /// Starts flexd on `ledger`, routing to the stack's flexsim; returns it and its port.
        static func startFlexd(
            _ stack: Stack,
            ledger: String,
            instance: String,
            log: String
        ) async throws -> (ChildProcess, Int) {
            let root = "http://127.0.0.1:\(stack.simPort)"
            let outputPath = stack.directory.appendingPathComponent(log).path
            let (flexd, port, _) = try await Executables.startListening {
                let port = Executables.freePort()
                let process = try ChildProcess(
                    executable: try Executables.path("flexd"),
                    arguments: [
                        "serve", "--listen", "127.0.0.1:\(port)", "--admin-listen", "off", "--http-listen", "off",
                        "--log-level", "warning", "--ledger", ledger, "--instance-id", instance,
                    ] + Executables.flexsimUpstream(root),
                    outputPath: outputPath
                )
                return (process, port, outputPath, ())
            }
            return (flexd, port)
        }

        static func request(_ id: String) -> InferenceRequest {
            InferenceRequest(
                requestID: id,
                provider: .openAI,
                api: .chatCompletions,
                model: "gpt-5.4-mini",
                startWithin: "00h-00m-30s",
                providerKey: "sk-ledger",
                body: .nativeJSON(
                    ByteBuffer(
                        string:
                            #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Tell me about \#(id)"}]}"#
                    )
                )
            )
        }

        /// What flexsim billed per correlation id (summed over attempts).
        static func flexsimBill(_ stack: Stack) throws -> [String: Int64] {
            let text = try LoopbackHTTP.send(port: stack.simPort, method: "GET", path: "/sim/ledger").text
            var bill: [String: Int64] = [:]
            for line in text.split(separator: "\n") {
                let row = try JSONParser.parse(String(line))
                if let id = row["correlation_id"]?.string { bill[id, default: 0] += row["cost_picousd"]?.int ?? 0 }
            }
            return bill
        }

        @Test func killingFlexdUnderLoadLosesNoRecordOfACompletedCall() async throws {
            try await Self.withFlexsim { stack in
                let path = stack.directory.appendingPathComponent("ledger.sqlite").path
                let (flexd, port) = try await Self.startFlexd(
                    stack,
                    ledger: "sqlite:" + path,
                    instance: "kill-test",
                    log: "flexd-1.log"
                )
                defer { flexd.stop() }
                let completed = NIOLockedValueBox<[String]>([])
                let sent = 400
                try await withFlexClient(host: "127.0.0.1", port: port) { client in
                    await withTaskGroup(of: Void.self) { group in
                        let next = NIOLockedValueBox(0)
                        for _ in 0..<24 {
                            group.addTask {
                                while true {
                                    let index = next.withLockedValue { value in
                                        defer { value += 1 }
                                        return value
                                    }
                                    guard index < sent else { return }
                                    let id = "kill-\(index)"
                                    if (try? await client.complete(Self.request(id))) != nil {
                                        completed.withLockedValue { $0.append(id) }
                                    }
                                }
                            }
                        }
                        // Kill flexd once a good part of the calls has completed, with others in flight.
                        group.addTask {
                            while completed.withLockedValue({ $0.count }) < 120 {
                                try? await Task.sleep(for: .milliseconds(5))
                            }
                            flexd.send(SIGKILL)
                        }
                    }
                }
                let seen = completed.withLockedValue { $0 }
                #expect(
                    seen.count >= 120 && seen.count < sent,
                    "the kill landed mid-run: \(seen.count) of \(sent) completed"
                )

                // flexd comes back on the same ledger and records new calls.
                let (again, againPort) = try await Self.startFlexd(
                    stack,
                    ledger: "sqlite:" + path,
                    instance: "kill-test",
                    log: "flexd-2.log"
                )
                try await withFlexClient(host: "127.0.0.1", port: againPort) { client in
                    for index in 0..<5 { _ = try await client.complete(Self.request("after-\(index)")) }
                }
                again.send(SIGTERM)
                #expect(await again.exitStatus(within: .seconds(20)) == 0)

                let ledger = try await Ledger.open(.sqlite(path: path))
                let bill = try Self.flexsimBill(stack)
                for id in seen + (0..<5).map({ "after-\($0)" }) {
                    let record = try await ledger.store.record(tenant: "anonymous", requestID: id)
                    #expect(record != nil, "\(id) completed for its caller, so its record is in the ledger")
                    #expect(record?.actualCostPicoUSD == bill[id], "\(id): the record equals what flexsim billed")
                }
                let stored = try await RawLedger.requestIDs(.sqlite(path: path), tenant: "anonymous")
                #expect(stored.count <= sent + 5)
                let totals = try await ledger.report()
                #expect(
                    totals.reduce(0) { $0 + $1.requests } == Int64(stored.count),
                    "one record per call: the primary key"
                )
                let billed = stored.reduce(Int128(0)) { $0 + Int128(bill[$1] ?? -1_000_000) }
                #expect(
                    totals.reduce(Int128(0)) { $0 + $1.actualCost.picoUSD } == billed,
                    "the report's total is flexsim's bill for the same calls"
                )
                await ledger.close()
            }
        }

        @Test func twoFlexdInstancesShareOnePostgreSQLLedger() async throws {
            guard let server = PostgresTestServer.current else {
                throw TestFailure("no PostgreSQL server for the suite")
            }
            let database = try await server.createDatabase()
            let url = "postgres://\(database.user)@127.0.0.1:\(database.port)/\(database.database)?sslmode=disable"
            try await Self.withFlexsim { stack in
                let (a, portA) = try await Self.startFlexd(stack, ledger: url, instance: "flexd-a", log: "flexd-a.log")
                defer { a.stop() }
                let (b, portB) = try await Self.startFlexd(stack, ledger: url, instance: "flexd-b", log: "flexd-b.log")
                defer { b.stop() }
                try await withFlexClient(host: "127.0.0.1", port: portA) { clientA in
                    try await withFlexClient(host: "127.0.0.1", port: portB) { clientB in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for index in 0..<40 {
                                group.addTask { _ = try await clientA.complete(Self.request("pg-a-\(index)")) }
                                group.addTask { _ = try await clientB.complete(Self.request("pg-b-\(index)")) }
                            }
                            try await group.waitForAll()
                        }
                        // One request id through both instances: the first record stays, the second is a conflict.
                        _ = try await clientA.complete(Self.request("pg-shared"))
                        _ = try await clientB.complete(Self.request("pg-shared"))
                    }
                }
                a.send(SIGTERM)
                b.send(SIGTERM)
                #expect(await a.exitStatus(within: .seconds(20)) == 0)
                #expect(await b.exitStatus(within: .seconds(20)) == 0)

                let location = LedgerLocation.postgres(database)
                let ledger = try await Ledger.open(location)
                let bill = try Self.flexsimBill(stack)
                let totals = try await ledger.report()
                #expect(totals.count == 1 && totals.first?.tenant == "anonymous")
                #expect(totals.first?.requests == 81 && totals.first?.conflicts == 1)
                let shared = try #require(try await ledger.store.record(tenant: "anonymous", requestID: "pg-shared"))
                #expect(shared.instanceID == "flexd-a", "the first record is kept")
                var expected = Int128(shared.actualCostPicoUSD)
                for side in ["a", "b"] {
                    for index in 0..<40 {
                        let id = "pg-\(side)-\(index)"
                        let record = try await ledger.store.record(tenant: "anonymous", requestID: id)
                        #expect(record?.instanceID == "flexd-\(side)")
                        #expect(record?.actualCostPicoUSD == bill[id], "\(id)")
                        expected += Int128(bill[id] ?? 0)
                    }
                }
                #expect(totals.first?.actualCost.picoUSD == expected)
                await ledger.close()
            }
        }
    }
}
