import FlexCore
import FlexJSON
import FlexSim
import NIOCore
import Testing

@testable import FlexRouter

@Suite("GeminiInteractionsAdapter")
struct GeminiInteractionsAdapterTests {
    let adapter = GeminiInteractionsAdapter()
    static let model = "gemini-3.8-flash"

    // MARK: Request building

    func request(
        _ body: JSONObject = ["input": "Hi"],
        tier: Tier = .flex,
        stream: Bool = false
    ) throws(RouterError) -> (UpstreamRequest, JSONObject) {
        let request = try self.adapter.makeRequest(
            body: body,
            model: Self.model,
            tier: tier,
            stream: stream,
            key: "AIzaSecret"
        )
        return (request, try NativeBody.parsedWhole(request.body))
    }

    @Test func tierSpellingAndNoAuto() throws {
        #expect(try request(tier: .flex).1["service_tier"] == "flex")
        #expect(try request(tier: .standard).1["service_tier"] == "standard")
        #expect(try request(tier: .priority).1["service_tier"] == "priority")
        let error = try #require(throws: RouterError.self) { try request(tier: .auto) }
        #expect(error.errorCode == "auto_unsupported_for_gemini")
    }

    @Test func modelInTheBodyAndTheCallersTierReplaced() throws {
        let (request, body) = try request(
            ["service_tier": "priority", "serviceTier": "priority", "input": "Hi"],
            tier: .standard
        )
        #expect(request.path == "/interactions")
        #expect(body.keys == ["service_tier", "input", "model"])
        #expect(body["service_tier"] == "standard" && body["model"]?.string == Self.model)
        let mismatch = try #require(throws: RouterError.self) {
            try self.request(["model": "gemini-2.5-pro", "input": "Hi"])
        }
        #expect(mismatch.errorCode == "model_mismatch")
    }

    @Test func streamingAndHeaders() throws {
        let (streamed, body) = try request(stream: true)
        #expect(streamed.stream && body["stream"] == true)
        let (unary, unaryBody) = try request(["input": "Hi", "stream": true], stream: false)
        #expect(!unary.stream && unaryBody["stream"] == false)
        let headers = Dictionary(streamed.headers, uniquingKeysWith: { $1 })
        #expect(headers["x-goog-api-key"] == "AIzaSecret")
        #expect(headers["api-revision"] == "2026-05-20")
        #expect(headers["accept"] == "text/event-stream")
        #expect(!String(buffer: streamed.body).contains("AIzaSecret"))
    }

    // MARK: Real flexsim streams

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var body: String
        var tier: Tier = .flex
        var testDescription: String { self.name }
    }

    static let input = #""What does the flex tier cost, and when should a router fall back?""#
    static let tools = #"""
        [{"type":"function","name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city","unit"]}},
         {"type":"function","name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}}]
        """#

    static let scenarios: [Scenario] = [
        Scenario(name: "text on flex", body: #"{"model":"\#(model)","input":\#(input)}"#),
        Scenario(name: "text on standard", body: #"{"model":"\#(model)","input":\#(input)}"#, tier: .standard),
        Scenario(name: "text on priority", body: #"{"model":"\#(model)","input":\#(input)}"#, tier: .priority),
        Scenario(
            name: "stopped by max_output_tokens",
            body:
                #"{"model":"\#(model)","input":\#(input),"generation_config":{"max_output_tokens":6,"thinking_level":"minimal"}}"#
        ),
        Scenario(
            name: "thought summaries",
            body:
                #"{"model":"\#(model)","input":\#(input),"generation_config":{"thinking_level":"high","thinking_summaries":"auto"}}"#
        ),
        Scenario(
            name: "parallel function calls",
            body:
                #"{"model":"\#(model)","input":\#(input),"tools":\#(tools),"generation_config":{"tool_choice":"any"}}"#
        ),
        Scenario(
            name: "structured output",
            body:
                #"{"model":"\#(model)","input":\#(input),"response_format":{"type":"text","mime_type":"application/json","schema":{"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"}},"required":["answer","confidence"]}}}"#
        ),
        Scenario(
            name: "function result turn",
            body:
                #"{"model":"\#(model)","input":[{"type":"user_input","content":[{"type":"text","text":"Weather in Oslo?"}]},{"type":"function_call","id":"call_1","name":"get_weather","arguments":{"city":"Oslo","unit":"c"}},{"type":"function_result","call_id":"call_1","name":"get_weather","result":{"temperature":3}}],"tools":\#(tools)}"#
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
            #expect(
                round.streamResponse.status == 200 && round.unaryResponse.status == 200,
                "\(round.unaryResponse.text)"
            )

            // interaction.created and status_update are preamble; step.start starts; completed ends.
            let stream = round.stream
            #expect(stream.isWellFormed, "\(stream.dispositions)")
            let start = try #require(stream.startIndex)
            #expect(stream.events[..<start].map(\.event) == ["interaction.created", "interaction.status_update"])
            #expect(stream.events[start].event == "step.start")
            #expect(stream.events.last?.event == "interaction.completed")

            let streamed = try #require(stream.reader.result)
            try Self.expectBilled(streamed, row: round.streamRow, sim: sim)
            try Self.expectBilled(round.unaryResult, row: round.unaryRow, sim: sim)
            #expect(streamed.servedTier == scenario.tier)

            let mask: Set<String> = ["id", "created", "updated", "signature"]
            let assembled = masking(try round.assembled(), keys: mask)
            let unary = masking(try #require(round.unaryResponse.json), keys: mask)
            let same = assembled == unary
            #expect(same, "assembled \(assembled.jsonString)\nunary     \(unary.jsonString)")
        }
    }

    static func expectBilled(_ result: UpstreamResult, row: JSONValue, sim: SimHarness) throws {
        #expect(result.usage == ledgerTokens(row))
        #expect(result.servedTier?.name == row["tier_served"]?.string)
        #expect(result.servedTierReported == row["tier_served"]?.string)
        let tier = try #require(result.servedTier)
        #expect(try catalogCost(sim.catalog, .gemini, Self.model, tier, result.usage) == row["cost_picousd"]?.int)
    }

    @Test func scenariosProduceWhatTheyAreNamedAfter() async throws {
        try await SimHarness.with { sim in
            func round(_ name: String) async throws -> JSONValue {
                let scenario = try #require(Self.scenarios.first { $0.name == name })
                return try await AdapterRound.run(
                    sim,
                    adapter,
                    body: scenario.body,
                    model: Self.model,
                    tier: scenario.tier
                ).assembled()
            }
            let thinking = try await round("thought summaries")
            #expect(thinking["steps"]?[0]?["type"] == "thought")
            #expect((thinking["steps"]?[0]?["summary"]?[0]?["text"]?.string ?? "").count > 20)
            #expect((thinking["usage"]?["total_thought_tokens"]?.int ?? 0) > 0)

            let calls = try await round("parallel function calls")
            #expect(calls["status"] == "requires_action")
            #expect(calls["steps"]?.array?.map { $0["name"]?.string } == ["get_weather", "get_time"])
            #expect(calls["steps"]?.array?.allSatisfy { $0["arguments"]?.object?.isEmpty == false } == true)

            let limited = try await round("stopped by max_output_tokens")
            #expect(limited["status"] == "incomplete")
        }
    }

    @Test func aLargeAnswerReassemblesExactly() async throws {
        // About 25,000 output tokens, one event each: text is appended in place, never copied per event.
        try await SimHarness.with { sim in
            let round = try await AdapterRound.run(
                sim,
                adapter,
                body: Self.scenarios[0].body,
                model: Self.model,
                tier: Self.scenarios[0].tier,
                faults: "large_response=100000"
            )
            #expect(round.stream.isWellFormed)
            #expect(round.stream.events.count > 3_000)
            let streamed = try #require(round.stream.reader.result)
            #expect(streamed.usage.outputTokens == UInt64(round.streamRow["tokens"]?["output"]?.int ?? -1))
            let mask: Set<String> = ["id", "created", "updated", "signature"]
            let same =
                masking(try round.assembled(), keys: mask)
                == masking(try #require(round.unaryResponse.json), keys: mask)
            #expect(same)
            #expect(round.unaryResponse.body.count > 100_000)
        }
    }

    // MARK: flexsim faults

    func faulted(_ fault: String, tier: Tier, sim: SimHarness) throws -> ReadStream {
        let (body, passed) = try NativeBody.parseRequest(ByteBuffer(string: Self.scenarios[0].body), api: .interactions)
        let request = try adapter.makeRequest(
            body: body,
            passing: passed,
            model: Self.model,
            tier: tier,
            stream: true,
            key: "AIzaTest"
        )
        let response = try sim.send(
            request,
            provider: .gemini,
            correlation: fault,
            extraHeaders: [("x-flexsim-fault", fault)]
        )
        #expect(response.status == 200)
        return read(
            SSEDecoder.events(response.body),
            with: adapter.makeStreamReader(for: body, tier: tier, headers: response.headers)
        )
    }

    @Test func flexsimErrorEventIsACapacityRefusalBeforeTheStartOnly() async throws {
        try await SimHarness.with { sim in
            let before = try faulted("stream_error", tier: .flex, sim: sim)
            #expect(before.dispositions == [.preamble, .preamble, .error(.capacity)])
            let mid = try faulted("stream_error_mid", tier: .flex, sim: sim)
            #expect(mid.startIndex != nil && !mid.dispositions.contains(.terminal))
            guard case .retryable(let error, _)? = mid.dispositions.last?.failure else {
                Issue.record("\(mid.dispositions)")
                return
            }
            #expect(error.status.upstream?.type == "UNAVAILABLE")
            let cut = try faulted("cut_mid_stream", tier: .flex, sim: sim)
            #expect(cut.startIndex != nil && !cut.dispositions.contains(.terminal))
            let malformed = try faulted("malformed_sse", tier: .flex, sim: sim)
            #expect(malformed.dispositions.contains { $0.isError })
        }
    }

    // MARK: Hand-written sequences

    func reader(_ tier: Tier = .flex, headers: [(String, String)] = []) -> any StreamReader {
        adapter.makeStreamReader(for: [:], tier: tier, headers: headers)
    }

    static let created = event(
        "interaction.created",
        #"{"interaction":{"id":"v1_a","status":"in_progress","object":"interaction","model":"gemini-3.8-flash"},"event_type":"interaction.created"}"#
    )
    static let textStart = event(
        "step.start",
        #"{"index":0,"step":{"type":"model_output","content":[]},"event_type":"step.start"}"#
    )

    @Test func errorEventsAreClassifiedLikeHTTPErrors() throws {
        let unavailable = event(
            "error",
            #"{"error":{"code":"UNAVAILABLE","message":"overloaded"},"event_type":"error"}"#
        )
        #expect(read([Self.created, unavailable], with: reader(.flex)).dispositions == [.preamble, .error(.capacity)])
        guard case .retryable? = read([Self.created, unavailable], with: reader(.standard)).dispositions.last?.failure
        else {
            Issue.record("UNAVAILABLE off flex is retryable")
            return
        }
        let numeric = event("error", #"{"error":{"code":503,"message":"overloaded"},"event_type":"error"}"#)
        #expect(read([numeric], with: reader(.flex)).dispositions == [.error(.capacity)])
        guard
            case .fatal(let limited)? = read(
                [event("error", #"{"error":{"code":"RESOURCE_EXHAUSTED","message":"quota"}}"#)],
                with: reader()
            ).dispositions.last?.failure
        else {
            Issue.record("RESOURCE_EXHAUSTED is the caller's rate limit")
            return
        }
        #expect(limited.status.code == .resourceExhausted)
        // No error object at all still fails, as the provider's fault.
        guard
            case .retryable? = read([event("error", #"{"event_type":"error"}"#)], with: reader(.standard)).dispositions
                .last?.failure
        else {
            Issue.record("an empty error event is retryable")
            return
        }
    }

    @Test func malformedEventsAreRetryableErrors() throws {
        let cases: [[NativeEvent]] = [
            [event("interaction.created", "{oops")],
            [event("interaction.created", #"{"event_type":"interaction.created"}"#)],
            [
                Self.created,
                event("step.delta", #"{"index":0,"delta":{"type":"text","text":"x"},"event_type":"step.delta"}"#),
            ],
            [Self.created, Self.textStart, Self.textStart],
            [Self.created, event("step.start", #"{"index":0,"event_type":"step.start"}"#)],
            [Self.created, event("interaction.completed", #"{"event_type":"interaction.completed"}"#)],
        ]
        for events in cases {
            guard
                case .retryable(let error, beforeAnyByte: false)? = read(events, with: reader()).dispositions.last?
                    .failure
            else {
                Issue.record("\(events.map { String(buffer: $0.data) })")
                continue
            }
            #expect(error.errorCode == "upstream_malformed_event")
        }
    }

    @Test func legacyEventsNeverLookStartedOrComplete() throws {
        let stream = read(
            [
                event(
                    "interaction.start",
                    #"{"interaction":{"id":"v1_a","status":"in_progress"},"event_type":"interaction.start"}"#
                ),
                event("content.start", #"{"index":0,"content":{"type":"text"},"event_type":"content.start"}"#),
                event(
                    "content.delta",
                    #"{"index":0,"delta":{"type":"text","text":"Hi"},"event_type":"content.delta"}"#
                ),
                event(
                    "interaction.complete",
                    #"{"interaction":{"id":"v1_a","status":"completed"},"event_type":"interaction.complete"}"#
                ),
            ],
            with: reader()
        )
        // The router pins Api-Revision to the step events; a legacy stream ends as truncated, loudly.
        #expect(stream.dispositions == [.preamble, .preamble, .preamble, .preamble])
    }

    @Test func reassemblyOfDeltasFlexsimDoesNotSend() throws {
        let events = [
            event(
                "interaction.created",
                #"{"interaction":{"id":"v1_a","status":"in_progress","model":"gemini-3.8-flash","object":"interaction"},"event_type":"interaction.created"}"#
            ),
            event(
                "step.start",
                #"{"index":0,"step":{"type":"google_search_call","id":"gs_1"},"event_type":"step.start"}"#
            ),
            event(
                "step.delta",
                #"{"index":0,"delta":{"type":"google_search_call","arguments":{"queries":["flex tier price"]}},"event_type":"step.delta"}"#
            ),
            event("step.stop", #"{"index":0,"event_type":"step.stop"}"#),
            event("step.start", #"{"index":1,"step":{"type":"model_output","content":[]},"event_type":"step.start"}"#),
            event("step.delta", #"{"index":1,"delta":{"type":"text","text":"Flex costs "},"event_type":"step.delta"}"#),
            event("step.delta", #"{"index":1,"delta":{"type":"text","text":"half."},"event_type":"step.delta"}"#),
            event(
                "step.delta",
                #"{"index":1,"delta":{"type":"text_annotation","annotations":[{"type":"url_citation","url":"https://example.com","start_index":0,"end_index":10}]},"event_type":"step.delta"}"#
            ),
            event(
                "step.delta",
                #"{"index":1,"delta":{"type":"image","mime_type":"image/png","data":"iVBORw0KGgo="},"event_type":"step.delta"}"#
            ),
            event(
                "step.stop",
                #"{"index":1,"usage":{"total_input_tokens":20,"total_output_tokens":5,"total_tool_use_tokens":7},"event_type":"step.stop"}"#
            ),
            event(
                "interaction.status_update",
                #"{"interaction_id":"v1_a","status":"failed","event_type":"interaction.status_update"}"#
            ),
            event(
                "interaction.completed",
                #"{"interaction":{"id":"v1_a","status":"failed","model":"gemini-3.8-flash","object":"interaction","updated":"2026-11-26T00:00:01Z"},"event_type":"interaction.completed"}"#
            ),
        ]
        let stream = read(events, with: reader(headers: [("x-gemini-service-tier", "flex")]))
        #expect(stream.isWellFormed, "\(stream.dispositions)")
        let expected = try JSONParser.parse(
            #"""
            {"id":"v1_a","status":"failed","model":"gemini-3.8-flash","object":"interaction",
             "steps":[{"type":"google_search_call","id":"gs_1","arguments":{"queries":["flex tier price"]}},
                      {"type":"model_output","content":[
                        {"type":"text","text":"Flex costs half.","annotations":[{"type":"url_citation","url":"https://example.com","start_index":0,"end_index":10}]},
                        {"type":"image","mime_type":"image/png","data":"iVBORw0KGgo="}]}],
             "output_text":"Flex costs half.","updated":"2026-11-26T00:00:01Z",
             "usage":{"total_input_tokens":20,"total_output_tokens":5,"total_tool_use_tokens":7},"role":"model"}
            """#
        )
        let assembled = try json(stream.reader.assembleResponse())
        #expect(assembled == expected, "\(assembled.jsonString)")
        // Usage from step.stop (the completed interaction had none); the tier from the header.
        #expect(
            stream.reader.result
                == UpstreamResult(
                    usage: TokenUsage(inputTokens: 27, outputTokens: 5),
                    servedTier: .flex,
                    servedTierReported: "flex"
                )
        )
    }

    @Test func anInteractionThatFailedBeforeAnyOutputIsAnErrorNotAnAnswer() throws {
        let failed = event(
            "interaction.completed",
            #"{"interaction":{"id":"v1_a","status":"failed"},"event_type":"interaction.completed"}"#
        )
        let stream = read(
            [
                Self.created, event("interaction.status_update", #"{"interaction_id":"v1_a","status":"failed"}"#),
                failed,
            ],
            with: reader()
        )
        #expect(stream.dispositions.prefix(2) == [.preamble, .preamble])
        guard case .retryable(let error, _)? = stream.dispositions.last?.failure else {
            Issue.record("\(stream.dispositions)")
            return
        }
        #expect(error.errorCode == "upstream_failed")
        // Once output started, a failed interaction is the answer the provider gives.
        #expect(
            read([Self.created, Self.textStart, failed], with: reader()).dispositions == [
                .preamble, .started, .terminal,
            ]
        )
    }

    @Test func argumentsThatAreNotJSONFailAssembly() throws {
        let stream = read(
            [
                Self.created,
                event(
                    "step.start",
                    #"{"index":0,"step":{"type":"function_call","id":"c","name":"f","arguments":{}},"event_type":"step.start"}"#
                ),
                event(
                    "step.delta",
                    #"{"index":0,"delta":{"type":"arguments_delta","arguments":"{\"a\":"},"event_type":"step.delta"}"#
                ),
                event(
                    "interaction.completed",
                    #"{"interaction":{"id":"v1_a","status":"requires_action"},"event_type":"interaction.completed"}"#
                ),
            ],
            with: reader()
        )
        #expect(stream.dispositions == [.preamble, .started, .content, .terminal])
        let error = try #require(throws: RouterError.self) { try stream.reader.assembleResponse() }
        #expect(error.errorCode == "upstream_malformed_event")
    }

    @Test func usageClasses() throws {
        let usage = GeminiInteractionsAdapter.usage([
            "total_input_tokens": 1500, "total_cached_tokens": 1200, "total_output_tokens": 40,
            "total_thought_tokens": 60,
            "total_tool_use_tokens": 10, "total_tokens": 1610,
        ])
        #expect(usage == TokenUsage(inputTokens: 310, cachedInputTokens: 1200, outputTokens: 100, reasoningTokens: 60))
        let result = try adapter.readResponse(
            ByteBuffer(string: #"{"service_tier":"priority","usage":{"total_input_tokens":3}}"#),
            headers: [("x-gemini-service-tier", "standard")]
        )
        #expect(result.servedTier == .priority && result.usage == TokenUsage(inputTokens: 3))
    }
}
