import FlexCodec
import FlexJSON
import FlexTestSupport
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `flexd` and `flexsim` executables as separate processes: every API streamed and
/// unary, the admin endpoint, a SIGTERM drain with calls in flight, and configuration that fails
/// fast. Every process is stopped (SIGTERM, then SIGKILL) and reaped.
@Suite("flexd and flexsim as processes", .serialized)
struct FlexdProcessTests {
    struct Stack {
        let flexd: ChildProcess
        let flexsim: ChildProcess
        let port: Int
        let adminPort: Int
        let simPort: Int
        let log: String
    }

    /// Starts flexsim (with `profile` JSON if given) and a flexd routing to it.
    static func withStack<T>(
        profileJSON: String? = nil,
        extraArguments: [String] = [],
        _ body: (Stack) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexd-process-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var profile = "instant"
        if let profileJSON {
            profile = directory.appendingPathComponent("profile.json").path
            try profileJSON.write(toFile: profile, atomically: true, encoding: .utf8)
        }
        let simLog = directory.appendingPathComponent("flexsim.log").path
        let (flexsim, simPort, _) = try await Executables.startListening {
            let port = Executables.freePort()
            let process = try ChildProcess(
                executable: try Executables.path("flexsim"),
                arguments: ["--listen", "127.0.0.1:\(port)", "--seed", "3", "--profile", profile],
                outputPath: simLog
            )
            return (process, port, simLog, ())
        }
        defer { flexsim.stop() }

        let root = "http://127.0.0.1:\(simPort)"
        let log = directory.appendingPathComponent("flexd.log").path
        let (flexd, port, adminPort) = try await Executables.startListening(alsoOn: { [$0] }) {
            let port = Executables.freePort()
            let adminPort = Executables.freePort()
            let process = try ChildProcess(
                executable: try Executables.path("flexd"),
                arguments: [
                    "serve", "--listen", "127.0.0.1:\(port)", "--admin-listen", "127.0.0.1:\(adminPort)",
                    "--http-listen", "off",
                    "--log-level", "warning", "--ledger",
                    "sqlite:" + directory.appendingPathComponent("ledger.sqlite").path,
                ] + Executables.flexsimUpstream(root) + extraArguments,
                outputPath: log
            )
            return (process, port, log, adminPort)
        }
        defer { flexd.stop() }
        return try await body(
            Stack(flexd: flexd, flexsim: flexsim, port: port, adminPort: adminPort, simPort: simPort, log: log)
        )
    }

    static func request(_ api: Api, id: String, startWithin: String) -> InferenceRequest {
        let (model, key, json): (String, String, String) =
            switch api {
            case .chatCompletions: ("gpt-5.4-mini", "sk-p", #"{"messages":[{"role":"user","content":"Hi"}]}"#)
            case .responses: ("gpt-5.4-mini", "sk-p", #"{"input":"Hi"}"#)
            case .messages:
                ("claude-haiku-4-5", "sk-ant-p", #"{"max_tokens":256,"messages":[{"role":"user","content":"Hi"}]}"#)
            case .generateContent:
                ("gemini-3.8-flash", "AIza-p", #"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#)
            case .interactions: ("gemini-3.8-flash", "AIza-p", #"{"input":"Hi"}"#)
            }
        return InferenceRequest(
            requestID: id,
            provider: api.provider,
            api: api,
            model: model,
            startWithin: startWithin,
            providerKey: Secret(key),
            body: .nativeJSON(ByteBuffer(string: json))
        )
    }

    @Test func everyAPIStreamedAndUnaryThroughTheRealProcesses() async throws {
        try await Self.withStack { stack in
            let (client, _) = try await WireClient.connected(port: stack.port)
            var id: UInt32 = 1
            for api in Api.allCases {
                for stream in [false, true] {
                    let startWithin = api.provider == .anthropic ? "default" : "00h-00m-30s"
                    let name = "proc-\(api.name)-\(stream)"
                    try client.call(
                        StreamID(id),
                        Self.request(api, id: name, startWithin: startWithin),
                        method: stream ? RequestHeaders.Method.stream : RequestHeaders.Method.complete
                    )
                    let frames = try await client.readCall(StreamID(id))
                    let trailers = try #require(frames.trailers, "\(name)")
                    #expect(trailers.status.code == .ok, "\(name): \(trailers.status)")
                    let savings = try #require(trailers.savings)
                    #expect(savings.tierServed == (api.provider == .anthropic ? .standard : .flex), "\(name)")
                    // The same money as flexsim billed.
                    let ledger = try LoopbackHTTP.send(port: stack.simPort, method: "GET", path: "/sim/ledger").text
                    let row = try ledger.split(separator: "\n").map { try JSONParser.parse(String($0)) }
                        .first { $0["correlation_id"]?.string == name }
                    #expect(row?["cost_picousd"]?.int == savings.actualCostPicoUSD, "\(name)")
                    id += 2
                }
            }
        }
    }

    @Test func theAdminEndpointServesHealthReadinessAndMetrics() async throws {
        try await Self.withStack { stack in
            let (client, _) = try await WireClient.connected(port: stack.port)
            // Two answered on flex by OpenAI, one on flex by Gemini, one on standard by Anthropic, one refused.
            var unknown = Self.request(.chatCompletions, id: "metrics-unknown", startWithin: "00h-00m-30s")
            unknown.model = "no-such-model"
            let calls = [
                Self.request(.chatCompletions, id: "metrics-1", startWithin: "00h-00m-30s"),
                Self.request(.chatCompletions, id: "metrics-2", startWithin: "00h-00m-30s"),
                Self.request(.generateContent, id: "metrics-3", startWithin: "00h-00m-30s"),
                Self.request(.messages, id: "metrics-4", startWithin: "default"), unknown,
            ]
            for (index, call) in calls.enumerated() {
                let id = StreamID(UInt32(2 * index + 1))
                try client.call(id, call)
                _ = try await client.readCall(id)
            }
            #expect(try LoopbackHTTP.send(port: stack.adminPort, method: "GET", path: "/healthz").status == 200)
            #expect(try LoopbackHTTP.send(port: stack.adminPort, method: "GET", path: "/readyz").status == 200)
            let metrics = try LoopbackHTTP.send(port: stack.adminPort, method: "GET", path: "/metrics").text
            let counts = Self.samples(of: "flexd_calls_total", in: metrics)
            #expect(
                counts == [
                    #"outcome="ok",tier_served="flex",provider="openai""#: 2,
                    #"outcome="ok",tier_served="flex",provider="gemini""#: 1,
                    #"outcome="ok",tier_served="standard",provider="anthropic""#: 1,
                    #"outcome="unknown_model",tier_served="none",provider="none""#: 1,
                ],
                "\(counts)"
            )
            #expect(metrics.contains("flexd_saved_picousd_total"))
            #expect(!metrics.contains("sk-p"), "no key in metrics")
            #expect(try LoopbackHTTP.send(port: stack.adminPort, method: "GET", path: "/nope").status == 404)
        }
    }

    /// The samples of a Prometheus counter: its labels as written, and its value.
    static func samples(of name: String, in exposition: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in exposition.split(separator: "\n") where line.hasPrefix(name + "{") {
            guard let close = line.lastIndex(of: "}"),
                let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces))
            else { continue }
            samples[String(line[line.index(line.startIndex, offsetBy: name.count + 1)..<close])] = value
        }
        return samples
    }

    @Test func sigtermDrainsCallsInFlightAndNoneFails() async throws {
        // Flex waits 1 s in flexsim's queue, so the calls are in flight when SIGTERM arrives.
        let profile = #"""
            {"name": "slow-start",
             "tiers": {"flex": {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": 0},
                       "standard": {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": 0}},
             "flex": {"refusal_probability": 0, "scarce": {"fraction": 0, "window_s": 60, "refusal_probability": 0, "wait_multiplier": 1},
                      "queue_wait_s": {"kind": "constant", "value": 1}, "concurrency": 0,
                      "max_queue_wait_s": 0, "preamble_while_queued": true}}
            """#
        try await Self.withStack(profileJSON: profile) { stack in
            let (client, _) = try await WireClient.connected(port: stack.port)
            let calls: [UInt32] = Array(stride(from: 1, through: 19, by: 2))
            for id in calls {
                try client.call(
                    StreamID(id),
                    Self.request(.chatCompletions, id: "drain-\(id)", startWithin: "00h-00m-30s"),
                    method: id % 4 == 1 ? RequestHeaders.Method.stream : RequestHeaders.Method.complete
                )
            }
            try await Task.sleep(for: .milliseconds(300))
            stack.flexd.send(SIGTERM)
            var statuses: [UInt32: StatusCode] = [:]
            var goAway: GoAway?
            for frame in try await client.readUntilClosed() {
                if case .goAway(let frame) = frame { goAway = frame }
                if case .trailers(let id, let trailers) = frame { statuses[id.rawValue] = trailers.status.code }
            }
            #expect(goAway?.code == .ok)
            #expect(goAway?.lastStreamID == StreamID(calls.last!))
            #expect(statuses.count == calls.count && statuses.values.allSatisfy { $0 == .ok }, "\(statuses)")
            #expect(await stack.flexd.exitStatus(within: .seconds(10)) == 0, "flexd exits cleanly after the drain")
        }
    }

    @Test func aDrainTurnsReadinessOffFirstAndSendsGoAwayOnlyAfterTheDrainDelay() async throws {
        try await Self.withStack(extraArguments: ["--drain-delay", "1.5"]) { stack in
            #expect(try LoopbackHTTP.send(port: stack.adminPort, method: "GET", path: "/readyz").status == 200)
            let (client, _) = try await WireClient.connected(port: stack.port)
            let sent = ContinuousClock.now
            stack.flexd.send(SIGTERM)
            // At once: not ready, while the process still serves and still accepts connections
            // (a balancer's health check has the drain delay to notice).
            var readiness = 200
            for _ in 0..<100 where readiness == 200 {
                readiness = try LoopbackHTTP.send(port: stack.adminPort, method: "GET", path: "/readyz").status
                if readiness == 200 { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(readiness == 503)
            #expect(try LoopbackHTTP.send(port: stack.adminPort, method: "GET", path: "/healthz").status == 200)
            let (late, _) = try await WireClient.connected(port: stack.port)
            try late.call(1, Self.request(.chatCompletions, id: "during-delay", startWithin: "default"))
            var lateStatus: StatusCode?
            var lateGoAway: GoAway?
            for frame in try await late.readUntilClosed() {
                if case .trailers(1, let trailers) = frame { lateStatus = trailers.status.code }
                if case .goAway(let goAway) = frame { lateGoAway = goAway }
            }
            #expect(lateStatus == .ok, "a call made during the delay is served")
            #expect(lateGoAway?.lastStreamID == 1)
            // GOAWAY after the delay (measured here only as an order: it follows the 503).
            var goAway: GoAway?
            for frame in try await client.readUntilClosed() {
                if case .goAway(let frame) = frame { goAway = frame }
            }
            #expect(goAway?.errorCode == "server_shutting_down")
            #expect(ContinuousClock.now - sent >= .milliseconds(1500), "GOAWAY came before the drain delay was over")
            #expect(await stack.flexd.exitStatus(within: .seconds(10)) == 0)
        }
    }

    @Test(arguments: [
        (["--listen", "0.0.0.0:7000"], "loopback"),
        (["--max-message-size", "10"], "--max-message-size"),
        (["--upstream", "moon"], "--upstream"),
        (["--keys", "/nonexistent/keys.json"], "keys file"),
        (["--openai-base-url", "ftp://x"], "--openai-base-url"),
        (["--listen", "nonsense"], "--listen"),
        (["--upstream-ca-file", "/nonexistent/ca.pem"], "--upstream-ca-file"),
        (["--upstream-http-version", "3"], "--upstream-http-version"),
        (["--flex-policy", "clever"], "--flex-policy"),
        (["--flex-policy", "adaptive", "--flex-threshold", "1.5"], "threshold"),
        (["--flex-policy", "adaptive", "--flex-half-life", "0"], "--flex-half-life"),
        (["--flex-policy", "adaptive", "--flex-spell-refusal-rate", "2"], "spell refusal rate"),
        (["--flex-policy", "adaptive", "--flex-queue-factor=-1"], "queue factor"),
        (["--flex-policy", "adaptive", "--flex-recent-half-life", "0"], "--flex-recent-half-life"),
        (["--drain-delay", "-1"], "--drain-delay"),
    ])
    func badConfigurationFailsFastWithAClearMessage(_ arguments: [String], _ mention: String) async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexd-bad-\(getpid())-\(mention.hashValue).log"
        ).path
        defer { unlink(log) }
        let flexd = try ChildProcess(
            executable: try Executables.path("flexd"),
            arguments: ["serve", "--admin-listen", "off", "--http-listen", "off"] + arguments,
            outputPath: log
        )
        let status = await flexd.exitStatus(within: .seconds(20))
        flexd.stop()
        #expect(status != nil && status != 0, "\(arguments) must fail")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(output.contains(mention), "\(arguments): \(output)")
    }

    @Test func aConfigFileSetsOptionsAndUnknownKeysAreRefused() async throws {
        let directory = FileManager.default.temporaryDirectory
        let bad = directory.appendingPathComponent("flexd-config-\(getpid()).json").path
        try #"{"listen": "127.0.0.1:7000", "colour": "blue"}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        defer { unlink(bad) }
        let log = directory.appendingPathComponent("flexd-config-\(getpid()).log").path
        defer { unlink(log) }
        let flexd = try ChildProcess(
            executable: try Executables.path("flexd"),
            arguments: ["serve", "--config", bad],
            outputPath: log
        )
        #expect(await flexd.exitStatus(within: .seconds(20)).map { $0 != 0 } == true)
        flexd.stop()
        #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("colour"))

        // A good file: flexd listens where it says.
        let good = directory.appendingPathComponent("flexd-config-good-\(getpid()).json").path
        defer { unlink(good) }
        let (running, port, _) = try await Executables.startListening {
            let port = Executables.freePort()
            try
                #"{"listen": "127.0.0.1:\#(port)", "admin-listen": "off", "http-listen": "off", "log-level": "warning", "ledger": "none"}"#
                .write(toFile: good, atomically: true, encoding: .utf8)
            let process = try ChildProcess(
                executable: try Executables.path("flexd"),
                arguments: ["--config", good],
                outputPath: log
            )
            return (process, port, log, ())
        }
        defer { running.stop() }
        let (_, hello) = try await WireClient.connected(port: port)
        #expect(hello.versions == [1])
    }
}
