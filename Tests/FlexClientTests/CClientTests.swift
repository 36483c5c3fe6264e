import FlexCodec
import FlexTestSupport
import Foundation
import NIOCore
import Testing

/// The plain-C client, tools/flexc: built with the system C compiler through its Makefile
/// (warnings are errors), then run against the scripted server.
@Suite(.timeLimit(.minutes(2))) struct CClientTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Builds flexc once per test process (make -B OUT=...), into a temporary directory.
    static let build = Task { () -> Result<String, FlexCClientError> in
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flexc-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let output = directory + "/flexc"
        let log = directory + "/build.log"
        do {
            let make = try ChildProcess(
                executable: "/usr/bin/make",
                arguments: ["-s", "-B", "-C", repositoryRoot + "/tools/flexc", "OUT=\(output)"],
                outputPath: log
            )
            let status = await make.exitStatus(within: .seconds(120))
            make.stop()
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            guard status == 0 else {
                return .failure(FlexCClientError("make failed (\(String(describing: status))): \(text)"))
            }
            // -Werror makes any warning fail the build; -s leaves nothing else to print.
            guard text.isEmpty else { return .failure(FlexCClientError("the build printed: \(text)")) }
            return .success(output)
        } catch {
            return .failure(FlexCClientError("could not run make: \(error)"))
        }
    }

    /// A flexc run: its exit status and everything it printed (stdout and stderr).
    struct Run {
        var status: Int32?
        var output: String
        var lines: [String] { self.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    }

    /// Writes `requestJSON` to a file and starts flexc on it. Call ``finish(_:)`` once the server
    /// side is done: it waits for the exit (bounded) and reads the output.
    static func start(port: Int, requestJSON: String, arguments: [String] = []) async throws -> (ChildProcess, String) {
        let requestPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexc-\(getpid())/\(UUID().uuidString).json"
        ).path
        _ = try await self.build.value.get()  // creates the directory
        try requestJSON.write(toFile: requestPath, atomically: true, encoding: .utf8)
        return try await self.start(port: port, arguments: arguments + [requestPath])
    }

    /// Starts flexc with `--target` and `arguments` (a typed call needs no request file), with
    /// `environment` added to its environment.
    static func start(
        port: Int,
        arguments: [String],
        environment: [String: String] = [:]
    ) async throws -> (ChildProcess, String) {
        let executable = try await self.build.value.get()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flexc-\(getpid())").path
        let outputPath = directory + "/\(UUID().uuidString).out"
        let process = try ChildProcess(
            executable: executable,
            arguments: ["--target", "127.0.0.1:\(port)"] + arguments,
            outputPath: outputPath,
            environment: environment
        )
        return (process, outputPath)
    }

    static func finish(_ started: (ChildProcess, String)) async -> Run {
        let status = await started.0.exitStatus(within: .seconds(30))
        started.0.stop()
        let output = (try? String(contentsOfFile: started.1, encoding: .utf8)) ?? ""
        return Run(status: status, output: output)
    }

    static let body = #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Say hi \u00e9\ud83d\ude00"}]}"#

    static func requestJSON(body: String = body, extra: String = #""provider_key": "sk-c-client""#) -> String {
        #"""
        {
          "request_id": "c-1",
          "provider": "openai",
          "api": "chat_completions",
          "model": "gpt-5.4-mini",
          "start_within": "00h-00m-30s",
          \#(extra),
          "body": \#(body)
        }
        """#
    }

    // MARK: - Against the scripted server

    @Test func aUnaryCallPrintsTheAnswerTheSavingsAndOK() async throws {
        try await withFakeServer { server in
            let started = try await Self.start(
                port: server.port,
                requestJSON: Self.requestJSON(),
                arguments: ["--api-key", "fxk_c"]
            )
            let connection = await server.accept()
            let hello = try await connection.handshake()
            #expect(hello.versions == [1] && hello.compression == [.lz4] && hello.agent == "flexc/0.1")
            let (id, headers, request) = try await connection.readCall()
            #expect(id == 1)
            #expect(headers.method == RequestHeaders.Method.complete)
            #expect(headers.apiKey.value == "fxk_c")
            #expect(headers.timeout == nil)
            #expect(request.requestID == "c-1" && request.provider == .openAI && request.api == .chatCompletions)
            #expect(request.model == "gpt-5.4-mini" && request.startWithin == "00h-00m-30s")
            #expect(request.providerKey.value == "sk-c-client")
            // The body travels exactly as written in the file.
            #expect(request.body == .nativeJSON(ByteBuffer(string: Self.body)))
            try await connection.answer(
                id,
                Fixtures.response(id: "c-1"),
                trailers: Trailers(status: .ok, savings: Fixtures.savings(id: "c-1"))
            )
            let (frame, wireLength) = try await connection.readFrameWithLength()
            _ = wireLength
            let responseLength = try connection.coder.encode(Fixtures.response(id: "c-1")).readableBytes
            #expect(frame == .windowUpdate(1, increment: UInt32(responseLength)))
            #expect(try await connection.readUntilClosed() == [.goAway(GoAway(lastStreamID: 0))])

            let run = await Self.finish(started)
            #expect(run.status == 0, "\(run.output)")
            #expect(run.lines[0] == String(buffer: Fixtures.response(id: "c-1").nativeJSON!))
            #expect(
                run.lines[1].hasPrefix(#"savings: {"request_id":"c-1","provider":"openai","api":"chat_completions""#)
            )
            #expect(
                run.lines[1].contains(#""tier_requested":"flex","tier_served":"flex","tier_served_reported":"flex""#)
            )
            #expect(
                run.lines[1].contains(
                    #""tokens":{"input":9,"cached_input":0,"cache_write":0,"cache_write_1h":0,"output":2,"reasoning":0}"#
                )
            )
            #expect(
                run.lines[1].contains(
                    #""standard_cost_picousd":15750000,"actual_cost_picousd":7875000,"saved_picousd":7875000,"fee_picousd":1575000"#
                )
            )
            #expect(run.lines[2] == "status: OK")
            // The savings line is JSON.
            let json =
                try JSONSerialization.jsonObject(with: Data(run.lines[1].dropFirst("savings: ".count).utf8))
                as? [String: Any]
            #expect(json?["price_date"] as? String == "2026-11-26")
        }
    }

    @Test func aStreamingCallPrintsEachEventAndDecompressesLargeOnes() async throws {
        setenv("FLEXC_TEST_PROVIDER_KEY", "sk-from-env", 1)
        try await withFakeServer { server in
            let big = Fixtures.nativeEvent(2, size: 5000)
            let started = try await Self.start(
                port: server.port,
                requestJSON: Self.requestJSON(extra: #""provider_key_env": "FLEXC_TEST_PROVIDER_KEY""#),
                arguments: ["--stream"]
            )
            let connection = await server.accept()
            try await connection.handshake()
            let (id, headers, request) = try await connection.readCall()
            #expect(headers.method == RequestHeaders.Method.stream)
            #expect(request.providerKey.value == "sk-from-env")
            try await connection.write(.responseHeaders(id, ResponseHeaders()))
            try await connection.writeMessage(Fixtures.route, on: id)
            try await connection.writeMessage(Fixtures.nativeEvent(1), on: id)
            try await connection.writeMessage(big, on: id)  // > 1 KiB: LZ4-compressed
            try await connection.write(.ping(77, ack: false))
            var increments: [UInt32] = []
            var sawPingAck = false
            while increments.count < 3 || !sawPingAck {
                switch try await connection.readFrame() {
                case .windowUpdate(id, let increment): increments.append(increment)
                case .ping(77, ack: true): sawPingAck = true
                case let other: Issue.record("unexpected \(other)")
                }
            }
            // Credit is returned as sent on the wire: the compressed length for the big event.
            let bigLength = try connection.coder.encode(big).readableBytes
            #expect(increments[2] < UInt32(bigLength / 4))
            try await connection.write(.trailers(id, Trailers(status: .ok, savings: Fixtures.savings(id: "c-1"))))
            _ = try await connection.readUntilClosed()

            let run = await Self.finish(started)
            #expect(run.status == 0, "\(run.output)")
            #expect(run.lines[0] == "route: tier=flex fell_back=false fallback_reason=none flex_wait_us=1200")
            #expect(run.lines[1] == "event: delta")
            #expect(run.lines[2] == #"data: {"n":1,"pad":""}"#)
            #expect(run.lines[4] == "event: delta")
            #expect(run.lines[5] == #"data: {"n":2,"pad":"\#(String(repeating: "x", count: 5000))"}"#)
            #expect(run.lines[7].hasPrefix("savings: {"))
            #expect(run.lines[8] == "status: OK")
        }
    }

    @Test func aLargeRequestIsSentCompressed() async throws {
        try await withFakeServer { server in
            let filler = String(repeating: "Rule: answer briefly. ", count: 200)
            let body = #"{"model":"gpt-5.4-mini","messages":[{"role":"system","content":"\#(filler)"}]}"#
            let started = try await Self.start(port: server.port, requestJSON: Self.requestJSON(body: body))
            let connection = await server.accept()
            try await connection.handshake()
            let (id, _, request) = try await connection.readCall()
            #expect(connection.decoder.statistics.compressedMessages == 1)
            #expect(request.body == .nativeJSON(ByteBuffer(string: body)))
            try await connection.answer(id, Fixtures.response())
            _ = try await connection.readUntilClosed()
            #expect(await Self.finish(started).status == 0)
        }
    }

    @Test func aFailedCallPrintsTheStatusAndExitsWithItsCode() async throws {
        try await withFakeServer { server in
            let started = try await Self.start(port: server.port, requestJSON: Self.requestJSON())
            let connection = await server.accept()
            try await connection.handshake()
            let (id, _, _) = try await connection.readCall()
            let status = Status(
                code: .unavailable,
                message: "the provider failed",
                errorCode: "upstream_error",
                upstream: UpstreamError(httpStatus: 503, type: "server_error", code: "overloaded", message: "try later")
            )
            try await connection.write(
                .trailers(id, Trailers(status: status, savings: Fixtures.savings(id: "c-1", saved: 0)))
            )
            _ = try await connection.readUntilClosed()
            let run = await Self.finish(started)
            #expect(run.status == 14)
            #expect(run.lines[0].hasPrefix("savings: {"))
            #expect(run.lines[1] == "status: UNAVAILABLE (upstream_error): the provider failed")
            #expect(run.lines[2] == "upstream: http_status=503 type=server_error code=overloaded message=try later")
        }
    }

    @Test func aCallTheServerDidNotProcessSaysSo() async throws {
        try await withFakeServer { server in
            let started = try await Self.start(port: server.port, requestJSON: Self.requestJSON())
            let connection = await server.accept()
            try await connection.handshake()
            _ = try await connection.readCall()
            try await connection.write(
                .goAway(GoAway(lastStreamID: 0, code: .ok, message: "draining", errorCode: "server_shutting_down"))
            )
            await connection.close()
            let run = await Self.finish(started)
            #expect(run.status == 14)
            #expect(run.lines[0] == "status: UNAVAILABLE (server_shutting_down): the call was not processed: draining")
        }
    }

    @Test func theTimeoutTravelsInHeadersAndEndsTheCallWithCancel() async throws {
        try await withFakeServer { server in
            // Long enough for the call to reach the server on a busy machine; the test waits it out.
            let started = try await Self.start(
                port: server.port,
                requestJSON: Self.requestJSON(),
                arguments: ["--timeout", "2.5"]
            )
            let connection = await server.accept()
            try await connection.handshake()
            let (id, headers, _) = try await connection.readCall()
            #expect(headers.timeout == .milliseconds(2500))
            // No answer: flexc gives up at its deadline.
            #expect(
                try await connection.readFrame()
                    == .cancel(id, Cancel(code: .deadlineExceeded, reason: "flexc --timeout passed"))
            )
            let run = await Self.finish(started)
            #expect(run.status == 4)
            #expect(run.lines[0] == "status: DEADLINE_EXCEEDED (deadline_exceeded): the --timeout passed")
        }
    }

    @Test func aServerThatBreaksTheProtocolFailsWithInternal() async throws {
        try await withFakeServer { server in
            let started = try await Self.start(port: server.port, requestJSON: Self.requestJSON())
            let connection = await server.accept()
            try await connection.handshake()
            let (id, _, _) = try await connection.readCall()
            try await connection.write(.trailers(StreamID(id.rawValue + 2), Trailers(status: .ok)))
            _ = try await connection.readUntilClosed()
            let run = await Self.finish(started)
            #expect(run.status == 13)
            #expect(run.output.contains("protocol violation: frame type 3 on stream 3"), "\(run.output)")
        }
    }

    @Test(arguments: [
        (#"{"provider": "openai"}"#, "provider, api, model, start_within and body are required"),
        (
            #"{"provider": "mistral", "api": "chat_completions", "model": "m", "start_within": "auto", "body": {}}"#,
            "provider must be"
        ),
        (
            #"{"provider": "openai", "api": "chat_completions", "model": "m", "start_within": "auto", "body": {"a": tru}}"#,
            "\"body\" is not valid JSON"
        ),
        (#"{"provider": "openai", "colour": "blue"}"#, "unknown key \"colour\""),
        (
            #"{"provider": "openai", "api": "chat_completions", "model": "m", "start_within": "auto", "provider_key_env": "FLEXC_SURELY_UNSET", "body": {}}"#,
            "FLEXC_SURELY_UNSET"
        ),
        (#"{"model": "a\u0000b"}"#, "\"model\" must be a string"),
        ("[1, 2]", "expected a JSON object"),
    ])
    func aBadRequestFileExitsWithUsage(_ json: String, _ message: String) async throws {
        // Nothing listens on port 9; flexc must stop before it tries.
        let run = await Self.finish(try await Self.start(port: 9, requestJSON: json))
        #expect(run.status == 64)
        #expect(run.output.contains(message), "\(run.output)")
    }

    // MARK: - Typed calls (--typed)

    static let typedArguments = [
        "--typed", "--provider", "anthropic", "--api", "messages", "--model", "claude-haiku-4-5", "--start-within",
        "default",
        "--request-id", "c-typed", "--provider-key-env", "FLEXC_TYPED_KEY",
    ]

    @Test func aTypedCallSendsAChatRequestAndPrintsTheTypedResult() async throws {
        try await withFakeServer { server in
            let started = try await Self.start(
                port: server.port,
                arguments: Self.typedArguments + [
                    "--system", "Answer in one line.", "--prompt", "Say hi \u{e9}\u{1F600}", "--max-output-tokens",
                    "64", "--temperature", "0.5",
                ],
                environment: ["FLEXC_TYPED_KEY": "sk-ant-typed"]
            )
            let connection = await server.accept()
            try await connection.handshake()
            let (id, headers, request) = try await connection.readCall()
            #expect(headers.method == RequestHeaders.Method.complete)
            #expect(request.requestID == "c-typed" && request.provider == .anthropic && request.api == .messages)
            #expect(request.model == "claude-haiku-4-5" && request.startWithin == "default")
            #expect(request.providerKey.value == "sk-ant-typed")
            // The typed request, as typed_chat builds it from the protobuf-c structs.
            #expect(
                request.body
                    == .chat(
                        ChatRequest(
                            messages: [.text(.system, "Answer in one line."), .text(.user, "Say hi \u{e9}\u{1F600}")],
                            temperature: 0.5,
                            maxOutputTokens: 64
                        )
                    )
            )
            let result = ChatResult(
                id: "msg_1",
                model: "claude-haiku-4-5",
                text: "Hi!\nTwo lines.",
                toolCalls: [ToolCall(id: "toolu_1", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#)],
                reasoningSummary: "Greeting.",
                finishReason: .toolCalls,
                nativeFinishReason: "tool_use",
                usage: TokenUsage(inputTokens: 9, cachedInputTokens: 1, outputTokens: 2)
            )
            try await connection.answer(
                id,
                InferenceResponse(requestID: "c-typed", chat: result),
                trailers: Trailers(status: .ok, savings: Fixtures.savings(id: "c-typed"))
            )
            _ = try await connection.readUntilClosed()

            let run = await Self.finish(started)
            #expect(run.status == 0, "\(run.output)")
            #expect(
                Array(run.lines.prefix(6)) == [
                    "Hi!",
                    "Two lines.",
                    "reasoning: Greeting.",
                    #"tool_call: id=toolu_1 name=get_weather arguments={"city":"Oslo"}"#,
                    "finish: tool_calls (tool_use)",
                    #"usage: {"input":9,"cached_input":1,"cache_write":0,"cache_write_1h":0,"output":2,"reasoning":0}"#,
                ],
                "\(run.output)"
            )
            #expect(
                run.lines.count > 7 && run.lines[6].hasPrefix(#"savings: {"request_id":"c-typed""#),
                "\(run.output)"
            )
            #expect(run.lines.count > 7 && run.lines[7] == "status: OK", "\(run.output)")
        }
    }

    @Test func aTypedStreamPrintsTheTypedDeltas() async throws {
        try await withFakeServer { server in
            // Only the prompt: no system message, no limits, no provider key (flexd then uses the tenant's).
            let started = try await Self.start(
                port: server.port,
                arguments: [
                    "--typed", "--stream", "--provider", "gemini", "--api", "generate_content", "--model",
                    "gemini-3.8-flash",
                    "--start-within", "00h-00m-30s", "--prompt", "Hi",
                ]
            )
            let connection = await server.accept()
            try await connection.handshake()
            let (id, headers, request) = try await connection.readCall()
            #expect(headers.method == RequestHeaders.Method.stream)
            #expect(request.requestID.isEmpty && request.providerKey.isEmpty)
            #expect(request.body == .chat(ChatRequest(messages: [.text(.user, "Hi")])))
            try await connection.write(.responseHeaders(id, ResponseHeaders()))
            for event: StreamEvent in [
                Fixtures.route, .text("Hel"), .text("lo"), .reasoning("Thinking."),
                .toolCall(ToolCallDelta(index: 0, id: "c-0", name: "get_time", argumentsFragment: #"{"zone":"UTC"}"#)),
                .finish(
                    FinishDelta(
                        finishReason: .stop,
                        nativeFinishReason: "STOP",
                        usage: TokenUsage(inputTokens: 3, outputTokens: 5)
                    )
                ),
            ] {
                try await connection.writeMessage(event, on: id)
            }
            try await connection.write(.trailers(id, Trailers(status: .ok, savings: Fixtures.savings(id: "c-typed"))))
            _ = try await connection.readUntilClosed()

            let run = await Self.finish(started)
            #expect(run.status == 0, "\(run.output)")
            #expect(
                Array(run.lines.prefix(7)) == [
                    "route: tier=flex fell_back=false fallback_reason=none flex_wait_us=1200",
                    "text: Hel",
                    "text: lo",
                    "reasoning: Thinking.",
                    #"tool_call: index=0 id=c-0 name=get_time arguments={"zone":"UTC"}"#,
                    "finish: stop (STOP)",
                    #"usage: {"input":3,"cached_input":0,"cache_write":0,"cache_write_1h":0,"output":5,"reasoning":0}"#,
                ],
                "\(run.output)"
            )
            #expect(
                run.lines.count > 8 && run.lines[7].hasPrefix("savings: {") && run.lines[8] == "status: OK",
                "\(run.output)"
            )
        }
    }

    @Test(arguments: [
        (
            ["--typed", "--provider", "openai", "--prompt", "Hi"],
            "--typed needs --provider, --api, --model, --start-within and --prompt"
        ),
        (["--prompt", "Hi"], "--prompt is for typed calls: add --typed"),
        (["--system", "Be brief.", "request.json"], "--system is for typed calls: add --typed"),
        (
            CClientTests.typedArguments + ["--prompt", "Hi", "request.json"],
            "--typed takes its request from flags, not from request.json"
        ),
        (
            CClientTests.typedArguments + ["--prompt", "Hi", "--max-output-tokens", "0"],
            "--max-output-tokens must be a whole number from 1 to 4294967295"
        ),
        (
            CClientTests.typedArguments + ["--prompt", "Hi", "--max-output-tokens", "-5"],
            "--max-output-tokens must be a whole number"
        ),
        (
            CClientTests.typedArguments + ["--prompt", "Hi", "--temperature", "2.5"],
            "--temperature must be a number from 0 to 2"
        ),
        (
            CClientTests.typedArguments + ["--prompt", "Hi", "--temperature", ""],
            "--temperature must be a number from 0 to 2"
        ),
        (
            CClientTests.typedArguments + ["--prompt", "Hi", "--provider", "mistral"],
            "provider must be openai, anthropic or gemini, not mistral"
        ),
        (
            CClientTests.typedArguments + ["--prompt", "Hi", "--provider-key-env", "FLEXC_SURELY_UNSET"],
            "the environment variable FLEXC_SURELY_UNSET (--provider-key-env) is not set"
        ),
    ])
    func aBadTypedCommandLineExitsWithUsage(_ arguments: [String], _ message: String) async throws {
        // Nothing listens on port 9; flexc must stop before it tries.
        let run = await Self.finish(try await Self.start(port: 9, arguments: arguments))
        #expect(run.status == 64)
        #expect(run.output.contains(message), "\(run.output)")
    }

    @Test func aServerThatIsNotThereExitsUnavailable() async throws {
        let run = try await withRefusingPort { port in
            await Self.finish(try await Self.start(port: port, requestJSON: Self.requestJSON()))
        }
        #expect(run.status == 14)
        #expect(run.output.contains("cannot connect"), "\(run.output)")
    }
}

struct FlexCClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
