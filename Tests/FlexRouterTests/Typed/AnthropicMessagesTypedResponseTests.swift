import FlexCore
import FlexJSON
import NIOCore
import Testing

@testable import FlexRouter

/// Anthropic Messages answers and events → typed results and events.
@Suite("Anthropic Messages → typed results and events")
struct AnthropicMessagesTypedResponseTests {
    @Test func aMessageWithThinkingTextAndCalls() throws {
        let result = try typedResult(
            .messages,
            #"""
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[
              {"type":"thinking","thinking":"First.","signature":"s"},{"type":"redacted_thinking","data":"x"},
              {"type":"thinking","thinking":"Second.","signature":"s"},
              {"type":"text","text":"Checking."},
              {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo"}},
              {"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}],
             "stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":30,"cache_creation_input_tokens":10,"cache_read_input_tokens":5,"output_tokens":40,"service_tier":"standard"}}
            """#
        )
        #expect(
            result
                == ChatResult(
                    id: "msg_1",
                    model: "claude-haiku-4-5",
                    text: "Checking.",
                    toolCalls: [
                        ToolCall(id: "toolu_1", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#),
                        ToolCall(id: "toolu_2", name: "get_time", argumentsJSON: "{}"),
                    ],
                    reasoningSummary: "First.\n\nSecond.",
                    finishReason: .toolCalls,
                    nativeFinishReason: "tool_use",
                    usage: TokenUsage(inputTokens: 30, cachedInputTokens: 5, cacheWriteTokens: 10, outputTokens: 40)
                )
        )
    }

    @Test(arguments: [
        ("end_turn", FinishReason.stop), ("stop_sequence", .stop), ("max_tokens", .length),
        ("model_context_window_exceeded", .length),
        ("tool_use", .toolCalls), ("refusal", .refusal), ("pause_turn", .other),
    ])
    func stopReasons(_ native: String, _ normalized: FinishReason) {
        #expect(AnthropicMessagesTranslator.finishReason(native) == normalized)
    }

    @Test func aStreamWithThinkingTextAndParallelCalls() {
        func e(_ type: String, _ fields: String) -> NativeEvent {
            event(type, #"{"type":"\#(type)"\#(fields.isEmpty ? "" : ",")\#(fields)}"#)
        }
        let events = typedEvents(
            .messages,
            [
                e(
                    "message_start",
                    #""message":{"id":"msg_1","content":[],"usage":{"input_tokens":20,"output_tokens":1}}"#
                ),
                e("ping", ""),
                e("content_block_start", #""index":0,"content_block":{"type":"thinking","thinking":""}"#),
                e("content_block_delta", #""index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}"#),
                e("content_block_delta", #""index":0,"delta":{"type":"signature_delta","signature":"abc"}"#),
                e("content_block_stop", #""index":0"#),
                e("content_block_start", #""index":1,"content_block":{"type":"thinking","thinking":""}"#),
                e("content_block_delta", #""index":1,"delta":{"type":"thinking_delta","thinking":"Yes."}"#),
                e("content_block_start", #""index":2,"content_block":{"type":"text","text":""}"#),
                e("content_block_delta", #""index":2,"delta":{"type":"text_delta","text":"Checking."}"#),
                e(
                    "content_block_start",
                    #""index":3,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}"#
                ),
                e("content_block_delta", #""index":3,"delta":{"type":"input_json_delta","partial_json":""}"#),
                e(
                    "content_block_delta",
                    #""index":3,"delta":{"type":"input_json_delta","partial_json":"{\"city\": "}"#
                ),
                e(
                    "content_block_start",
                    #""index":4,"content_block":{"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}"#
                ),
                e("content_block_delta", #""index":4,"delta":{"type":"input_json_delta","partial_json":"{}"}"#),
                e("content_block_delta", #""index":3,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}"#),
                e(
                    "message_delta",
                    #""delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":61}"#
                ),
                e("message_stop", ""),
            ]
        )
        #expect(
            events == [
                .reasoning("Hmm."), .reasoning("\n\nYes."), .text("Checking."),
                call(0, id: "toolu_1", name: "get_weather"), call(0, #"{"city": "#),
                call(1, id: "toolu_2", name: "get_time"), call(1, "{}"),
                call(0, #""Oslo"}"#),
                .finish(
                    FinishDelta(
                        finishReason: .toolCalls,
                        nativeFinishReason: "tool_use",
                        usage: TokenUsage(inputTokens: 20, outputTokens: 61)
                    )
                ),
            ]
        )
    }

    @Test func aStreamWithoutMessageStopNeverFinishes() {
        let events = typedEvents(
            .messages,
            [
                event("message_start", #"{"type":"message_start","message":{"usage":{"input_tokens":1}}}"#),
                event(
                    "content_block_start",
                    #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Par"}}"#
                ),
                event(
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tial"}}"#
                ),
            ]
        )
        #expect(events == [.text("Par"), .text("tial")])
    }
}
