import FlexCore
import NIOCore
import Testing

@testable import FlexRouter

/// What each typed field becomes in an OpenAI Chat Completions body.
@Suite("Typed → OpenAI Chat Completions: golden requests")
struct OpenAIChatTypedGoldenTests {
    static let model = "gpt-5.4-mini"

    static let rows: [GoldenRow] = [
        GoldenRow(
            name: "system, developer, multi-part user, assistant turns",
            chat: TypedGolden.conversation,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[
                  {"role":"system","content":"Be brief."},
                  {"role":"developer","content":"Answer in French."},
                  {"role":"user","content":[{"type":"text","text":"Bonjour."},{"type":"text","text":"Ça va ?"}]},
                  {"role":"assistant","content":"Oui."},
                  {"role":"user","content":"Et toi ?"}]}
                """#
        ),
        GoldenRow(
            name: "inline bytes and data: URLs become data URLs; detail when not auto",
            chat: TypedGolden.images,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":[
                  {"type":"text","text":"Compare them."},
                  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==","detail":"low"}},
                  {"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"low"}},
                  {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ","detail":"low"}}]}]}
                """#
        ),
        GoldenRow(
            name: "tools (strict only when set), a named choice",
            chat: TypedGolden.tools,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "tools":[
                   {"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
                     "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},
                   {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}}],
                 "tool_choice":{"type":"function","function":{"name":"get_weather"}}}
                """#
        ),
        GoldenRow(
            name: "assistant text with parallel calls, their results, a follow-up",
            chat: TypedGolden.history,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[
                  {"role":"user","content":"Weather in Oslo?"},
                  {"role":"assistant","content":"Checking.","tool_calls":[
                    {"id":"call_w","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},
                    {"id":"call_t","type":"function","function":{"name":"get_time","arguments":"{\"zone\":\"Europe/Oslo\"}"}}]},
                  {"role":"tool","tool_call_id":"call_w","content":"{\"celsius\":4}"},
                  {"role":"tool","tool_call_id":"call_t","content":"18:04"},
                  {"role":"user","content":"Thanks. Warm enough?"}],
                 "tools":[
                   {"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
                     "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
                   {"type":"function","function":{"name":"get_time","description":"Local time in a time zone",
                     "parameters":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}}}]}
                """#
        ),
        GoldenRow(
            name: "tool calls only: content null; serial calls",
            chat: ChatRequest(
                messages: [
                    TypedGolden.question,
                    ChatMessage(
                        role: .assistant,
                        toolCalls: [ToolCall(id: "c1", name: "get_weather", argumentsJSON: "")]
                    ),
                    ChatMessage(role: .tool, content: [.text("4°C")], toolCallID: "c1"),
                ],
                tools: [TypedFixtures.weather],
                toolChoice: ToolChoice(mode: .auto),
                parallelToolCalls: false
            ),
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[
                  {"role":"user","content":"Weather in Oslo?"},
                  {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
                  {"role":"tool","tool_call_id":"c1","content":"4°C"}],
                 "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
                     "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
                 "tool_choice":"auto","parallel_tool_calls":false}
                """#
        ),
        GoldenRow(
            name: "structured output: json_schema with name and strict",
            chat: TypedGolden.structured,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "response_format":{"type":"json_schema","json_schema":{"name":"report","schema":{"type":"object","properties":{"celsius":{"type":"number"}}},"strict":true}}}
                """#
        ),
        GoldenRow(
            name: "JSON mode",
            chat: ChatRequest(messages: [TypedGolden.question], responseFormat: ResponseFormat(type: .jsonObject)),
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Weather in Oslo?"}],"response_format":{"type":"json_object"}}
                """#
        ),
        GoldenRow(
            name: "temperature, top_p, max_completion_tokens, stop, seed",
            chat: TypedGolden.sampling,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "temperature":0.7,"top_p":0.5,"max_completion_tokens":256,"stop":["END"],"seed":42}
                """#
        ),
        GoldenRow(
            name: "reasoning effort, same word",
            chat: TypedGolden.reasoning(.minimal),
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Weather in Oslo?"}],"reasoning_effort":"minimal"}
                """#
        ),
        GoldenRow(
            name: "participant name",
            chat: ChatRequest(messages: [ChatMessage(role: .user, content: [.text("Hi")], name: "ada")]),
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Hi","name":"ada"}]}
                """#
        ),
        GoldenRow(
            name: "a streaming caller: usage in the stream",
            chat: ChatRequest(messages: [TypedGolden.question]),
            model: model,
            streaming: true,
            json: #"""
                {"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Weather in Oslo?"}],"stream":true,"stream_options":{"include_usage":true}}
                """#
        ),
    ]

    @Test(arguments: rows) func golden(_ row: GoldenRow) throws {
        try row.check(.chatCompletions)
    }

    static let refusals: [RefusalRow] = [
        RefusalRow(
            name: "metadata needs store: true",
            chat: TypedGolden.metadata,
            model: model,
            field: "chat.metadata"
        ),
        RefusalRow(
            name: "an image in a tool result",
            chat: ChatRequest(
                messages: [
                    TypedGolden.question,
                    ChatMessage(
                        role: .assistant,
                        toolCalls: [ToolCall(id: "c1", name: "get_weather", argumentsJSON: "{}")]
                    ),
                    ChatMessage(role: .tool, content: [.image(TypedFixtures.png)], toolCallID: "c1"),
                ],
                tools: [TypedFixtures.weather]
            ),
            model: model,
            field: "chat.messages[2].content[0].image"
        ),
        RefusalRow(
            name: "an image in a system message",
            chat: ChatRequest(messages: [
                ChatMessage(role: .system, content: [.image(TypedFixtures.png)]), TypedGolden.question,
            ]),
            model: model,
            field: "chat.messages[0].content[0].image"
        ),
    ]

    @Test(arguments: refusals) func refused(_ row: RefusalRow) {
        row.check(.chatCompletions)
    }
}
