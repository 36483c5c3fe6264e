import FlexClient
import FlexCodec
import FlexTestSupport
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// FlexClient and the C client against the real `flexd` executable with its embedded simulator
/// (`--upstream sim`), as a child process that is always stopped (SIGTERM, then SIGKILL) and
/// reaped.
@Suite("FlexClient and flexc against flexd", .serialized, .timeLimit(.minutes(3)))
struct FlexdEndToEndTests {
    struct Flexd {
        let process: ChildProcess
        let port: Int
        let log: String
        var logText: String { (try? String(contentsOfFile: self.log, encoding: .utf8)) ?? "" }

        /// The log once `done` holds for it (bounded): flexd logs a call after its final frames
        /// (and its ledger record), which the client may have seen first.
        func logText(until done: (String) -> Bool) async -> String {
            for _ in 0..<400 {
                let text = self.logText
                if done(text) { return text }
                try? await Task.sleep(for: .milliseconds(25))
            }
            return self.logText
        }
    }

    /// flexsim streams this profile's answers at `tokensPerSecond` (flexsim's answers here are a few
    /// hundred tokens), flex always starting at once.
    static func profile(tokensPerSecond: Int) -> String {
        #"""
        {"name": "client-e2e",
         "tiers": {"flex": {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": \#(tokensPerSecond)},
                   "standard": {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": \#(tokensPerSecond)}},
         "flex": {"refusal_probability": 0, "scarce": {"fraction": 0, "window_s": 60, "refusal_probability": 0, "wait_multiplier": 1},
                  "queue_wait_s": {"kind": "constant", "value": 0}, "concurrency": 0, "max_queue_wait_s": 0, "preamble_while_queued": true}}
        """#
    }

    /// Starts `flexd serve --upstream sim` on a free loopback port.
    static func withFlexd<T>(
        profileJSON: String? = nil,
        arguments: [String] = [],
        _ body: (Flexd) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexclient-e2e-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var simProfile = "instant"
        if let profileJSON {
            simProfile = directory.appendingPathComponent("profile.json").path
            try profileJSON.write(toFile: simProfile, atomically: true, encoding: .utf8)
        }
        let log = directory.appendingPathComponent("flexd.log").path
        let (process, port, _) = try await Executables.startListening {
            let port = Executables.freePort()
            let process = try ChildProcess(
                executable: try Executables.path("flexd"),
                arguments: [
                    "serve", "--upstream", "sim", "--sim-profile", simProfile, "--listen", "127.0.0.1:\(port)",
                    "--admin-listen", "off", "--http-listen", "off", "--log-level", "info",
                    "--ledger", "sqlite:" + directory.appendingPathComponent("ledger.sqlite").path,
                ] + arguments,
                outputPath: log
            )
            return (process, port, log, ())
        }
        defer { process.stop() }
        return try await body(Flexd(process: process, port: port, log: log))
    }

    static func request(
        _ api: Api = .chatCompletions,
        id: String,
        startWithin: String = "00h-00m-30s"
    ) -> InferenceRequest {
        let (model, key, json): (String, String, String) =
            switch api {
            case .chatCompletions:
                ("gpt-5.4-mini", "sk-e2e", #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Hi"}]}"#)
            case .responses: ("gpt-5.4-mini", "sk-e2e", #"{"model":"gpt-5.4-mini","input":"Hi"}"#)
            case .messages:
                (
                    "claude-haiku-4-5", "sk-ant-e2e",
                    #"{"model":"claude-haiku-4-5","max_tokens":256,"messages":[{"role":"user","content":"Hi"}]}"#
                )
            case .generateContent:
                ("gemini-3.8-flash", "AIza-e2e", #"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#)
            case .interactions: ("gemini-3.8-flash", "AIza-e2e", #"{"model":"gemini-3.8-flash","input":"Hi"}"#)
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

    // MARK: - FlexClient

    @Test func unaryAndStreamingCallsForEveryAPI() async throws {
        try await Self.withFlexd { flexd in
            try await withFlexClient(host: "127.0.0.1", port: flexd.port) { client in
                for api in Api.allCases {
                    // Anthropic has no flex tier: its calls ask for the default tier.
                    let startWithin = api.provider == .anthropic ? "default" : "00h-00m-30s"
                    let expectedTier: Tier = api.provider == .anthropic ? .standard : .flex

                    let (response, savings) = try await client.complete(
                        Self.request(api, id: "u-\(api)", startWithin: startWithin)
                    )
                    #expect(response.requestID == "u-\(api)")
                    #expect(response.nativeJSON.map { $0.readableBytes > 0 } == true, "\(api)")
                    #expect(savings?.requestID == "u-\(api)")
                    #expect(savings?.tierServed == expectedTier, "\(api)")

                    let (events, end) = try await client.stream(
                        Self.request(api, id: "s-\(api)", startWithin: startWithin)
                    ) { stream in
                        (try await stream.collect(), stream.trailers)
                    }
                    guard case .route(let route) = events.first else {
                        Issue.record("\(api): the first event is not the route: \(events.first as Any)")
                        continue
                    }
                    #expect(route.tier == expectedTier, "\(api)")
                    #expect(events.dropFirst().allSatisfy { if case .native = $0 { true } else { false } }, "\(api)")
                    #expect(events.count > 2, "\(api)")
                    #expect(end?.status.code == .ok)
                    #expect(end?.savings?.requestID == "s-\(api)")
                    if expectedTier == .flex {
                        #expect((end?.savings?.savedPicoUSD ?? 0) > 0, "\(api)")
                    }
                }
            }
        }
    }

    @Test func manyConcurrentCallsWaitForStreamSlotsOnOneConnection() async throws {
        try await Self.withFlexd(arguments: ["--max-concurrent-streams", "4"]) { flexd in
            // flexd frees a stream's slot just after its TRAILERS are out, so a call opened the moment
            // they arrive can be refused (too_many_streams, unprocessed): the client sends it again.
            let configuration = FlexClient.Configuration.defaults {
                $0.maxTransparentRetries = 5
                $0.maxConnectionsPerEndpoint = 1
            }
            let ids = try await withFlexClient(host: "127.0.0.1", port: flexd.port, configuration: configuration) {
                client in
                try await withThrowingTaskGroup(of: String.self) { group in
                    for n in 0..<40 {
                        group.addTask { try await client.complete(Self.request(id: "many-\(n)")).0.requestID }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
            }
            #expect(ids == Set((0..<40).map { "many-\($0)" }))
            // flexd logs each call with its peer: one client, one connection.
            let log = await flexd.logText { $0.components(separatedBy: "request_id=many-").count > 40 }
            let peers = Set(
                log.split(separator: "\n").filter { $0.contains("request_id=many-") }
                    .compactMap { line in line.split(separator: " ").first { $0.hasPrefix("peer=") } }
            )
            #expect(peers.count == 1, "\(peers)")
        }
    }

    @Test func manyConcurrentCallsOpenMoreConnectionsUpToTheMaximum() async throws {
        try await Self.withFlexd(arguments: ["--max-concurrent-streams", "4"]) { flexd in
            let configuration = FlexClient.Configuration.defaults {
                $0.maxTransparentRetries = 5
                $0.maxConnectionsPerEndpoint = 3
            }
            let (ids, statistics) = try await withFlexClient(
                host: "127.0.0.1",
                port: flexd.port,
                configuration: configuration
            ) { client in
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for n in 0..<40 {
                        group.addTask { try await client.complete(Self.request(id: "grow-\(n)")).0.requestID }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                return (ids, await client.statistics())
            }
            #expect(ids == Set((0..<40).map { "grow-\($0)" }))
            #expect(statistics.connections == 3, "\(statistics)")
            let log = await flexd.logText { $0.components(separatedBy: "request_id=grow-").count > 40 }
            let peers = Set(
                log.split(separator: "\n").filter { $0.contains("request_id=grow-") }
                    .compactMap { line in line.split(separator: " ").first { $0.hasPrefix("peer=") } }
            )
            #expect(peers.count == 3, "\(peers)")
        }
    }

    @Test func aRequestErrorCarriesTheServersStatus() async throws {
        try await Self.withFlexd { flexd in
            try await withFlexClient(host: "127.0.0.1", port: flexd.port) { client in
                let missing = await failure { try await client.complete(Self.request(id: "no-start", startWithin: "")) }
                #expect(missing?.code == .invalidArgument)
                #expect(missing?.status.errorCode == "missing_start_within")
                #expect(missing?.origin == .server)
                #expect(missing?.savings == nil)
                // The connection carries on.
                _ = try await client.complete(Self.request(id: "after-error"))
            }
        }
    }

    @Test func cancellingAStreamMidwayCancelsItAtFlexd() async throws {
        try await Self.withFlexd(profileJSON: Self.profile(tokensPerSecond: 5)) { flexd in
            try await withFlexClient(host: "127.0.0.1", port: flexd.port) { client in
                let (seen, seenContinuation) = AsyncStream<StreamEvent>.makeStream()
                let call = Task {
                    try await client.stream(Self.request(id: "cancel-me")) { stream in
                        for try await event in stream { seenContinuation.yield(event) }
                    }
                }
                // Wait for the route and one provider event: the answer is being generated.
                var events = seen.makeAsyncIterator()
                _ = await events.next()
                _ = await events.next()
                call.cancel()
                #expect(await failure(of: call)?.code == .cancelled)
                // The same connection serves the next call (one that flexd answers at once).
                let next = await failure {
                    try await client.complete(Self.request(id: "after-cancel", startWithin: ""))
                }
                #expect(next?.status.errorCode == "missing_start_within")
            }
            let log = await flexd.logText { $0.contains("request_id=cancel-me ") }
            let line = log.split(separator: "\n").first { $0.contains("request_id=cancel-me ") }
            #expect(line?.contains("status=CANCELLED") == true, "\(line.map(String.init) ?? flexd.logText)")
        }
    }

    @Test func aCallPastItsDeadlineFailsWithDeadlineExceeded() async throws {
        try await Self.withFlexd(profileJSON: Self.profile(tokensPerSecond: 5)) { flexd in
            try await withFlexClient(host: "127.0.0.1", port: flexd.port) { client in
                let error = await failure {
                    try await client.complete(
                        Self.request(id: "too-slow"),
                        options: CallOptions(timeout: .milliseconds(500))
                    )
                }
                // flexd (timeout_us) or the client (its own timer) ends it; either way the code is the same.
                #expect(error?.code == .deadlineExceeded)
                #expect(error?.status.errorCode == "deadline_exceeded")
            }
        }
    }

    @Test func aDrainOnSIGTERMFinishesTheCallsInFlight() async throws {
        // Answers take seconds to stream, so the calls are still running when the signal lands.
        try await Self.withFlexd(profileJSON: Self.profile(tokensPerSecond: 60)) { flexd in
            let configuration = FlexClient.Configuration.defaults { $0.maxTransparentRetries = 0 }
            try await withFlexClient(host: "127.0.0.1", port: flexd.port, configuration: configuration) { client in
                let (started, startedContinuation) = AsyncStream<Void>.makeStream()
                let calls = (0..<5).map { n in
                    Task {
                        try await client.stream(Self.request(id: "drain-\(n)")) { stream in
                            var events = 0
                            for try await _ in stream {
                                events += 1
                                if events == 1 { startedContinuation.yield() }
                            }
                            return stream.trailers?.status.code
                        }
                    }
                }
                // Every call has its route event: all five are in flight.
                var iterator = started.makeAsyncIterator()
                for _ in 0..<5 { _ = await iterator.next() }
                flexd.process.send(SIGTERM)
                for call in calls {
                    let code = try await call.value
                    #expect(code == .ok)
                }
                // Once flexd has exited, a new call finds nothing to connect to.
                #expect(await flexd.process.exitStatus(within: .seconds(30)) == 0)
                let after = await failure { try await client.complete(Self.request(id: "after-drain")) }
                // UNAVAILABLE either way: refused by the connection that got the GOAWAY (when the client
                // has not yet seen it close) or by the failed connect that follows.
                #expect(after?.code == .unavailable)
                #expect(
                    ["connection_failed", "server_shutting_down"].contains(after?.status.errorCode ?? ""),
                    "\(String(describing: after))"
                )
            }
        }
    }

    @Test func withAKeysFileCallsNeedTheirAPIKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flexclient-keys-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys.json").path
        // SHA-256 of "fxk_client_e2e_key".
        try
            #"{"tenants": [{"id": "client-e2e", "api_key_sha256": "13dad888f20be9e4dce5dcea484dcb83ed79e11fd1761cd70790f9c392dfc85c"}]}"#
            .write(toFile: keys, atomically: true, encoding: .utf8)
        try await Self.withFlexd(arguments: ["--keys", keys]) { flexd in
            try await withFlexClient(host: "127.0.0.1", port: flexd.port) { client in
                let missing = await failure { try await client.complete(Self.request(id: "no-key")) }
                #expect(missing?.code == .unauthenticated)
                #expect(missing?.status.errorCode == "missing_api_key")
                let wrong = await failure {
                    try await client.complete(Self.request(id: "bad-key"), options: CallOptions(apiKey: "fxk_wrong"))
                }
                #expect(wrong?.status.errorCode == "invalid_api_key")
                #expect(!"\(wrong as Any)".contains("fxk_wrong"))
            }
            let configuration = FlexClient.Configuration.defaults { $0.apiKey = "fxk_client_e2e_key" }
            try await withFlexClient(host: "127.0.0.1", port: flexd.port, configuration: configuration) { client in
                let (response, _) = try await client.complete(Self.request(id: "good-key"))
                #expect(response.requestID == "good-key")
            }
            #expect(!flexd.logText.contains("fxk_client_e2e_key") && !flexd.logText.contains("fxk_wrong"))
        }
    }

    // MARK: - The C client

    @Test func theCClientCallsFlexdUnaryAndStreaming() async throws {
        try await Self.withFlexd { flexd in
            let requestJSON = #"""
                {"request_id": "flexc-e2e", "provider": "openai", "api": "chat_completions", "model": "gpt-5.4-mini",
                 "start_within": "00h-00m-30s", "provider_key": "sk-e2e",
                 "body": {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "Say hi"}]}}
                """#
            let unary = await CClientTests.finish(
                try await CClientTests.start(port: flexd.port, requestJSON: requestJSON)
            )
            #expect(unary.status == 0, "\(unary.output)")
            #expect(unary.lines[0].contains(#""object":"chat.completion""#), "\(unary.output)")
            #expect(unary.lines[1].hasPrefix(#"savings: {"request_id":"flexc-e2e","provider":"openai""#))
            #expect(unary.lines[1].contains(#""tier_served":"flex""#))
            #expect(unary.lines[2] == "status: OK")

            let stream = await CClientTests.finish(
                try await CClientTests.start(port: flexd.port, requestJSON: requestJSON, arguments: ["--stream"])
            )
            #expect(stream.status == 0, "\(stream.output)")
            #expect(stream.lines[0].hasPrefix("route: tier=flex fell_back=false"))
            #expect(stream.lines.contains { $0.hasPrefix("data: ") && $0.contains("chat.completion.chunk") })
            #expect(stream.lines.contains { $0.hasPrefix("savings: {") })
            #expect(stream.lines.last { !$0.isEmpty } == "status: OK")

            let bad = await CClientTests.finish(
                try await CClientTests.start(
                    port: flexd.port,
                    requestJSON: requestJSON.replacingOccurrences(of: "00h-00m-30s", with: "soon")
                )
            )
            #expect(bad.status == 3, "\(bad.output)")  // INVALID_ARGUMENT
            #expect(bad.output.contains("status: INVALID_ARGUMENT (invalid_start_within)"), "\(bad.output)")
        }
    }
}
