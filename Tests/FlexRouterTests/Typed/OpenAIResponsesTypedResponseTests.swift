import FlexCore
import FlexJSON
import NIOCore
import Testing

@testable import FlexRouter

/// OpenAI Responses answers and events → typed results and events.
@Suite("OpenAI Responses → typed results and events")
struct OpenAIResponsesTypedResponseTests {
    @Test func aResponseWithReasoningTextAndACall() throws {
        let result = try typedResult(
            .responses,
            #"""
            {"id":"resp_1","object":"response","status":"completed","model":"gpt-5.4-mini","output":[
              {"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"Think."},{"type":"summary_text","text":"Then answer."}]},
              {"id":"msg_1","type":"message","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"Checking "},
                                                                           {"type":"output_text","annotations":[],"text":"now."}]},
              {"id":"fc_1","type":"function_call","call_id":"call_a","name":"get_weather","arguments":"{\"city\":\"Oslo\"}","status":"completed"}],
             "usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":10,"cache_write_tokens":5},"output_tokens":30,
                      "output_tokens_details":{"reasoning_tokens":12},"total_tokens":80},"service_tier":"default"}
            """#
        )
        #expect(
            result
                == ChatResult(
                    id: "resp_1",
                    model: "gpt-5.4-mini",
                    text: "Checking now.",
                    toolCalls: [ToolCall(id: "call_a", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#)],
                    reasoningSummary: "Think.\n\nThen answer.",
                    finishReason: .toolCalls,
                    nativeFinishReason: "completed",
                    usage: TokenUsage(
                        inputTokens: 35,
                        cachedInputTokens: 10,
                        cacheWriteTokens: 5,
                        outputTokens: 30,
                        reasoningTokens: 12
                    )
                )
        )
    }

    @Test(arguments: [
        (#"{"status":"completed","output":[]}"#, FinishReason.stop, "completed"),
        (
            #"{"status":"completed","output":[{"type":"message","content":[{"type":"refusal","refusal":"No."}]}]}"#,
            .refusal, "completed"
        ),
        (#"{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}"#, .length, "max_output_tokens"),
        (
            #"{"status":"incomplete","incomplete_details":{"reason":"content_filter"}}"#, .contentFilter,
            "content_filter"
        ),
        (#"{"status":"failed"}"#, .other, "failed"),
    ])
    func statusesBecomeFinishReasons(_ json: String, _ reason: FinishReason, _ native: String) throws {
        let result = try typedResult(.responses, json)
        #expect(result.finishReason == reason)
        #expect(result.nativeFinishReason == native)
    }

    @Test func aStreamWithReasoningTextAndTwoCalls() {
        func e(_ type: String, _ fields: String) -> NativeEvent { event(type, #"{"type":"\#(type)",\#(fields)}"#) }
        let events = typedEvents(
            .responses,
            [
                e("response.created", #""response":{"status":"in_progress","output":[]}"#),
                e(
                    "response.output_item.added",
                    #""output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}"#
                ),
                e(
                    "response.reasoning_summary_text.delta",
                    #""item_id":"rs_1","output_index":0,"summary_index":0,"delta":"Plan""#
                ),
                e(
                    "response.reasoning_summary_text.delta",
                    #""item_id":"rs_1","output_index":0,"summary_index":1,"delta":"More""#
                ),
                e(
                    "response.output_item.added",
                    #""output_index":1,"item":{"id":"msg_1","type":"message","content":[]}"#
                ),
                e("response.output_text.delta", #""item_id":"msg_1","output_index":1,"content_index":0,"delta":"Hi""#),
                e("response.output_text.done", #""item_id":"msg_1","output_index":1,"content_index":0,"text":"Hi""#),
                e(
                    "response.output_item.added",
                    #""output_index":2,"item":{"id":"fc_1","type":"function_call","call_id":"call_a","name":"get_weather","arguments":""}"#
                ),
                e(
                    "response.output_item.added",
                    #""output_index":3,"item":{"id":"fc_2","type":"function_call","call_id":"call_b","name":"get_time","arguments":""}"#
                ),
                e("response.function_call_arguments.delta", #""item_id":"fc_2","output_index":3,"delta":"{}""#),
                e("response.function_call_arguments.delta", #""item_id":"fc_1","output_index":2,"delta":"{\"city\":""#),
                e("response.function_call_arguments.delta", #""item_id":"fc_1","delta":"\"Oslo\"}""#),
                e(
                    "response.function_call_arguments.done",
                    #""item_id":"fc_1","output_index":2,"arguments":"{\"city\":\"Oslo\"}""#
                ),
                e(
                    "response.completed",
                    #""response":{"status":"completed","usage":{"input_tokens":5,"output_tokens":9}}"#
                ),
            ]
        )
        #expect(
            events == [
                .reasoning("Plan"), .reasoning("\n\nMore"), .text("Hi"),
                call(0, id: "call_a", name: "get_weather"), call(1, id: "call_b", name: "get_time"),
                call(1, "{}"), call(0, #"{"city":"#), call(0, #""Oslo"}"#),
                .finish(
                    FinishDelta(
                        finishReason: .toolCalls,
                        nativeFinishReason: "completed",
                        usage: TokenUsage(inputTokens: 5, outputTokens: 9)
                    )
                ),
            ]
        )
    }

    @Test func anIncompleteStreamFinishesWithLength() {
        let events = typedEvents(
            .responses,
            [
                event("response.output_text.delta", #"{"type":"response.output_text.delta","delta":"Once"}"#),
                event(
                    "response.incomplete",
                    #"{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}}"#
                ),
            ]
        )
        #expect(
            events == [
                .text("Once"), .finish(FinishDelta(finishReason: .length, nativeFinishReason: "max_output_tokens")),
            ]
        )
    }
}
