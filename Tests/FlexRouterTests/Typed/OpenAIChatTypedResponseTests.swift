import FlexCore
import FlexJSON
import NIOCore
import Testing

@testable import FlexRouter

/// OpenAI Chat Completions answers and chunks → typed results and events.
@Suite("OpenAI Chat Completions → typed results and events")
struct OpenAIChatTypedResponseTests {
    @Test func aCompletionWithTextAndParallelCalls() throws {
        let result = try typedResult(
            .chatCompletions,
            #"""
            {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-5.4-mini-2026","choices":[{"index":0,"message":{
              "role":"assistant","content":"Let me check.","refusal":null,"tool_calls":[
                {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},
                {"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\"zone\":\"UTC\"}"}}]},
              "logprobs":null,"finish_reason":"tool_calls"}],
             "usage":{"prompt_tokens":120,"completion_tokens":50,"total_tokens":170,"prompt_tokens_details":{"cached_tokens":100},
                      "completion_tokens_details":{"reasoning_tokens":20}},"service_tier":"flex"}
            """#
        )
        #expect(
            result
                == ChatResult(
                    id: "chatcmpl-1",
                    model: "gpt-5.4-mini-2026",
                    text: "Let me check.",
                    toolCalls: [
                        ToolCall(id: "call_a", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#),
                        ToolCall(id: "call_b", name: "get_time", argumentsJSON: #"{"zone":"UTC"}"#),
                    ],
                    finishReason: .toolCalls,
                    nativeFinishReason: "tool_calls",
                    usage: TokenUsage(inputTokens: 20, cachedInputTokens: 100, outputTokens: 50, reasoningTokens: 20)
                )
        )
    }

    @Test func aRefusal() throws {
        let result = try typedResult(
            .chatCompletions,
            #"""
            {"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},
             "finish_reason":"stop"}]}
            """#
        )
        #expect(result.refusal == "I can't help with that.")
        #expect(result.text.isEmpty)
        #expect(result.finishReason == .refusal && result.nativeFinishReason == "stop")
        #expect(result.usage == nil)
    }

    @Test(arguments: [
        ("stop", FinishReason.stop), ("length", .length), ("tool_calls", .toolCalls), ("function_call", .toolCalls),
        ("content_filter", .contentFilter), ("something_new", .other),
    ])
    func finishReasons(_ native: String, _ normalized: FinishReason) {
        #expect(OpenAIChatTranslator.finishReason(native, refused: false) == normalized)
    }

    @Test func nothingUsableIsAnEmptyResultNotACrash() throws {
        #expect(try typedResult(.chatCompletions, #"{"choices":"no","usage":7}"#) == ChatResult(usage: TokenUsage()))
        #expect(
            try typedResult(
                .chatCompletions,
                #"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"text":"b"}]}}]}"#
            ).text == "ab"
        )
    }

    @Test func aStreamOfTextAndCalls() {
        let events = typedEvents(
            .chatCompletions,
            [
                chunk(
                    #"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"usage":null}"#
                ),
                chunk(#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#),
                chunk(#"{"id":"c","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}"#),
                chunk(
                    #"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#
                ),
                chunk(
                    #"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}}]}"#
                ),
                chunk(
                    #"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Oslo\"}"}}]}}]}"#
                ),
                chunk(#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#),
                chunk(#"{"id":"c","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}"#),
                chunk("[DONE]"),
            ]
        )
        #expect(
            events == [
                .text("Hel"), .text("lo"),
                call(0, id: "call_a", name: "get_weather"), call(0, #"{"ci"#), call(0, #"ty":"Oslo"}"#),
                .finish(
                    FinishDelta(
                        finishReason: .toolCalls,
                        nativeFinishReason: "tool_calls",
                        usage: TokenUsage(inputTokens: 9, outputTokens: 7)
                    )
                ),
            ]
        )
    }

    @Test func aStreamedRefusalIsTextWithTheRefusalFinish() {
        let events = typedEvents(
            .chatCompletions,
            [
                chunk(#"{"choices":[{"index":0,"delta":{"refusal":"No."}}]}"#),
                chunk(#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#),
                chunk("[DONE]"),
            ]
        )
        #expect(events == [.text("No."), .finish(FinishDelta(finishReason: .refusal, nativeFinishReason: "stop"))])
    }

    @Test func eventsAfterTheEndAndGarbageProduceNothing() {
        let events = typedEvents(
            .chatCompletions,
            [
                chunk("not json"), chunk(#"{"error":{"message":"boom"}}"#),
                chunk(#"{"choices":[{"index":1,"delta":{"content":"other choice"}}]}"#),
                chunk("[DONE]"), chunk(#"{"choices":[{"index":0,"delta":{"content":"late"}}]}"#), chunk("[DONE]"),
            ]
        )
        #expect(events == [.finish(FinishDelta(finishReason: nil))])
    }
}
