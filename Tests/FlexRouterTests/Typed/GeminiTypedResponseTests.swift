import FlexCore
import FlexJSON
import NIOCore
import Testing

@testable import FlexRouter

/// Gemini generateContent and Interactions answers and events → typed results and events.
@Suite("Gemini → typed results and events")
struct GeminiTypedResponseTests {
    // MARK: generateContent

    @Test func aResponseWithThoughtsTextAndCalls() throws {
        let result = try typedResult(
            .generateContent,
            #"""
            {"candidates":[{"content":{"role":"model","parts":[
               {"text":"Thinking","thought":true},{"text":"Checking "},{"text":"both."},
               {"functionCall":{"name":"get_weather","args":{"city":"Oslo"}},"thoughtSignature":"c2ln"},
               {"functionCall":{"id":"fc-7","name":"get_time","args":{"zone":"UTC"}}}]},
              "finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":40,"cachedContentTokenCount":8,"candidatesTokenCount":20,"thoughtsTokenCount":6,"serviceTier":"flex"},
             "modelVersion":"gemini-3.8-flash","responseId":"r1"}
            """#
        )
        #expect(
            result
                == ChatResult(
                    id: "r1",
                    model: "gemini-3.8-flash",
                    text: "Checking both.",
                    toolCalls: [
                        ToolCall(id: "r1-call-0", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#),
                        ToolCall(id: "fc-7", name: "get_time", argumentsJSON: #"{"zone":"UTC"}"#),
                    ],
                    reasoningSummary: "Thinking",
                    finishReason: .toolCalls,
                    nativeFinishReason: "STOP",
                    usage: TokenUsage(inputTokens: 32, cachedInputTokens: 8, outputTokens: 26, reasoningTokens: 6)
                )
        )
    }

    @Test(arguments: [
        ("STOP", FinishReason.stop), ("MAX_TOKENS", .length), ("SAFETY", .contentFilter),
        ("RECITATION", .contentFilter),
        ("PROHIBITED_CONTENT", .contentFilter), ("MALFORMED_FUNCTION_CALL", .other), ("OTHER", .other),
    ])
    func finishReasons(_ native: String, _ normalized: FinishReason) {
        #expect(GeminiGenerateContentTranslator.finishReason(native, calledTools: false) == normalized)
    }

    @Test func aBlockedPromptIsAContentFilterFinish() throws {
        let result = try typedResult(
            .generateContent,
            #"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3}}"#
        )
        #expect(result.finishReason == .contentFilter && result.nativeFinishReason == "SAFETY")
        let events = typedEvents(
            .generateContent,
            [chunk(#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3}}"#)]
        )
        #expect(
            events == [
                .finish(
                    FinishDelta(
                        finishReason: .contentFilter,
                        nativeFinishReason: "SAFETY",
                        usage: TokenUsage(inputTokens: 3)
                    )
                )
            ]
        )
    }

    @Test func aStreamWithThoughtsTextAndCallsInOneChunk() {
        let events = typedEvents(
            .generateContent,
            [
                chunk(
                    #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hmm","thought":true}]},"index":0}],"responseId":"r2"}"#
                ),
                chunk(
                    #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Sure. "},{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}},{"functionCall":{"name":"get_time","args":{}}}]},"index":0}],"responseId":"r2"}"#
                ),
                chunk(
                    #"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":5},"responseId":"r2"}"#
                ),
            ]
        )
        #expect(
            events == [
                .reasoning("Hmm"), .text("Sure. "), call(0, id: "r2-call-0", name: "get_weather", #"{"city":"Oslo"}"#),
                call(1, id: "r2-call-1", name: "get_time", "{}"),
                .finish(
                    FinishDelta(
                        finishReason: .toolCalls,
                        nativeFinishReason: "STOP",
                        usage: TokenUsage(inputTokens: 4, outputTokens: 5)
                    )
                ),
            ]
        )
    }

    @Test func aStreamThatNeverFinishesEmitsNoFinish() {
        let events = typedEvents(
            .generateContent,
            [chunk(#"{"candidates":[{"content":{"parts":[{"text":"Half"}]}}]}"#), chunk(#"{"error":{"code":503}}"#)]
        )
        #expect(events == [.text("Half")])
    }

    // MARK: Interactions

    @Test func anInteractionWithThoughtsTextAndACall() throws {
        let result = try typedResult(
            .interactions,
            #"""
            {"id":"v1_abc","status":"requires_action","model":"gemini-3.8-flash","object":"interaction","steps":[
               {"type":"user_input","content":[{"type":"text","text":"echoed input"}]},
               {"type":"thought","signature":"s","summary":[{"type":"text","text":"Plan."}]},
               {"type":"model_output","content":[{"type":"text","text":"Checking."}]},
               {"type":"function_call","id":"fc_1","name":"get_weather","arguments":{"city":"Oslo"}}],
             "usage":{"total_input_tokens":30,"total_cached_tokens":10,"total_output_tokens":12,"total_thought_tokens":4,"total_tool_use_tokens":0}}
            """#
        )
        #expect(
            result
                == ChatResult(
                    id: "v1_abc",
                    model: "gemini-3.8-flash",
                    text: "Checking.",
                    toolCalls: [ToolCall(id: "fc_1", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#)],
                    reasoningSummary: "Plan.",
                    finishReason: .toolCalls,
                    nativeFinishReason: "requires_action",
                    usage: TokenUsage(inputTokens: 20, cachedInputTokens: 10, outputTokens: 16, reasoningTokens: 4)
                )
        )
    }

    @Test(arguments: [
        ("completed", FinishReason.stop), ("requires_action", .toolCalls), ("incomplete", .length), ("failed", .other),
        ("cancelled", .other),
    ])
    func statuses(_ status: String, _ normalized: FinishReason) {
        #expect(GeminiInteractionsTranslator.finishReason(status, calledTools: false) == normalized)
    }

    @Test func anInteractionStream() {
        func e(_ type: String, _ fields: String) -> NativeEvent {
            event(type, #"{"event_type":"\#(type)",\#(fields)}"#)
        }
        let events = typedEvents(
            .interactions,
            [
                e("interaction.created", #""interaction":{"id":"v1","status":"in_progress"}"#),
                e("step.start", #""index":0,"step":{"type":"thought","summary":[]}"#),
                e(
                    "step.delta",
                    #""index":0,"delta":{"type":"thought_summary","content":{"type":"text","text":"Plan"}}"#
                ),
                e("step.delta", #""index":0,"delta":{"type":"thought_signature","signature":"s"}"#),
                e("step.stop", #""index":0"#),
                e("step.start", #""index":1,"step":{"type":"model_output","content":[]}"#),
                e("step.delta", #""index":1,"delta":{"type":"text","text":"Hi"}"#),
                e(
                    "step.start",
                    #""index":2,"step":{"type":"function_call","id":"fc_1","name":"get_weather","arguments":{}}"#
                ),
                e("step.delta", #""index":2,"delta":{"type":"arguments_delta","arguments":"{\"city\":"}"#),
                e("step.delta", #""index":2,"delta":{"type":"arguments_delta","arguments":"\"Oslo\"}"}"#),
                e(
                    "interaction.status_update",
                    #""status":"requires_action","usage":{"total_input_tokens":3,"total_output_tokens":2}"#
                ),
                e("interaction.completed", #""interaction":{"id":"v1","status":"requires_action"}"#),
            ]
        )
        #expect(
            events == [
                .reasoning("Plan"), .text("Hi"), call(0, id: "fc_1", name: "get_weather"), call(0, #"{"city":"#),
                call(0, #""Oslo"}"#),
                .finish(
                    FinishDelta(
                        finishReason: .toolCalls,
                        nativeFinishReason: "requires_action",
                        usage: TokenUsage(inputTokens: 3, outputTokens: 2)
                    )
                ),
            ]
        )
    }
}
