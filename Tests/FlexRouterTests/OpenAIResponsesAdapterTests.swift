import FlexCore
import FlexJSON
import NIOCore
import Testing

@testable import FlexRouter

/// The Responses adapter without I/O: request building, and hand-written event sequences for what
/// flexsim does not emit (the flexsim streams are in ``OpenAIResponsesFlexsimTests``).
@Suite("OpenAIResponsesAdapter")
struct OpenAIResponsesAdapterTests {
    let adapter = OpenAIResponsesAdapter()

    // MARK: Request building

    func built(
        _ body: JSONObject,
        model: String = "gpt-5.4-mini",
        tier: Tier = .flex,
        stream: Bool = true
    ) throws -> (UpstreamRequest, JSONValue) {
        let request = try adapter.makeRequest(body: body, model: model, tier: tier, stream: stream, key: "sk-test-key")
        return (request, try JSONParser.parse(request.body.readableBytesView))
    }

    @Test(arguments: [(Tier.flex, "flex"), (.standard, "default"), (.priority, "priority"), (.auto, "auto")])
    func tierSpelling(tier: Tier, wire: String) throws {
        let (_, json) = try built(["input": "hi"], tier: tier)
        #expect(json["service_tier"] == .string(wire))
    }

    @Test func streamingRequestIsForcedToStreamAndKeepsTheCallersFields() throws {
        let body: JSONObject = [
            "model": "gpt-5.4-mini", "input": "hi", "tools": [["type": "function", "name": "f"]],
            "service_tier": "priority", "stream": false, "max_output_tokens": 64,
        ]
        let (request, json) = try built(body, tier: .flex, stream: true)
        #expect(request.path == "/responses")
        #expect(request.stream)
        #expect(json["stream"] == true)
        #expect(json["service_tier"] == "flex")
        // Nothing else is touched: order and values as the caller sent them; no stream_options.
        #expect(json.object?.keys == ["model", "input", "tools", "service_tier", "stream", "max_output_tokens"])
        #expect(json["tools"] == [["type": "function", "name": "f"]])
        #expect(json["stream_options"] == nil)
        #expect(request.headers.first { $0.0 == "accept" }?.1 == "text/event-stream")
        #expect(request.headers.first { $0.0 == "authorization" }?.1 == "Bearer sk-test-key")
    }

    @Test func unstreamedRequestSaysFalseOnlyWhereTheCallerSaidSomething() throws {
        let (request, json) = try built(["input": "hi", "stream": true], tier: .standard, stream: false)
        #expect(!request.stream)
        #expect(json["stream"] == false)
        #expect(request.headers.first { $0.0 == "accept" }?.1 == "application/json")
        let (_, plain) = try built(["input": "hi"], tier: .standard, stream: false)
        #expect(plain["stream"] == nil)
        #expect(plain["model"] == "gpt-5.4-mini")
    }

    @Test func modelMismatchIsRefused() {
        #expect(throws: RouterError.self) {
            try adapter.makeRequest(
                body: ["model": "gpt-5", "input": "hi"],
                model: "gpt-5.4-mini",
                tier: .flex,
                stream: true,
                key: "sk-x"
            )
        }
        do throws(RouterError) {
            _ = try adapter.makeRequest(
                body: ["model": "gpt-5", "input": "hi"],
                model: "gpt-5.4-mini",
                tier: .flex,
                stream: true,
                key: "sk-secret"
            )
            Issue.record("a second model was accepted")
        } catch {
            #expect(error.errorCode == "model_mismatch")
            #expect(!error.status.message.contains("sk-secret"))
        }
        do throws(RouterError) {
            _ = try adapter.makeRequest(
                body: ["model": 5, "input": "hi"],
                model: "gpt-5.4-mini",
                tier: .flex,
                stream: true,
                key: "sk-x"
            )
            Issue.record("a numeric model was accepted")
        } catch {
            #expect(error.errorCode == "invalid_request_body")
        }
    }

    @Test func nonObjectBodyIsRefused() {
        for text in ["[1,2]", "\"input\"", "{\"input\": ", "null"] {
            do throws(RouterError) {
                _ = try NativeBody.parseRequest(ByteBuffer(string: text), api: .responses)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.errorCode == "invalid_request_body")
                #expect(error.status.message.contains("responses"))
            }
        }
    }

    // MARK: Reading events

    static func event(_ type: String, _ fields: JSONObject = [:], sequence: Int = 0) -> NativeEvent {
        var object: JSONObject = ["type": .string(type)]
        object.fields += fields.fields
        object["sequence_number"] = .integer(sequence)
        var buffer = ByteBuffer()
        JSONValue.object(object).write(into: &buffer)
        return NativeEvent(event: type, data: buffer)
    }

    static func raw(_ text: String, event: String = "") -> NativeEvent {
        NativeEvent(event: event, data: ByteBuffer(string: text))
    }

    static let inProgress: JSONValue = [
        "id": "resp_1", "object": "response", "created_at": 1_800_000_000, "status": "in_progress", "error": nil,
        "incomplete_details": nil, "model": "gpt-5.4-mini", "output": [], "service_tier": "auto", "usage": nil,
    ]

    static let message: JSONValue = [
        "id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
        "content": [["type": "output_text", "annotations": [], "text": "Hello there."]],
    ]

    static func response(
        status: String,
        output: [JSONValue],
        usage: JSONValue,
        tier: String = "flex",
        incomplete: JSONValue = nil,
        error: JSONValue = nil
    ) -> JSONValue {
        [
            "id": "resp_1", "object": "response", "created_at": 1_800_000_000, "status": .string(status),
            "error": error,
            "incomplete_details": incomplete, "model": "gpt-5.4-mini", "output": .array(output),
            "service_tier": .string(tier), "usage": usage,
        ]
    }

    static let usage: JSONValue = [
        "input_tokens": 1500, "input_tokens_details": ["cached_tokens": 1024, "cache_write_tokens": 300],
        "output_tokens": 220, "output_tokens_details": ["reasoning_tokens": 200], "total_tokens": 1720,
    ]

    /// The lifecycle events, one output item streamed, and `terminal`.
    static func stream(terminal: NativeEvent) -> [NativeEvent] {
        [
            event("response.created", ["response": inProgress], sequence: 0),
            event("response.in_progress", ["response": inProgress], sequence: 1),
            event(
                "response.output_item.added",
                [
                    "output_index": 0,
                    "item": [
                        "id": "msg_1", "type": "message", "status": "in_progress",
                        "role": "assistant", "content": [],
                    ],
                ],
                sequence: 2
            ),
            event(
                "response.content_part.added",
                [
                    "item_id": "msg_1", "output_index": 0, "content_index": 0,
                    "part": ["type": "output_text", "annotations": [], "text": ""],
                ],
                sequence: 3
            ),
            event(
                "response.output_text.delta",
                ["item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hello"],
                sequence: 4
            ),
            event(
                "response.output_text.delta",
                ["item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": " there."],
                sequence: 5
            ),
            event(
                "response.output_text.done",
                ["item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "Hello there."],
                sequence: 6
            ),
            event("response.output_item.done", ["output_index": 0, "item": message], sequence: 7),
            terminal,
        ]
    }

    func read(_ events: [NativeEvent], tier: Tier = .flex) -> (any StreamReader, [EventDisposition]) {
        var reader = adapter.makeStreamReader(for: ["input": "hi"], tier: tier, headers: [])
        let dispositions = events.map { reader.consume($0) }
        return (reader, dispositions)
    }

    @Test func completedStream() throws {
        let final = Self.response(status: "completed", output: [Self.message], usage: Self.usage)
        let (reader, dispositions) = read(
            Self.stream(terminal: Self.event("response.completed", ["response": final], sequence: 8))
        )
        #expect(
            dispositions == [
                .preamble, .preamble, .started, .content, .content, .content, .content, .content, .terminal,
            ]
        )
        let result = try #require(reader.result)
        #expect(
            result.usage
                == TokenUsage(
                    inputTokens: 176,
                    cachedInputTokens: 1024,
                    cacheWriteTokens: 300,
                    outputTokens: 220,
                    reasoningTokens: 200
                )
        )
        #expect(result.servedTier == .flex)
        #expect(result.servedTierReported == "flex")
        #expect(try JSONParser.parse(reader.assembleResponse().readableBytesView) == final)
    }

    @Test func incompleteIsALegitimateEndWithThePartialResponse() throws {
        let partial: JSONValue = [
            "id": "msg_1", "type": "message", "status": "incomplete", "role": "assistant",
            "content": [["type": "output_text", "annotations": [], "text": "Hello"]],
        ]
        let final = Self.response(
            status: "incomplete",
            output: [partial],
            usage: ["input_tokens": 9, "output_tokens": 2],
            tier: "default",
            incomplete: ["reason": "content_filter"]
        )
        let (reader, dispositions) = read(
            Self.stream(terminal: Self.event("response.incomplete", ["response": final], sequence: 8))
        )
        #expect(dispositions.last == .terminal)
        #expect(dispositions.filter { $0 == .terminal }.count == 1)
        let result = try #require(reader.result)
        #expect(result.usage == TokenUsage(inputTokens: 9, outputTokens: 2))
        #expect(result.servedTier == .standard)
        let assembled = try JSONParser.parse(reader.assembleResponse().readableBytesView)
        #expect(assembled == final)
        #expect(assembled["status"] == "incomplete")
    }

    @Test func serverErrorBeforeTheStartIsRetryable() throws {
        let failed = Self.response(
            status: "failed",
            output: [],
            usage: nil,
            error: ["code": "server_error", "message": "The server had an error processing your request."]
        )
        let (reader, dispositions) = read([
            Self.event("response.created", ["response": Self.inProgress]),
            Self.event("response.in_progress", ["response": Self.inProgress]),
            Self.event("response.failed", ["response": failed]),
        ])
        #expect(Array(dispositions.prefix(2)) == [.preamble, .preamble])
        guard case .error(.retryable(let error, beforeAnyByte: false)) = dispositions[2] else {
            Issue.record("expected a retryable error, got \(dispositions[2])")
            return
        }
        #expect(error.errorCode == "upstream_unavailable")
        #expect(error.status.upstream?.code == "server_error")
        #expect(error.status.upstream?.httpStatus == 500)
        #expect(error.status.message.contains("server_error: The server had an error"))
        #expect(reader.result == nil)
        #expect(throws: RouterError.self) { try reader.assembleResponse() }
    }

    @Test func failedAfterTheStartReportsItsUsage() throws {
        let failed = Self.response(
            status: "failed",
            output: [],
            usage: ["input_tokens": 9, "output_tokens": 4],
            error: ["code": "server_error", "message": "boom"]
        )
        var events = Self.stream(terminal: Self.event("response.failed", ["response": failed]))
        events.remove(at: 7)  // no output_item.done: the item never finished
        let (reader, dispositions) = read(events)
        #expect(dispositions[2] == .started)
        guard case .error(.retryable) = dispositions.last else {
            Issue.record("expected a retryable error, got \(String(describing: dispositions.last))")
            return
        }
        #expect(reader.result?.usage == TokenUsage(inputTokens: 9, outputTokens: 4))
    }

    @Test(arguments: [
        // (response.failed code, tier, expected kind)
        ("rate_limit_exceeded", Tier.flex, "fatal:upstream_rate_limited"),
        ("resource_unavailable", Tier.flex, "capacity"),
        ("resource_unavailable", Tier.standard, "fatal:upstream_rate_limited"),
        ("invalid_prompt", Tier.flex, "fatal:upstream_invalid_request"),
        ("image_too_large", Tier.flex, "fatal:upstream_invalid_request"),
        ("vector_store_timeout", Tier.flex, "retryable:upstream_unavailable"),
        ("something_new", Tier.flex, "retryable:upstream_unavailable"),
    ])
    func failedCodesAreClassified(code: String, tier: Tier, expected: String) {
        let failed = Self.response(
            status: "failed",
            output: [],
            usage: nil,
            error: ["code": .string(code), "message": "m"]
        )
        let (_, dispositions) = read([Self.event("response.failed", ["response": failed])], tier: tier)
        #expect(Self.kind(dispositions[0]) == expected)
    }

    static func kind(_ disposition: EventDisposition) -> String {
        switch disposition {
        case .error(.capacity): "capacity"
        case .error(.retryable(let error, _)): "retryable:\(error.errorCode)"
        case .error(.fatal(let error)): "fatal:\(error.errorCode)"
        default: "\(disposition)"
        }
    }

    @Test func errorEventsInBothShapes() {
        // As captured from the live API (and sent by flexsim): nested under "error".
        let nested = Self.event(
            "error",
            [
                "error": [
                    "type": "service_unavailable_error", "code": "server_is_overloaded",
                    "message": "Our servers are currently overloaded.", "param": nil,
                ]
            ]
        )
        // As documented: code/message/param at the top level.
        let documented = Self.event("error", ["code": "invalid_prompt", "message": "Invalid prompt.", "param": nil])
        let capacity = Self.event(
            "error",
            ["code": "resource_unavailable", "message": "Resource Unavailable: flex capacity"]
        )
        let rateLimit = Self.event(
            "error",
            ["error": ["type": "tokens", "code": nil, "message": "Rate limit reached"]]
        )
        #expect(Self.kind(read([nested]).1[0]) == "retryable:upstream_unavailable")
        #expect(Self.kind(read([documented]).1[0]) == "fatal:upstream_invalid_request")
        #expect(Self.kind(read([capacity]).1[0]) == "capacity")
        #expect(Self.kind(read([capacity], tier: .standard).1[0]) == "fatal:upstream_rate_limited")
        #expect(Self.kind(read([rateLimit]).1[0]) == "fatal:upstream_rate_limited")
        // After the start an error event is still an error (it fails the committed call).
        var events = Array(Self.stream(terminal: nested).dropLast(2))
        events.append(nested)
        #expect(Self.kind(read(events).1.last ?? .content) == "retryable:upstream_unavailable")
    }

    @Test func malformedDataIsARetryableErrorNeverATrap() {
        for data in ["not json", "{\"type\": \"response.output_text.delta\", ", "[1,2,3]", "42", "", "\u{FFFD}\u{0}"] {
            let (reader, dispositions) = read([Self.raw(data, event: "response.output_text.delta")])
            guard case .error(.retryable(let error, beforeAnyByte: false)) = dispositions[0] else {
                Issue.record("\(data.debugDescription) gave \(dispositions[0])")
                continue
            }
            #expect(error.errorCode == "upstream_malformed_event")
            #expect(reader.result == nil)
        }
        // Wrong types inside well-formed JSON are not output and do not trap.
        let odd = [
            Self.raw(#"{"type": 5}"#),
            Self.raw(#"{"type": "response.output_item.added", "output_index": -3, "item": "x"}"#),
            Self.raw(#"{"type": "response.output_item.done", "output_index": 99999999999999, "item": {}}"#),
            Self.raw(#"{"type": "response.completed", "response": [1]}"#),
        ]
        let (reader, dispositions) = read(odd)
        #expect(dispositions == [.preamble, .started, .content, .terminal])
        #expect(reader.result?.usage == TokenUsage())
        #expect(reader.result?.servedTier == nil)
    }

    @Test func streamWithoutItsTerminalEventNeverEnds() {
        let events = Array(
            Self.stream(
                terminal: Self.event(
                    "response.output_text.delta",
                    ["item_id": "msg_1", "output_index": 0, "delta": "x"]
                )
            )
        )
        let (reader, dispositions) = read(events)
        #expect(!dispositions.contains(.terminal))
        #expect(reader.result == nil)
        do throws(RouterError) {
            _ = try reader.assembleResponse()
            Issue.record("assembled an unfinished answer")
        } catch {
            #expect(error.errorCode == "upstream_stream_truncated")
        }
    }

    @Test func reasoningItemStartsTheAttempt() {
        let (_, dispositions) = read([
            Self.event("response.created", ["response": Self.inProgress]),
            Self.event("response.in_progress", ["response": Self.inProgress]),
            Self.event(
                "response.output_item.added",
                ["output_index": 0, "item": ["id": "rs_1", "type": "reasoning", "summary": []]]
            ),
            Self.event(
                "response.reasoning_summary_part.added",
                [
                    "item_id": "rs_1", "output_index": 0, "summary_index": 0,
                    "part": ["type": "summary_text", "text": ""],
                ]
            ),
        ])
        #expect(dispositions == [.preamble, .preamble, .started, .content])
    }

    @Test func queuedAndUnknownEventsDoNotStartIt() {
        let (_, dispositions) = read([
            Self.event("response.created", ["response": Self.inProgress]),
            Self.event("response.queued", ["response": Self.inProgress]),
            Self.event("keepalive"),
            Self.raw(#"{"note": "no type at all"}"#),
            Self.event("response.in_progress", ["response": Self.inProgress]),
            Self.event("response.audio.delta", ["delta": "AAAA"]),
            Self.event("keepalive"),
            Self.raw("[DONE]"),
        ])
        #expect(
            dispositions == [.preamble, .preamble, .preamble, .preamble, .preamble, .started, .content, .internalOnly]
        )
    }

    @Test func webSearchCallIsOutput() {
        // A built-in tool call's events carry output_index: the model has produced an item.
        let (_, dispositions) = read([
            Self.event("response.created", ["response": Self.inProgress]),
            Self.event("response.web_search_call.in_progress", ["output_index": 0, "item_id": "ws_1"]),
        ])
        #expect(dispositions == [.preamble, .started])
    }

    @Test func terminalWithoutItsResponseIsRebuiltFromTheItems() throws {
        let call: JSONValue = [
            "id": "fc_1", "type": "function_call", "status": "completed", "arguments": "{}", "call_id": "call_1",
            "name": "f",
        ]
        var events = Self.stream(terminal: Self.event("response.completed", [:], sequence: 9))
        events.insert(Self.event("response.output_item.done", ["output_index": 1, "item": call], sequence: 8), at: 8)
        let (reader, dispositions) = read(events)
        #expect(dispositions.last == .terminal)
        let assembled = try JSONParser.parse(reader.assembleResponse().readableBytesView)
        var expected = Self.inProgress.object ?? [:]
        expected["status"] = "completed"
        expected["output"] = [Self.message, call]
        #expect(assembled == .object(expected))
        // Without the terminal's response nothing says what was billed or served.
        #expect(reader.result?.usage == TokenUsage())
        #expect(reader.result?.servedTier == nil)
    }

    @Test func terminalWithoutOutputKeepsEverythingElse() throws {
        var final = Self.response(status: "completed", output: [], usage: Self.usage).object ?? [:]
        final["output"] = nil
        let (reader, _) = read(Self.stream(terminal: Self.event("response.completed", ["response": .object(final)])))
        let assembled = try JSONParser.parse(reader.assembleResponse().readableBytesView)
        var expected = final
        expected["output"] = [Self.message]
        #expect(assembled == .object(expected))
        #expect(reader.result?.usage.cachedInputTokens == 1024)
    }

    @Test func terminalBeforeAnyOutputIsStillTerminal() throws {
        // An empty answer: the router sees the terminal event without a start.
        let final = Self.response(
            status: "completed",
            output: [],
            usage: ["input_tokens": 5, "output_tokens": 0],
            tier: "flex"
        )
        let (reader, dispositions) = read([
            Self.event("response.created", ["response": Self.inProgress]),
            Self.event("response.completed", ["response": final]),
        ])
        #expect(dispositions == [.preamble, .terminal])
        #expect(try JSONParser.parse(reader.assembleResponse().readableBytesView) == final)
    }

    // MARK: Non-streamed answers and HTTP errors

    @Test func readResponseTakesUsageAndTierFromTheBody() throws {
        var body = ByteBuffer()
        Self.response(status: "completed", output: [Self.message], usage: Self.usage, tier: "priority").write(
            into: &body
        )
        let result = try adapter.readResponse(body, headers: [])
        #expect(
            result.usage
                == TokenUsage(
                    inputTokens: 176,
                    cachedInputTokens: 1024,
                    cacheWriteTokens: 300,
                    outputTokens: 220,
                    reasoningTokens: 200
                )
        )
        #expect(result.servedTier == .priority)
        #expect(result.servedTierReported == "priority")

        #expect(throws: RouterError.self) {
            try adapter.readResponse(ByteBuffer(string: "{\"id\": \"resp_"), headers: [])
        }
        #expect(throws: RouterError.self) { try adapter.readResponse(ByteBuffer(string: "[]"), headers: []) }
    }

    @Test func usageNeverTrapsOnInconsistentCounts() {
        let usage = OpenAIResponsesAdapter.usage([
            "input_tokens": 10,
            "input_tokens_details": [
                "cached_tokens": 9_000_000_000_000_000_000, "cache_write_tokens": 9_000_000_000_000_000_000,
            ],
            "output_tokens": -4, "output_tokens_details": ["reasoning_tokens": 7.5],
        ])
        #expect(usage.inputTokens == 0)
        #expect(usage.outputTokens == 0)
        #expect(usage.reasoningTokens == 0)
    }

    @Test func httpFailuresUseTheOneTable() {
        let refusal = ByteBuffer(
            string:
                #"{"error":{"message":"Resource Unavailable: flex capacity","type":"rate_limit_error","code":"resource_unavailable"}}"#
        )
        #expect(adapter.classifyFailure(status: 429, headers: [], body: refusal, flex: true) == .capacity)
        #expect(
            Self.kind(.error(adapter.classifyFailure(status: 429, headers: [], body: refusal, flex: false)))
                == "fatal:upstream_rate_limited"
        )
        #expect(
            Self.kind(.error(adapter.classifyFailure(status: 500, headers: [], body: ByteBuffer(), flex: true)))
                == "retryable:upstream_unavailable"
        )
        #expect(
            Self.kind(.error(adapter.classifyFailure(status: 400, headers: [], body: ByteBuffer(), flex: true)))
                == "fatal:upstream_invalid_request"
        )
    }
}
