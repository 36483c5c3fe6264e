import FlexCore
import FlexJSON
import FlexSim
import NIOCore
import Testing

@testable import FlexRouter

@Suite("AnthropicMessagesAdapter")
struct AnthropicMessagesAdapterTests {
    let adapter = AnthropicMessagesAdapter()
    static let model = "claude-sonnet-4-6"

    // MARK: Request building

    func request(
        _ body: JSONObject = ["messages": [["role": "user", "content": "Hi"]], "max_tokens": 64],
        tier: Tier = .standard,
        stream: Bool = false
    ) throws(RouterError) -> (UpstreamRequest, JSONObject) {
        let request = try self.adapter.makeRequest(
            body: body,
            model: Self.model,
            tier: tier,
            stream: stream,
            key: "sk-ant-secret"
        )
        let sent = try NativeBody.parsedWhole(request.body)
        return (request, sent)
    }

    @Test func tierSpellingFollowsTheBrief() throws {
        #expect(try request(tier: .priority).1["service_tier"] == "auto")
        #expect(try request(tier: .standard).1["service_tier"] == "standard_only")
        #expect(try request(tier: .auto).1["service_tier"] == "auto")
        let error = try #require(throws: RouterError.self) { try request(tier: .flex) }
        #expect(error.errorCode == "flex_unsupported_for_anthropic")
        #expect(error.status.code == .invalidArgument)
    }

    @Test func theCallersTierFieldIsReplacedAndTheRestKept() throws {
        let body: JSONObject = [
            "service_tier": "auto", "max_tokens": 64, "messages": [["role": "user", "content": "Hi"]],
            "temperature": 0.5,
        ]
        let (_, sent) = try request(body, tier: .standard)
        #expect(sent["service_tier"] == "standard_only")
        #expect(sent.keys == ["service_tier", "max_tokens", "messages", "temperature", "model"])
        #expect(sent["temperature"] == 0.5)
    }

    @Test func pathHeadersAndModel() throws {
        let (request, sent) = try request()
        #expect(request.path == "/messages")
        #expect(sent["model"]?.string == Self.model)
        let headers = Dictionary(request.headers, uniquingKeysWith: { $1 })
        #expect(headers["x-api-key"] == "sk-ant-secret")
        #expect(headers["anthropic-version"] == "2023-06-01")
        #expect(headers["accept"] == "application/json")
        #expect(!String(buffer: request.body).contains("sk-ant-secret"))

        let mismatch = try #require(throws: RouterError.self) {
            try self.request(["model": "claude-opus-4-7", "max_tokens": 64, "messages": []])
        }
        #expect(mismatch.errorCode == "model_mismatch")
        let wrongType = try #require(throws: RouterError.self) { try self.request(["model": 7, "max_tokens": 64]) }
        #expect(wrongType.errorCode == "invalid_request_body")
    }

    @Test func streamingIsForcedWhenAskedAndTurnedOffOtherwise() throws {
        let (streamed, body) = try request(stream: true)
        #expect(streamed.stream && body["stream"] == true)
        #expect(Dictionary(streamed.headers, uniquingKeysWith: { $1 })["accept"] == "text/event-stream")
        let (unary, unaryBody) = try request(["stream": true, "max_tokens": 64, "messages": []], stream: false)
        #expect(!unary.stream && unaryBody["stream"] == false)
        #expect(try request(stream: false).1["stream"] == nil)
    }

    // MARK: Real flexsim streams

    static let longSystem = String(
        repeating: "The flex tier trades latency for half the price of standard. ",
        count: 110
    )

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var body: String
        var tier: Tier = .standard
        var testDescription: String { self.name }
    }

    static let user =
        #"[{"role":"user","content":"What does the flex tier cost, and when should a router fall back?"}]"#
    static let tools = #"""
        [{"name":"get_weather","description":"Weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city","unit"]}},
         {"name":"get_time","input_schema":{"type":"object","properties":{"zone":{"type":"string"},"precise":{"type":"boolean"}},"required":["zone"]}}]
        """#

    static let scenarios: [Scenario] = [
        Scenario(name: "text", body: #"{"model":"\#(model)","max_tokens":256,"messages":\#(user)}"#),
        Scenario(
            name: "text on priority (auto)",
            body: #"{"model":"\#(model)","max_tokens":256,"messages":\#(user)}"#,
            tier: .priority
        ),
        Scenario(
            name: "text on auto",
            body: #"{"model":"\#(model)","max_tokens":256,"messages":\#(user)}"#,
            tier: .auto
        ),
        Scenario(name: "stopped by max_tokens", body: #"{"model":"\#(model)","max_tokens":5,"messages":\#(user)}"#),
        Scenario(
            name: "thinking",
            body:
                #"{"model":"\#(model)","max_tokens":4096,"thinking":{"type":"enabled","budget_tokens":1024},"messages":\#(user)}"#
        ),
        Scenario(
            name: "parallel tool calls",
            body:
                #"{"model":"\#(model)","max_tokens":1024,"tools":\#(tools),"tool_choice":{"type":"any"},"messages":\#(user)}"#
        ),
        Scenario(
            name: "one tool call",
            body:
                #"{"model":"\#(model)","max_tokens":1024,"tools":\#(tools),"tool_choice":{"type":"any","disable_parallel_tool_use":true},"messages":\#(user)}"#
        ),
        Scenario(
            name: "thinking then tool calls",
            body:
                #"{"model":"\#(model)","max_tokens":4096,"thinking":{"type":"enabled","budget_tokens":2048},"tools":\#(tools),"tool_choice":{"type":"auto"},"messages":\#(user)}"#
        ),
        Scenario(
            name: "structured output",
            body:
                #"{"model":"\#(model)","max_tokens":512,"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"},"tags":{"type":"array","items":{"type":"string"}}},"required":["answer","confidence","tags"],"additionalProperties":false}}},"messages":\#(user)}"#
        ),
        Scenario(
            name: "prompt cache, 5-minute write",
            body:
                #"{"model":"\#(model)","max_tokens":128,"system":[{"type":"text","text":"\#(longSystem)","cache_control":{"type":"ephemeral"}}],"messages":\#(user)}"#
        ),
        Scenario(
            name: "prompt cache, 1-hour write",
            body:
                #"{"model":"\#(model)","max_tokens":128,"system":[{"type":"text","text":"\#(longSystem)","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":\#(user)}"#
        ),
    ]

    @Test(arguments: scenarios)
    func streamedAnswerClassifiesBillsAndReassemblesExactly(_ scenario: Scenario) async throws {
        try await SimHarness.with { sim in
            let round = try await AdapterRound.run(
                sim,
                adapter,
                body: scenario.body,
                model: Self.model,
                tier: scenario.tier
            )
            #expect(round.streamResponse.status == 200 && round.unaryResponse.status == 200)

            // Preamble (message_start, ping), then the first content_block_start, ..., message_stop.
            let stream = round.stream
            #expect(stream.isWellFormed, "\(stream.dispositions)")
            let start = try #require(stream.startIndex)
            #expect(stream.events[start].event == "content_block_start")
            #expect(stream.events[..<start].map(\.event) == ["message_start", "ping"])
            #expect(stream.events.last?.event == "message_stop")

            // Usage and tier: what flexsim billed, to the token and the pico-dollar.
            let streamed = try #require(stream.reader.result)
            try Self.expectBilled(streamed, row: round.streamRow, sim: sim)
            try Self.expectBilled(round.unaryResult, row: round.unaryRow, sim: sim)

            // The reassembled message is flexsim's unstreamed message, field for field.
            let mask: Set<String> = ["id", "signature"]
            let assembled = masking(try round.assembled(), keys: mask)
            let unary = masking(try #require(round.unaryResponse.json), keys: mask)
            let same = assembled == unary
            #expect(same, "assembled \(assembled.jsonString)\nunary     \(unary.jsonString)")
        }
    }

    static func expectBilled(_ result: UpstreamResult, row: JSONValue, sim: SimHarness) throws {
        var billed = ledgerTokens(row)
        // Anthropic does not report thinking tokens apart (they are in output_tokens); flexsim's ledger
        // knows them. Reasoning is billed as output, so the cost is the same.
        #expect(result.usage.reasoningTokens == 0)
        billed.reasoningTokens = 0
        #expect(result.usage == billed)
        #expect(result.servedTier?.name == row["tier_served"]?.string)
        #expect(result.servedTierReported == row["tier_served"]?.string)
        let tier = try #require(result.servedTier)
        #expect(try catalogCost(sim.catalog, .anthropic, Self.model, tier, result.usage) == row["cost_picousd"]?.int)
    }

    @Test func thinkingToolsAndCachingShowUpInTheAnswerAndTheBill() async throws {
        // Guards the scenarios above against passing vacuously: each really produced what it is named after.
        try await SimHarness.with { sim in
            func round(_ name: String) async throws -> AdapterRound {
                let scenario = try #require(Self.scenarios.first { $0.name == name })
                return try await AdapterRound.run(
                    sim,
                    adapter,
                    body: scenario.body,
                    model: Self.model,
                    tier: scenario.tier
                )
            }
            let thinking = try await round("thinking")
            let thinkingBlocks = try thinking.assembled()["content"]?.array ?? []
            #expect(thinkingBlocks.first?["type"] == "thinking")
            #expect((thinkingBlocks.first?["thinking"]?.string ?? "").count > 20)
            #expect((thinking.streamRow["tokens"]?["reasoning"]?.int ?? 0) > 0)

            let tools = try await round("parallel tool calls")
            let calls = (try tools.assembled()["content"]?.array ?? []).filter { $0["type"] == "tool_use" }
            #expect(calls.map { $0["name"]?.string } == ["get_weather", "get_time"])
            #expect(calls.allSatisfy { $0["input"]?.object?.isEmpty == false })
            #expect(try tools.assembled()["stop_reason"] == "tool_use")

            let oneHour = try await round("prompt cache, 1-hour write")
            let usage = try #require(oneHour.stream.reader.result).usage
            #expect(usage.cacheWrite1hTokens > 1000 && usage.cacheWriteTokens == 0)
            let fiveMinutes = try await round("prompt cache, 5-minute write")
            let usage5 = try #require(fiveMinutes.stream.reader.result).usage
            #expect(usage5.cacheWriteTokens > 1000 && usage5.cacheWrite1hTokens == 0)

            let limited = try await round("stopped by max_tokens")
            #expect(try limited.assembled()["stop_reason"] == "max_tokens")
        }
    }

    @Test func aCachedPrefixIsReadOnTheSecondCall() async throws {
        try await SimHarness.with { sim in
            let scenario = try #require(Self.scenarios.first { $0.name == "prompt cache, 1-hour write" })
            let (body, passed) = try NativeBody.parseRequest(ByteBuffer(string: scenario.body), api: .messages)
            try sim.reset()
            var results: [UpstreamResult] = []
            for attempt in 0..<2 {
                let request = try adapter.makeRequest(
                    body: body,
                    passing: passed,
                    model: Self.model,
                    tier: .standard,
                    stream: true,
                    key: "sk-ant-test"
                )
                let response = try sim.send(request, provider: .anthropic, correlation: "cache-\(attempt)")
                let stream = read(
                    SSEDecoder.events(response.body),
                    with: adapter.makeStreamReader(for: body, tier: .standard, headers: response.headers)
                )
                #expect(stream.isWellFormed)
                let result = try #require(stream.reader.result)
                try Self.expectBilled(result, row: try await sim.ledgerRow("cache-\(attempt)"), sim: sim)
                results.append(result)
            }
            #expect(results[0].usage.cacheWrite1hTokens > 1000 && results[0].usage.cachedInputTokens == 0)
            #expect(results[1].usage.cachedInputTokens == results[0].usage.cacheWrite1hTokens)
            #expect(results[1].usage.cacheWrite1hTokens == 0)
        }
    }

    @Test func aLargeAnswerReassemblesExactly() async throws {
        // About 25,000 output tokens, one event each: text is appended in place, never copied per event.
        try await SimHarness.with { sim in
            let body = #"{"model":"\#(Self.model)","max_tokens":64000,"messages":\#(Self.user)}"#
            let round = try await AdapterRound.run(
                sim,
                adapter,
                body: body,
                model: Self.model,
                tier: .standard,
                faults: "large_response=100000"
            )
            #expect(round.stream.isWellFormed)
            #expect(round.stream.events.count > 3_000)
            let streamed = try #require(round.stream.reader.result)
            #expect(streamed.usage.outputTokens == UInt64(round.streamRow["tokens"]?["output"]?.int ?? -1))
            let mask: Set<String> = ["id", "signature"]
            let same =
                masking(try round.assembled(), keys: mask)
                == masking(try #require(round.unaryResponse.json), keys: mask)
            #expect(same)
            #expect(round.unaryResponse.body.count > 100_000)
        }
    }

    // MARK: flexsim faults

    func faulted(_ fault: String, sim: SimHarness) throws -> ReadStream {
        let (body, passed) = try NativeBody.parseRequest(ByteBuffer(string: Self.scenarios[0].body), api: .messages)
        let request = try adapter.makeRequest(
            body: body,
            passing: passed,
            model: Self.model,
            tier: .standard,
            stream: true,
            key: "sk-ant-test"
        )
        let response = try sim.send(
            request,
            provider: .anthropic,
            correlation: fault,
            extraHeaders: [("x-flexsim-fault", fault)]
        )
        #expect(response.status == 200)
        return read(
            SSEDecoder.events(response.body),
            with: adapter.makeStreamReader(for: body, tier: .standard, headers: response.headers)
        )
    }

    @Test func flexsimOverloadBeforeTheStartIsRetryable() async throws {
        try await SimHarness.with { sim in
            let stream = try faulted("stream_error", sim: sim)
            #expect(stream.dispositions.dropLast().allSatisfy { $0 == .preamble })
            let failure = try #require(stream.dispositions.last?.failure)
            guard case .retryable(let error, beforeAnyByte: false) = failure else {
                Issue.record("expected retryable, got \(failure)")
                return
            }
            #expect(error.errorCode == "upstream_overloaded")
            #expect(error.status.upstream?.type == "overloaded_error")
            #expect(error.status.upstream?.httpStatus == 529)
        }
    }

    @Test func flexsimCutAndMalformedStreamsNeverLookComplete() async throws {
        try await SimHarness.with { sim in
            let cut = try faulted("cut_mid_stream", sim: sim)
            #expect(cut.startIndex != nil)
            #expect(!cut.dispositions.contains(.terminal))

            let malformed = try faulted("malformed_sse", sim: sim)
            let bad = try #require(malformed.dispositions.first(where: \.isError)?.failure)
            guard case .retryable(let error, _) = bad else {
                Issue.record("expected retryable, got \(bad)")
                return
            }
            #expect(error.errorCode == "upstream_malformed_event")

            let midError = try faulted("stream_error_mid", sim: sim)
            #expect(midError.startIndex != nil)
            #expect(midError.dispositions.last?.isError == true)
            #expect(!midError.dispositions.contains(.terminal))
        }
    }

    // MARK: Hand-written sequences (what flexsim does not emit)

    static let messageStart = event(
        "message_start",
        #"""
        {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1,"service_tier":"standard"}}}
        """#
    )
    static let textStart = event(
        "content_block_start",
        #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
    )
    static let textDelta = event(
        "content_block_delta",
        #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#
    )
    static let overloaded = event(
        "error",
        #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
    )

    func reader(_ tier: Tier = .standard) -> any StreamReader {
        adapter.makeStreamReader(for: [:], tier: tier, headers: [])
    }

    @Test func overloadedErrorEventBeforeAndAfterTheStart() throws {
        let before = read([Self.messageStart, event("ping", #"{"type":"ping"}"#), Self.overloaded], with: reader())
        #expect(before.dispositions.prefix(2) == [.preamble, .preamble])
        guard case .retryable(let error, _)? = before.dispositions.last?.failure else {
            Issue.record("expected retryable: \(before.dispositions)")
            return
        }
        #expect(error.status.code == .unavailable && error.errorCode == "upstream_overloaded")

        let after = read([Self.messageStart, Self.textStart, Self.textDelta, Self.overloaded], with: reader())
        #expect(after.dispositions.prefix(3) == [.preamble, .started, .content])
        #expect(after.dispositions.last?.isError == true)
        #expect(!after.dispositions.contains(.terminal))
    }

    @Test func errorTypesMapToTheirStatuses() throws {
        func failure(_ type: String) -> RaceStateMachine.AttemptFailure? {
            read([event("error", #"{"type":"error","error":{"type":"\#(type)","message":"m"}}"#)], with: reader())
                .dispositions.last?.failure
        }
        guard case .fatal(let invalid)? = failure("invalid_request_error") else {
            Issue.record("invalid_request_error")
            return
        }
        #expect(invalid.status.code == .invalidArgument)
        guard case .fatal(let limited)? = failure("rate_limit_error") else {
            Issue.record("rate_limit_error")
            return
        }
        #expect(limited.status.code == .resourceExhausted)
        guard case .retryable? = failure("api_error") else {
            Issue.record("api_error")
            return
        }
        guard case .retryable? = failure("some_future_error") else {
            Issue.record("unknown type")
            return
        }
    }

    @Test func aStreamCutBeforeMessageStopIsNeverTerminal() throws {
        let delta = event(
            "message_delta",
            #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}"#
        )
        let stream = read(
            [
                Self.messageStart, Self.textStart, Self.textDelta,
                event("content_block_stop", #"{"type":"content_block_stop","index":0}"#), delta,
            ],
            with: reader()
        )
        #expect(stream.dispositions == [.preamble, .started, .content, .content, .content])
        // Usage is known as far as it went; the router fails the call for want of the terminal event.
        #expect(stream.reader.result?.usage.outputTokens == 5)
    }

    @Test func malformedEventsAreRetryableErrorsNotTraps() throws {
        let cases: [[NativeEvent]] = [
            [event("message_start", "{not json")],
            [event("message_start", "[1,2]")],
            [event("message_start", #"{"type":"message_start"}"#)],  // no message
            [Self.messageStart, Self.messageStart],  // a second message_start
            [Self.textStart],  // content before message_start
            [Self.messageStart, Self.textDelta],  // a delta for a block that never started
            [Self.messageStart, Self.textStart, Self.textStart],  // the same index twice
            [
                Self.messageStart,
                event("content_block_start", #"{"type":"content_block_start","index":"0","content_block":{}}"#),
            ],
            [event("message_stop", #"{"type":"message_stop"}"#)],  // a stop with no message
        ]
        for events in cases {
            let stream = read(events, with: reader())
            guard case .retryable(let error, beforeAnyByte: false)? = stream.dispositions.last?.failure else {
                Issue.record(
                    "not a retryable error: \(events.map { String(buffer: $0.data) }) → \(stream.dispositions)"
                )
                continue
            }
            #expect(error.errorCode == "upstream_malformed_event")
        }
    }

    @Test func anEmptyMessageIsTerminalWithoutContent() throws {
        let delta = event(
            "message_delta",
            #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}"#
        )
        let stream = read(
            [Self.messageStart, delta, event("message_stop", #"{"type":"message_stop"}"#)],
            with: reader()
        )
        // Terminal before started: the driver treats it as the start too (EventDisposition.terminal).
        #expect(stream.dispositions == [.preamble, .preamble, .terminal])
        let message = try json(stream.reader.assembleResponse())
        #expect(message["content"] == [])
        #expect(message["stop_reason"] == "end_turn")
    }

    @Test func unknownEventsPassThrough() throws {
        let future = event("content_block_shimmer", #"{"type":"content_block_shimmer"}"#)
        let stream = read([Self.messageStart, future, Self.textStart, future], with: reader())
        #expect(stream.dispositions == [.preamble, .preamble, .started, .content])
    }

    @Test func reassemblyOfBlocksFlexsimDoesNotSend() throws {
        // A server tool (input streamed as JSON), a cited text block, redacted thinking, a tool call with
        // no input deltas, and usage whose message_delta carries cumulative input counts (and a null).
        let events = [
            Self.messageStart,
            event(
                "content_block_start",
                #"{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwKAhgB"}}"#
            ),
            event("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            event(
                "content_block_start",
                #"{"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}"#
            ),
            event(
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"fl"}}"#
            ),
            event(
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ex tier\"}"}}"#
            ),
            event("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
            event(
                "content_block_start",
                #"{"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}"#
            ),
            event(
                "content_block_delta",
                #"{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"Half "}}"#
            ),
            event(
                "content_block_delta",
                #"{"type":"content_block_delta","index":2,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","url":"https://example.com","cited_text":"half"}}}"#
            ),
            event(
                "content_block_delta",
                #"{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"price."}}"#
            ),
            event("content_block_stop", #"{"type":"content_block_stop","index":2}"#),
            event(
                "content_block_start",
                #"{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_1","name":"noop","input":{}}}"#
            ),
            event("content_block_stop", #"{"type":"content_block_stop","index":3}"#),
            event(
                "message_delta",
                #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":40,"cache_read_input_tokens":null,"output_tokens":17,"server_tool_use":{"web_search_requests":1}}}"#
            ),
            event("message_stop", #"{"type":"message_stop"}"#),
        ]
        let stream = read(events, with: reader())
        #expect(stream.isWellFormed)
        let message = try json(stream.reader.assembleResponse())
        let expected = try JSONParser.parse(
            #"""
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[
              {"type":"redacted_thinking","data":"EmwKAhgB"},
              {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"flex tier"}},
              {"type":"text","text":"Half price.","citations":[{"type":"web_search_result_location","url":"https://example.com","cited_text":"half"}]},
              {"type":"tool_use","id":"toolu_1","name":"noop","input":{}}],
             "stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":17,"service_tier":"standard","server_tool_use":{"web_search_requests":1}}}
            """#
        )
        #expect(message == expected, "\(message.jsonString)")
        #expect(stream.reader.result?.usage == TokenUsage(inputTokens: 40, outputTokens: 17))
    }

    @Test func toolInputThatIsNotJSONFailsAssemblyInsteadOfInventingOne() throws {
        let events = [
            Self.messageStart,
            event(
                "content_block_start",
                #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}"#
            ),
            event(
                "content_block_delta",
                #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\": "}}"#
            ),
            event("message_stop", #"{"type":"message_stop"}"#),
        ]
        let stream = read(events, with: reader())
        let error = try #require(throws: RouterError.self) { try stream.reader.assembleResponse() }
        #expect(error.errorCode == "upstream_malformed_event")
    }

    // MARK: Usage, tiers, failures

    @Test func usageClassesIncludingOneHourWrites() {
        let usage = AnthropicMessagesAdapter.usage([
            "input_tokens": 10, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 2000,
            "cache_creation": ["ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200], "output_tokens": 50,
        ])
        #expect(
            usage
                == TokenUsage(
                    inputTokens: 10,
                    cachedInputTokens: 2000,
                    cacheWriteTokens: 100,
                    outputTokens: 50,
                    cacheWrite1hTokens: 200
                )
        )
        // No breakdown (older API versions): every write is a 5-minute write.
        #expect(AnthropicMessagesAdapter.usage(["cache_creation_input_tokens": 300]).cacheWriteTokens == 300)
        // Inconsistent numbers never trap or exceed the total.
        let odd = AnthropicMessagesAdapter.usage([
            "cache_creation_input_tokens": 5, "cache_creation": ["ephemeral_1h_input_tokens": 9], "input_tokens": -4,
        ])
        #expect(odd == TokenUsage(cacheWrite1hTokens: 5))
    }

    @Test func readResponseTakesTheTierFromUsage() throws {
        let body = ByteBuffer(
            string: #"{"id":"m","usage":{"input_tokens":3,"output_tokens":4,"service_tier":"priority"}}"#
        )
        let result = try adapter.readResponse(body, headers: [])
        #expect(result.servedTier == .priority && result.servedTierReported == "priority")
        #expect(result.usage == TokenUsage(inputTokens: 3, outputTokens: 4))
        #expect(
            try adapter.readResponse(ByteBuffer(string: #"{"usage":{"service_tier":"batch"}}"#), headers: []).servedTier
                == nil
        )
        let error = try #require(throws: RouterError.self) {
            try adapter.readResponse(ByteBuffer(string: "nope"), headers: [])
        }
        #expect(error.errorCode == "upstream_malformed_response")
    }

    @Test func httpFailuresUseTheOneTable() {
        let overloaded = ByteBuffer(
            string: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        )
        guard
            case .retryable(let error, _) = adapter.classifyFailure(
                status: 529,
                headers: [],
                body: overloaded,
                flex: false
            )
        else {
            Issue.record("529 must be retryable")
            return
        }
        #expect(error.status.upstream?.type == "overloaded_error")
        guard case .fatal = adapter.classifyFailure(status: 429, headers: [], body: ByteBuffer(), flex: false) else {
            Issue.record("429 is the caller's rate limit")
            return
        }
    }
}
