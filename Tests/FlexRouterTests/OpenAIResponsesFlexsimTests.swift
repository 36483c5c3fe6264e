import FlexCore
import FlexJSON
import FlexSim
import FlexTestSupport
import NIOCore
import Testing

@testable import FlexRouter

/// The Responses adapter against real flexsim streams over HTTP: which events are preamble,
/// started and terminal; usage and tier equal to what flexsim billed (its `/sim/ledger`), to the
/// token; and the non-streamed answer reassembled from the stream equal to flexsim's own
/// non-streamed answer for the same body, field for field, ids and timestamps aside.
@Suite("OpenAIResponsesAdapter against flexsim")
struct OpenAIResponsesFlexsimTests {
    let adapter = OpenAIResponsesAdapter()

    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var tier: Tier
        var headers: [(String, String)] = []
        /// The type of the first output item (whose `output_item.added` is the start).
        var firstItem: String
        var functionCalls = 0
        var status = "completed"
        /// The answer's text is JSON with these keys (structured output).
        var jsonKeys: [String] = []
        var reasons = false
        /// Send the body once before, so that its prefix is in flexsim's prompt cache.
        var warmCache = false

        var testDescription: String { self.name }
    }

    static let longContext = String(
        repeating: "The flex tier serves this request at half price while standard capacity waits. ",
        count: 90
    )

    static let scenarios: [Scenario] = [
        Scenario(
            name: "text on flex",
            body: #"{"model":"gpt-5.4-mini","input":"Say hello.","reasoning":{"effort":"none"}}"#,
            tier: .flex,
            firstItem: "message"
        ),
        Scenario(
            name: "text on standard, messages and instructions",
            body:
                #"{"model":"gpt-4.1","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"Hi"}]}],"temperature":0.7,"metadata":{"k":"v"}}"#,
            tier: .standard,
            firstItem: "message"
        ),
        Scenario(
            name: "text on priority",
            body: #"{"model":"gpt-5.4","input":"Hello","reasoning":{"effort":"minimal"}}"#,
            tier: .priority,
            firstItem: "message"
        ),
        Scenario(
            name: "text on auto",
            body: #"{"model":"gpt-5.4-mini","input":"Hello","reasoning":{"effort":"none"},"store":false}"#,
            tier: .auto,
            firstItem: "message"
        ),
        Scenario(
            name: "reasoning model on flex",
            body: #"{"model":"gpt-5","input":"Think hard.","reasoning":{"effort":"high"}}"#,
            tier: .flex,
            firstItem: "reasoning",
            reasons: true
        ),
        Scenario(
            name: "parallel tool calls on flex",
            body: """
                {"model":"gpt-5.4-mini","input":"Weather, time and news for Paris?","reasoning":{"effort":"low"},"tools":[
                {"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                {"type":"function","name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"},"utc":{"type":"boolean"}},"required":["zone","utc"]}},
                {"type":"function","name":"get_news","parameters":{"type":"object","properties":{"topic":{"type":"string"},"count":{"type":"integer"}},"required":["topic"]}}],
                "tool_choice":"auto","parallel_tool_calls":true}
                """,
            tier: .flex,
            firstItem: "reasoning",
            functionCalls: 3,
            reasons: true
        ),
        Scenario(
            name: "structured output on flex",
            body: """
                {"model":"gpt-5.4-nano","input":"A city, please.","reasoning":{"effort":"minimal"},"text":{"format":{"type":"json_schema","name":"city","strict":true,
                "schema":{"type":"object","properties":{"city":{"type":"string"},"population":{"type":"integer"}},"required":["city","population"],"additionalProperties":false}}}}
                """,
            tier: .flex,
            firstItem: "message",
            jsonKeys: ["city", "population"]
        ),
        Scenario(
            name: "max_output_tokens reached on flex",
            body: #"{"model":"gpt-5.4-mini","input":"Go on.","reasoning":{"effort":"none"},"max_output_tokens":16}"#,
            tier: .flex,
            headers: [("x-flexsim-output-tokens", "40")],
            firstItem: "message",
            status: "incomplete"
        ),
        Scenario(
            name: "cached prefix on flex (GPT-5.6 reports cache writes)",
            body: """
                {"model":"gpt-5.6-luna","instructions":"\(longContext)","input":[{"role":"user","content":"\(longContext)"},{"role":"user","content":"Now answer."}],"reasoning":{"effort":"none"}}
                """,
            tier: .flex,
            firstItem: "message",
            warmCache: true
        ),
    ]

    @Test(arguments: Self.scenarios)
    func streamedAnswer(_ scenario: Scenario) async throws {
        try await FlexsimFixture.with { sim in
            let (body, passed) = try NativeBody.parseRequest(ByteBuffer(string: scenario.body), api: .responses)
            let model = body["model"]?.string ?? ""

            if scenario.warmCache {
                // The first sight of the prefix writes it to the cache (GPT-5.6+ report the write).
                let (_, _, warm) = try self.stream(
                    body,
                    passing: passed,
                    model: model,
                    scenario: scenario,
                    correlation: "warm",
                    sim: sim
                )
                let row = try #require(try await sim.ledgerRow("warm"))
                #expect(warm.result?.usage == Self.tokens(row))
                #expect((warm.result?.usage.cacheWriteTokens ?? 0) > 0)
            }

            // Streamed, as a flex attempt (or any streamed attempt) is.
            let (events, dispositions, reader) = try self.stream(
                body,
                passing: passed,
                model: model,
                scenario: scenario,
                correlation: "streamed",
                sim: sim
            )
            let types = events.map { (try? JSONParser.parse($0.data.readableBytesView))?["type"]?.string ?? "?" }
            #expect(types == events.map(\.event))
            let start = try #require(types.firstIndex(of: "response.output_item.added"))
            #expect(Array(types[..<start]) == ["response.created", "response.in_progress"])
            #expect(dispositions[..<start].allSatisfy { $0 == .preamble })
            #expect(dispositions[start] == .started)
            let added = try JSONParser.parse(events[start].data.readableBytesView)
            #expect(added["item"]?["type"]?.string == scenario.firstItem)
            #expect(dispositions[(start + 1)..<(events.count - 1)].allSatisfy { $0 == .content })
            #expect(dispositions.last == .terminal)
            #expect(types.last == (scenario.status == "completed" ? "response.completed" : "response.incomplete"))
            // The events go on as sent; the provider numbers them from 0 without gaps.
            let sequence = events.compactMap {
                (try? JSONParser.parse($0.data.readableBytesView))?["sequence_number"]?.int
            }
            #expect(sequence == (0..<Int64(events.count)).map { $0 })

            // Billed: exactly what flexsim's ledger says.
            let row = try #require(try await sim.ledgerRow("streamed"))
            let billed = try #require(reader.result)
            #expect(billed.usage == Self.tokens(row))
            #expect(billed.servedTier?.name == row["tier_served"]?.string)
            #expect(billed.servedTierReported == Self.wireTier(row["tier_served"]?.string))
            #expect(row["tier_asked"]?.string == OpenAITier.wireValue(scenario.tier))
            #expect(row["stream"] == true)
            #expect(billed.usage.outputTokens > 0)
            #expect((billed.usage.reasoningTokens > 0) == scenario.reasons)
            if scenario.warmCache { #expect(billed.usage.cachedInputTokens > 0) }

            // The same body, not streamed: flexsim's own non-streamed answer.
            let plainRequest = try self.adapter.makeRequest(
                body: body,
                passing: passed,
                model: model,
                tier: scenario.tier,
                stream: false,
                key: "sk-test"
            )
            let plain = try sim.send(plainRequest, correlation: "plain", extraHeaders: scenario.headers)
            #expect(plain.status == 200)
            let plainResult = try self.adapter.readResponse(plain.bodyBuffer, headers: plain.headers)
            #expect(plainResult == billed)
            #expect(plainResult.usage == Self.tokens(try #require(try await sim.ledgerRow("plain"))))

            // Reassembly fidelity.
            let assembledBuffer = try reader.assembleResponse()
            let assembled = try JSONParser.parse(assembledBuffer.readableBytesView)
            let expected = try JSONParser.parse(plain.body)
            #expect(Self.normalized(assembled) == Self.normalized(expected))
            #expect(assembled.object?.keys == expected.object?.keys)
            #expect(assembled["id"] != expected["id"])  // two responses: the ids really were normalised away
            let created = try JSONParser.parse(events[0].data.readableBytesView)
            #expect(assembled["id"] == created["response"]?["id"])

            // What the scenario is about.
            let output = assembled["output"]?.array ?? []
            #expect(assembled["status"]?.string == scenario.status)
            #expect(output.filter { $0["type"] == "function_call" }.count == scenario.functionCalls)
            #expect(output.contains { $0["type"] == "reasoning" } == scenario.reasons)
            if scenario.status == "incomplete" {
                #expect(assembled["incomplete_details"]?["reason"] == "max_output_tokens")
            }
            if !scenario.jsonKeys.isEmpty {
                let text = output.first { $0["type"] == "message" }?["content"]?.array?.first?["text"]?.string ?? ""
                let answer = try JSONParser.parse(text)
                #expect(answer.object?.keys.sorted() == scenario.jsonKeys.sorted())
            }
        }
    }

    /// Sends `body` streamed and reads every event: the events, what the reader made of each, and
    /// the reader.
    func stream(
        _ body: JSONObject,
        passing passed: PassedMembers,
        model: String,
        scenario: Scenario,
        correlation: String,
        sim: FlexsimFixture
    ) throws -> ([NativeEvent], [EventDisposition], any StreamReader) {
        let request = try self.adapter.makeRequest(
            body: body,
            passing: passed,
            model: model,
            tier: scenario.tier,
            stream: true,
            key: "sk-test"
        )
        let response = try sim.send(request, correlation: correlation, extraHeaders: scenario.headers)
        #expect(response.status == 200)
        #expect(response.header("content-type")?.hasPrefix("text/event-stream") == true)
        let events = TestSSE.events(response.body)
        var reader = self.adapter.makeStreamReader(for: body, tier: scenario.tier, headers: [])
        let dispositions = events.map { reader.consume($0) }
        return (events, dispositions, reader)
    }

    // MARK: Faults flexsim injects

    static let faultBody = #"{"model":"gpt-5.4-mini","input":"Hello","reasoning":{"effort":"none"}}"#

    func faulted(
        _ fault: String,
        sim: FlexsimFixture
    ) async throws -> ([NativeEvent], [EventDisposition], any StreamReader, JSONValue) {
        let (body, passed) = try NativeBody.parseRequest(ByteBuffer(string: Self.faultBody), api: .responses)
        let request = try self.adapter.makeRequest(
            body: body,
            passing: passed,
            model: "gpt-5.4-mini",
            tier: .flex,
            stream: true,
            key: "sk-test"
        )
        let response = try sim.send(request, correlation: fault, extraHeaders: [("x-flexsim-fault", fault)])
        #expect(response.status == 200)
        let events = TestSSE.events(response.body)
        var reader = self.adapter.makeStreamReader(for: body, tier: .flex, headers: [])
        let dispositions = events.map { reader.consume($0) }
        let row = try #require(try await sim.ledgerRow(fault))
        return (events, dispositions, reader, row)
    }

    @Test func inStreamOverloadBeforeTheStartIsRetryable() async throws {
        try await FlexsimFixture.with { sim in
            let (events, dispositions, reader, row) = try await self.faulted("stream_error", sim: sim)
            #expect(events.map(\.event) == ["response.created", "response.in_progress", "error", "response.failed"])
            #expect(Array(dispositions.prefix(2)) == [.preamble, .preamble])
            guard case .error(.retryable(let error, beforeAnyByte: false)) = dispositions[2] else {
                Issue.record("the error event gave \(dispositions[2])")
                return
            }
            #expect(error.errorCode == "upstream_unavailable")
            #expect(error.status.upstream?.code == "server_is_overloaded")
            #expect(error.status.upstream?.type == "service_unavailable_error")
            guard case .error(.retryable) = dispositions[3] else {
                Issue.record("response.failed gave \(dispositions[3])")
                return
            }
            #expect(reader.result == nil)
            #expect(row["billed"] == false)
        }
    }

    @Test func cutStreamNeverReachesItsEnd() async throws {
        try await FlexsimFixture.with { sim in
            let (events, dispositions, reader, row) = try await self.faulted("cut_mid_stream", sim: sim)
            #expect(dispositions.contains(.started))
            #expect(!dispositions.contains(.terminal))
            #expect(events.last?.event != "response.completed")
            #expect(reader.result == nil)
            #expect(throws: RouterError.self) { try reader.assembleResponse() }
            #expect(row["outcome"] == "cut_mid_stream")
        }
    }

    @Test func malformedEventIsAnError() async throws {
        try await FlexsimFixture.with { sim in
            let (_, dispositions, _, _) = try await self.faulted("malformed_sse", sim: sim)
            let errors = dispositions.compactMap { disposition -> RouterError? in
                if case .error(.retryable(let error, _)) = disposition { return error }
                return nil
            }
            #expect(errors.map(\.errorCode) == ["upstream_malformed_event"])
            let start = try #require(dispositions.firstIndex(of: .started))
            #expect(try #require(dispositions.firstIndex { if case .error = $0 { true } else { false } }) > start)
        }
    }

    @Test func flexRefusalAndServerErrorsOverHTTP() async throws {
        var outage = Profile.instant
        outage.flex.refusalProbability = 1
        try await FlexsimFixture.with(profile: outage) { sim in
            let (body, passed) = try NativeBody.parseRequest(ByteBuffer(string: Self.faultBody), api: .responses)
            let flex = try self.adapter.makeRequest(
                body: body,
                passing: passed,
                model: "gpt-5.4-mini",
                tier: .flex,
                stream: true,
                key: "sk-test"
            )
            let refused = try sim.send(flex, correlation: "refused")
            #expect(refused.status == 429)
            #expect(
                self.adapter.classifyFailure(
                    status: refused.status,
                    headers: refused.headers,
                    body: refused.bodyBuffer,
                    flex: true
                ) == .capacity
            )

            let standard = try self.adapter.makeRequest(
                body: body,
                passing: passed,
                model: "gpt-5.4-mini",
                tier: .standard,
                stream: true,
                key: "sk-test"
            )
            let failed = try sim.send(standard, correlation: "503", extraHeaders: [("x-flexsim-fault", "status=503")])
            #expect(failed.status == 503)
            guard
                case .retryable(let error, _) = self.adapter.classifyFailure(
                    status: failed.status,
                    headers: failed.headers,
                    body: failed.bodyBuffer,
                    flex: false
                )
            else {
                Issue.record("a 503 was not retryable")
                return
            }
            #expect(error.status.upstream?.httpStatus == 503)
            #expect(!error.status.message.contains("sk-test"))
        }
    }

    // MARK: Helpers

    /// The ledger's token classes as a ``TokenUsage``.
    static func tokens(_ row: JSONValue) -> TokenUsage {
        let tokens = row["tokens"]
        func count(_ key: String) -> UInt64 { UInt64(max(0, tokens?[key]?.int ?? 0)) }
        return TokenUsage(
            inputTokens: count("input"),
            cachedInputTokens: count("cached_input"),
            cacheWriteTokens: count("cache_write"),
            outputTokens: count("output"),
            reasoningTokens: count("reasoning"),
            cacheWrite1hTokens: count("cache_write_1h")
        )
    }

    static func wireTier(_ neutral: String?) -> String {
        switch neutral {
        case "flex": "flex"
        case "standard": "default"
        case "priority": "priority"
        default: "?"
        }
    }

    /// `value` with the fields that differ between two answers to the same body (ids, call ids,
    /// creation times) blanked, everything else (order included) kept.
    static func normalized(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(
                JSONObject(
                    object.fields.map { field in
                        ["id", "call_id", "created_at"].contains(field.key)
                            ? (key: field.key, value: .string("<varies>"))
                            : (key: field.key, value: normalized(field.value))
                    }
                )
            )
        case .array(let elements):
            return .array(elements.map(normalized))
        default:
            return value
        }
    }
}
