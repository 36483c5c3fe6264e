import FlexCore
import FlexJSON
import FlexSim
import Logging
import NIOCore
import Testing

@testable import FlexRouter

/// The streaming-translation bugs other gateways' users filed (gateway-lessons.md, item 5, and the
/// threads it cites), one test each, against flexd's typed translation.
@Suite("Typed streams: the bugs other gateways shipped")
struct TypedGatewayLessonsTests {
    // MARK: LiteLLM #25836: tool input dropped when streaming from Anthropic

    @Test func anthropicToolInputArrivesWholeFromInputJSONDeltas() {
        let events = typedEvents(
            .messages,
            [
                event("message_start", #"{"type":"message_start","message":{"usage":{"input_tokens":5}}}"#),
                event(
                    "content_block_start",
                    #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#
                ),
                event(
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"ci"}}"#
                ),
                event(
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"ty\": \"Os"}}"#
                ),
                event(
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"lo\"}"}}"#
                ),
                event("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
                event(
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}"#
                ),
                event("message_stop", #"{"type":"message_stop"}"#),
            ]
        )
        let calls = TypedStreamAccumulator(events).result.toolCalls
        #expect(calls.count == 1)
        #expect(calls.first.flatMap { try? JSONParser.parse($0.argumentsJSON) } == ["city": "Oslo"])
    }

    @Test func anthropicToolInputSentWholeInTheBlockStartIsKept() {
        // Some Anthropic-compatible servers put the whole input in content_block_start, no deltas.
        let events = typedEvents(
            .messages,
            [
                event("message_start", #"{"type":"message_start","message":{"usage":{}}}"#),
                event(
                    "content_block_start",
                    #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo"}}}"#
                ),
                event("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
                event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"tool_use"}}"#),
                event("message_stop", #"{"type":"message_stop"}"#),
            ]
        )
        #expect(events.first == call(0, id: "toolu_1", name: "get_weather", #"{"city":"Oslo"}"#))
    }

    @Test func responsesArgumentsSentOnlyWholeAtTheEndAreKept() {
        let events = typedEvents(
            .responses,
            [
                event(
                    "response.output_item.added",
                    #"{"type":"response.output_item.added","output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"c","name":"get_weather","arguments":""}}"#
                ),
                event(
                    "response.function_call_arguments.done",
                    #"{"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":0,"arguments":"{\"city\":\"Oslo\"}"}"#
                ),
                event(
                    "response.output_item.done",
                    #"{"type":"response.output_item.done","output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"c","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}"#
                ),
            ]
        )
        #expect(events == [call(0, id: "c", name: "get_weather"), call(0, #"{"city":"Oslo"}"#)])
    }

    // MARK: LiteLLM #18238: tool name lost when a chunk carries text and tool calls

    @Test func aChatChunkWithTextAndACallKeepsBothAndTheName() {
        let events = typedEvents(
            .chatCompletions,
            [
                chunk(
                    #"{"choices":[{"index":0,"delta":{"content":"Checking.","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]}}]}"#
                ),
                chunk(#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#),
                chunk("[DONE]"),
            ]
        )
        #expect(
            events == [
                .text("Checking."), call(0, id: "call_1", name: "get_weather", #"{"city":"Oslo"}"#),
                .finish(FinishDelta(finishReason: .toolCalls, nativeFinishReason: "tool_calls")),
            ]
        )
    }

    @Test func aGeminiChunkWithTextAndACallKeepsBothAndTheName() {
        let events = typedEvents(
            .generateContent,
            [
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"Checking."},{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}}]},"finishReason":"STOP"}],"responseId":"r"}"#
                )
            ]
        )
        #expect(
            events == [
                .text("Checking."), call(0, id: "r-call-0", name: "get_weather", #"{"city":"Oslo"}"#),
                .finish(FinishDelta(finishReason: .toolCalls, nativeFinishReason: "STOP")),
            ]
        )
    }

    // MARK: LiteLLM #34692: wrong stop reason and a spurious empty text block

    @Test func aToolOnlyAnthropicAnswerHasNoEmptyTextAndStopsForToolCalls() {
        let events = typedEvents(
            .messages,
            [
                event("message_start", #"{"type":"message_start","message":{"usage":{}}}"#),
                event(
                    "content_block_start",
                    #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
                ),
                event(
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}"#
                ),
                event("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
                event(
                    "content_block_start",
                    #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"get_time","input":{}}}"#
                ),
                event(
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#
                ),
                event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"tool_use"}}"#),
                event("message_stop", #"{"type":"message_stop"}"#),
            ]
        )
        #expect(
            events == [
                call(0, id: "t", name: "get_time"), call(0, "{}"),
                .finish(FinishDelta(finishReason: .toolCalls, nativeFinishReason: "tool_use", usage: TokenUsage())),
            ]
        )
    }

    @Test func aToolOnlyChatAnswerHasNoEmptyTextAndStopsForToolCalls() {
        // The role chunk's "content": "" must not become a text event.
        let events = typedEvents(
            .chatCompletions,
            [
                chunk(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null}}]}"#),
                chunk(
                    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"get_time","arguments":"{}"}}]}}]}"#
                ),
                chunk(#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#),
                chunk("[DONE]"),
            ]
        )
        #expect(
            events == [
                call(0, id: "c", name: "get_time", "{}"),
                .finish(FinishDelta(finishReason: .toolCalls, nativeFinishReason: "tool_calls")),
            ]
        )
    }

    // MARK: Bifrost #3511 / PR #3441: only the first of parallel streamed calls was translated

    @Test func interleavedParallelChatCallsKeepTheirOwnArguments() {
        let events = typedEvents(
            .chatCompletions,
            [
                chunk(
                    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"get_weather","arguments":""}},{"index":1,"id":"b","function":{"name":"get_time","arguments":""}}]}}]}"#
                ),
                chunk(
                    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"zone\":"}}]}}]}"#
                ),
                chunk(
                    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Oslo\"}"}}]}}]}"#
                ),
                chunk(
                    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"UTC\"}"}}]}}]}"#
                ),
                chunk(#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#),
                chunk("[DONE]"),
            ]
        )
        let result = TypedStreamAccumulator(events)
        #expect(result.problems.isEmpty, "\(result.problems)")
        #expect(
            result.result.toolCalls == [
                ToolCall(id: "a", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#),
                ToolCall(id: "b", name: "get_time", argumentsJSON: #"{"zone":"UTC"}"#),
            ]
        )
    }

    @Test func aServerRepeatingIDAndNameStartsEachCallOnce() {
        // Some OpenAI-compatible servers repeat id and name on every delta of a call.
        let events = typedEvents(
            .chatCompletions,
            [
                chunk(
                    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"get_weather","arguments":"{\"city\":"}}]}}]}"#
                ),
                chunk(
                    #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"get_weather","arguments":"\"Oslo\"}"}}]}}]}"#
                ),
                chunk("[DONE]"),
            ]
        )
        #expect(events.prefix(2) == [call(0, id: "a", name: "get_weather", #"{"city":"#), call(0, #""Oslo"}"#)])
    }

    // MARK: Bifrost #4556: a duplicate message_start

    @Test func aSecondMessageStartChangesNothing() {
        let start = event("message_start", #"{"type":"message_start","message":{"usage":{"input_tokens":7}}}"#)
        let rest = [
            event(
                "content_block_start",
                #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
            ),
            event(
                "content_block_delta",
                #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#
            ),
            event(
                "message_delta",
                #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#
            ),
            event("message_stop", #"{"type":"message_stop"}"#),
        ]
        let once = typedEvents(.messages, [start] + rest)
        let twice = typedEvents(
            .messages,
            [start, event("message_start", #"{"type":"message_start","message":{"usage":{"input_tokens":999}}}"#)]
                + rest
        )
        #expect(once == twice)
        #expect(
            once == [
                .text("Hi"),
                .finish(
                    FinishDelta(
                        finishReason: .stop,
                        nativeFinishReason: "end_turn",
                        usage: TokenUsage(inputTokens: 7, outputTokens: 2)
                    )
                ),
            ]
        )
    }

    // MARK: Bifrost #5354: Anthropic cache reads reported only in message_delta were double-counted

    @Test func anthropicUsageFromMessageDeltaReplacesTheStartsCounts() {
        let events = typedEvents(
            .messages,
            [
                event(
                    "message_start",
                    #"{"type":"message_start","message":{"usage":{"input_tokens":1000,"cache_read_input_tokens":0,"output_tokens":1}}}"#
                ),
                event(
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":10,"cache_read_input_tokens":990,"output_tokens":5}}"#
                ),
                event("message_stop", #"{"type":"message_stop"}"#),
            ]
        )
        #expect(
            events == [
                .finish(
                    FinishDelta(
                        finishReason: .stop,
                        nativeFinishReason: "end_turn",
                        usage: TokenUsage(inputTokens: 10, cachedInputTokens: 990, outputTokens: 5)
                    )
                )
            ]
        )
    }

    // MARK: Gateway lesson 1 for typed streams: a cut stream is an error, never a clean finish

    @Test(arguments: Api.allCases)
    func aTypedStreamCutMidAnswerEndsInDataLossWithoutAFinish(_ api: Api) async throws {
        var profile = Profile.instant
        profile.faults = [.init(probability: 1, fault: "cut_mid_stream", tier: nil)]
        try await RouterRaceTests.withRouter(profile: profile) { router, _ in
            var request = RouterRaceTests.request(api, startWithin: "default", id: "typed-cut-\(api.name)")
            request.body = .chat(TypedFixtures.Scenario.plainText.chat)
            let collected = RouterRaceTests.EventCollector()
            let failure = await #expect(throws: CallFailure.self) {
                _ = try await router.stream(request, logger: Logger(label: "test")) { await collected.append($0) }
            }
            #expect(failure?.status.errorCode == "upstream_stream_truncated")
            #expect(failure?.savings != nil, "the record of what was billed comes back")
            let events = await collected.events
            #expect(
                !events.contains { if case .finish = $0 { true } else { false } },
                "\(api): a cut stream emitted a finish"
            )
            #expect(
                events.contains { if case .text = $0 { true } else { false } },
                "\(api): the text before the cut was forwarded"
            )
        }
    }
}
