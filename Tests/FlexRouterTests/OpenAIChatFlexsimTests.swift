import FlexCore
import FlexJSON
import FlexTestSupport
import NIOCore
import Testing

@testable import FlexRouter

/// The Chat Completions adapter against real flexsim streams: preamble/started/terminal, usage
/// and tier equal to the ledger, and the reassembled `chat.completion` equal to flexsim's own
/// non-streamed answer for the same body (ids and `created` aside).
@Suite("OpenAIChatAdapter against flexsim")
struct OpenAIChatFlexsimTests {
    let adapter = OpenAIChatAdapter()

    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var tier: Tier = .flex
        var headers: [(String, String)] = []
        var finish = "stop"
        var toolCalls = 0
        var testDescription: String { self.name }
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "text",
            body: #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"none"}"#
        ),
        Scenario(
            name: "text, caller asks for usage",
            body:
                #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}"#
        ),
        Scenario(
            name: "text on standard",
            body:
                #"{"model":"gpt-4.1","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}"#,
            tier: .standard
        ),
        Scenario(
            name: "reasoning",
            body: #"{"model":"gpt-5","messages":[{"role":"user","content":"Think."}],"reasoning_effort":"high"}"#
        ),
        Scenario(
            name: "parallel tool calls",
            body: """
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Weather and time?"}],"reasoning_effort":"low","tools":[
                {"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
                {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}}}]}
                """,
            finish: "tool_calls",
            toolCalls: 2
        ),
        Scenario(
            name: "structured output",
            body: """
                {"model":"gpt-5.4-nano","messages":[{"role":"user","content":"A city."}],"reasoning_effort":"minimal","response_format":{"type":"json_schema",
                "json_schema":{"name":"city","strict":true,"schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}}
                """
        ),
        Scenario(
            name: "length",
            body:
                #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Go on."}],"reasoning_effort":"none","max_completion_tokens":16}"#,
            headers: [("x-flexsim-output-tokens", "40")],
            finish: "length"
        ),
    ]

    @Test(arguments: Self.scenarios)
    func streamedAnswer(_ scenario: Scenario) async throws {
        try await FlexsimFixture.with { sim in
            let (body, passed) = try NativeBody.parseRequest(ByteBuffer(string: scenario.body), api: .chatCompletions)
            let model = body["model"]?.string ?? ""
            let callerAskedUsage = body["stream_options"]?["include_usage"]?.bool == true

            let request = try self.adapter.makeRequest(
                body: body,
                passing: passed,
                model: model,
                tier: scenario.tier,
                stream: true,
                key: "sk-test"
            )
            let response = try sim.send(request, correlation: "streamed", extraHeaders: scenario.headers)
            #expect(response.status == 200)
            let events = TestSSE.events(response.body)
            var reader = self.adapter.makeStreamReader(for: body, tier: scenario.tier, headers: [])
            let dispositions = events.map { reader.consume($0) }

            #expect(dispositions.first == .preamble)  // the role-only chunk
            #expect(dispositions.dropFirst().first == .started)
            #expect(dispositions.last == .terminal)
            // The usage chunk (before [DONE]) reaches the caller only if the caller asked for it.
            #expect(dispositions[dispositions.count - 2] == (callerAskedUsage ? .content : .internalOnly))
            #expect(dispositions.dropFirst(2).dropLast(2).allSatisfy { $0 == .content })

            let row = try #require(try await sim.ledgerRow("streamed"))
            let billed = try #require(reader.result)
            #expect(billed.usage == OpenAIResponsesFlexsimTests.tokens(row))
            #expect(billed.servedTier?.name == row["tier_served"]?.string)

            var plainBody = body
            plainBody["stream_options"] = nil  // flexsim, like OpenAI, refuses stream_options without stream
            let plainRequest = try self.adapter.makeRequest(
                body: plainBody,
                passing: passed,
                model: model,
                tier: scenario.tier,
                stream: false,
                key: "sk-test"
            )
            let plain = try sim.send(plainRequest, correlation: "plain", extraHeaders: scenario.headers)
            #expect(plain.status == 200)
            #expect(try self.adapter.readResponse(plain.bodyBuffer, headers: plain.headers) == billed)

            let assembled = try JSONParser.parse(reader.assembleResponse().readableBytesView)
            let expected = try JSONParser.parse(plain.body)
            #expect(Self.normalized(assembled) == Self.normalized(expected))
            let choice = assembled["choices"]?.array?.first
            #expect(choice?["finish_reason"]?.string == scenario.finish)
            #expect(choice?["message"]?["tool_calls"]?.array?.count ?? 0 == scenario.toolCalls)
        }
    }

    @Test func inStreamErrorBeforeTheStartIsRetryable() async throws {
        try await FlexsimFixture.with { sim in
            let (body, passed) = try NativeBody.parseRequest(
                ByteBuffer(string: Self.scenarios[0].body),
                api: .chatCompletions
            )
            let request = try self.adapter.makeRequest(
                body: body,
                passing: passed,
                model: "gpt-5.4-mini",
                tier: .flex,
                stream: true,
                key: "sk-test"
            )
            let response = try sim.send(
                request,
                correlation: "error",
                extraHeaders: [("x-flexsim-fault", "stream_error")]
            )
            var reader = self.adapter.makeStreamReader(for: body, tier: .flex, headers: [])
            let dispositions = TestSSE.events(response.body).map { reader.consume($0) }
            #expect(dispositions.first == .preamble)
            guard case .error(.retryable(let error, beforeAnyByte: false)) = dispositions.dropFirst().first else {
                Issue.record("the error chunk gave \(dispositions)")
                return
            }
            #expect(error.status.upstream?.type == "server_error")
            #expect(try await sim.ledgerRow("error")?["billed"] == false)
        }
    }

    @Test(arguments: [
        (
            #"{"error":{"message":"Resource Unavailable: flex","type":"rate_limit_error","code":"resource_unavailable"}}"#,
            Tier.flex, "capacity"
        ),
        (
            #"{"error":{"message":"Resource Unavailable: flex","type":"rate_limit_error","code":"resource_unavailable"}}"#,
            Tier.standard, "fatal"
        ),
        (#"{"error":{"message":"bad prompt","type":null,"code":"invalid_prompt"}}"#, Tier.flex, "fatal"),
        (
            #"{"error":{"message":"overloaded","type":"service_unavailable_error","code":"server_is_overloaded"}}"#,
            Tier.flex, "retryable"
        ),
    ])
    func errorChunksAreClassifiedByTheSharedTable(chunk: String, tier: Tier, expected: String) {
        var reader = self.adapter.makeStreamReader(for: [:], tier: tier, headers: [])
        let kind =
            switch reader.consume(NativeEvent(data: ByteBuffer(string: chunk))) {
            case .error(.capacity): "capacity"
            case .error(.retryable): "retryable"
            case .error(.fatal): "fatal"
            default: "not an error"
            }
        #expect(kind == expected)
    }

    /// Ids and `created` blanked; everything else kept, key order included, except inside
    /// `message`: the adapter writes `tool_calls` before `annotations`, flexsim after, and which
    /// order OpenAI itself uses is not confirmed (key order means nothing to a JSON reader).
    static func normalized(_ value: JSONValue, sortingKeys: Bool = false) -> JSONValue {
        switch value {
        case .object(let object):
            var fields = object.fields.map { field in
                ["id", "created"].contains(field.key)
                    ? (key: field.key, value: JSONValue.string("<varies>"))
                    : (
                        key: field.key,
                        value: normalized(field.value, sortingKeys: sortingKeys || field.key == "message")
                    )
            }
            if sortingKeys { fields.sort { $0.key < $1.key } }
            return .object(JSONObject(fields))
        case .array(let elements):
            return .array(elements.map { normalized($0, sortingKeys: sortingKeys) })
        default:
            return value
        }
    }
}
