import FlexCore
import NIOCore
import Testing

@testable import FlexRouter

/// What each typed field becomes in an OpenAI Responses body.
@Suite("Typed → OpenAI Responses: golden requests")
struct OpenAIResponsesTypedGoldenTests {
    static let model = "gpt-5.4-mini"

    static let rows: [GoldenRow] = [
        GoldenRow(
            name: "instructions and turns become message items in order",
            chat: TypedGolden.conversation,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[
                  {"type":"message","role":"system","content":"Be brief."},
                  {"type":"message","role":"developer","content":"Answer in French."},
                  {"type":"message","role":"user","content":[{"type":"input_text","text":"Bonjour."},{"type":"input_text","text":"Ça va ?"}]},
                  {"type":"message","role":"assistant","content":"Oui."},
                  {"type":"message","role":"user","content":"Et toi ?"}]}
                """#
        ),
        GoldenRow(
            name: "input_image with a URL or data URL; detail always sent",
            chat: TypedGolden.images,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[{"type":"message","role":"user","content":[
                  {"type":"input_text","text":"Compare them."},
                  {"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==","detail":"low"},
                  {"type":"input_image","image_url":"https://example.com/cat.png","detail":"low"},
                  {"type":"input_image","image_url":"data:image/jpeg;base64,/9j/4AAQ","detail":"low"}]}]}
                """#
        ),
        GoldenRow(
            name: "tools with strict always sent, a named choice",
            chat: TypedGolden.tools,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[{"type":"message","role":"user","content":"Weather in Oslo?"}],
                 "tools":[
                   {"type":"function","name":"get_weather","description":"Current weather for a city",
                    "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true},
                   {"type":"function","name":"get_time","parameters":{"type":"object","properties":{}},"strict":false}],
                 "tool_choice":{"type":"function","name":"get_weather"}}
                """#
        ),
        GoldenRow(
            name: "calls and results become function_call and function_call_output items",
            chat: TypedGolden.history,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[
                  {"type":"message","role":"user","content":"Weather in Oslo?"},
                  {"type":"message","role":"assistant","content":"Checking."},
                  {"type":"function_call","call_id":"call_w","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"},
                  {"type":"function_call","call_id":"call_t","name":"get_time","arguments":"{\"zone\":\"Europe/Oslo\"}"},
                  {"type":"function_call_output","call_id":"call_w","output":"{\"celsius\":4}"},
                  {"type":"function_call_output","call_id":"call_t","output":"18:04"},
                  {"type":"message","role":"user","content":"Thanks. Warm enough?"}],
                 "tools":[
                   {"type":"function","name":"get_weather","description":"Current weather for a city",
                    "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":false},
                   {"type":"function","name":"get_time","description":"Local time in a time zone",
                    "parameters":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]},"strict":false}]}
                """#
        ),
        GoldenRow(
            name: "a tool result with an image; serial calls; required",
            chat: ChatRequest(
                messages: [
                    TypedGolden.question,
                    ChatMessage(
                        role: .assistant,
                        toolCalls: [ToolCall(id: "c1", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#)]
                    ),
                    ChatMessage(
                        role: .tool,
                        content: [.text("radar:"), .image(ImagePart(source: .url(TypedFixtures.catURL)))],
                        toolCallID: "c1"
                    ),
                ],
                tools: [TypedFixtures.weather],
                toolChoice: ToolChoice(mode: .required),
                parallelToolCalls: false
            ),
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[
                  {"type":"message","role":"user","content":"Weather in Oslo?"},
                  {"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"},
                  {"type":"function_call_output","call_id":"c1","output":[
                    {"type":"input_text","text":"radar:"},{"type":"input_image","image_url":"https://example.com/cat.png","detail":"auto"}]}],
                 "tools":[{"type":"function","name":"get_weather","description":"Current weather for a city",
                    "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":false}],
                 "tool_choice":"required","parallel_tool_calls":false}
                """#
        ),
        GoldenRow(
            name: "structured output: text.format json_schema",
            chat: TypedGolden.structured,
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[{"type":"message","role":"user","content":"Weather in Oslo?"}],
                 "text":{"format":{"type":"json_schema","name":"report","schema":{"type":"object","properties":{"celsius":{"type":"number"}}},"strict":true}}}
                """#
        ),
        GoldenRow(
            name: "temperature, top_p, max_output_tokens",
            chat: ChatRequest(
                messages: [TypedGolden.question],
                temperature: 0.7,
                topP: 0.5,
                maxOutputTokens: 256
            ),
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[{"type":"message","role":"user","content":"Weather in Oslo?"}],
                 "temperature":0.7,"top_p":0.5,"max_output_tokens":256}
                """#
        ),
        GoldenRow(
            name: "reasoning.effort",
            chat: TypedGolden.reasoning(.high),
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[{"type":"message","role":"user","content":"Weather in Oslo?"}],"reasoning":{"effort":"high"}}
                """#
        ),
        GoldenRow(
            name: "metadata, keys sorted",
            chat: ChatRequest(messages: [TypedGolden.question], metadata: ["team": "search", "job": "nightly"]),
            model: model,
            json: #"""
                {"model":"gpt-5.4-mini","input":[{"type":"message","role":"user","content":"Weather in Oslo?"}],"metadata":{"job":"nightly","team":"search"}}
                """#
        ),
    ]

    @Test(arguments: rows) func golden(_ row: GoldenRow) throws {
        try row.check(.responses)
    }

    static let refusals: [RefusalRow] = [
        RefusalRow(
            name: "stop sequences",
            chat: ChatRequest(messages: [TypedGolden.question], stop: ["END"]),
            model: model,
            field: "chat.stop"
        ),
        RefusalRow(
            name: "seed",
            chat: ChatRequest(messages: [TypedGolden.question], seed: 7),
            model: model,
            field: "chat.seed"
        ),
        RefusalRow(
            name: "participant names",
            chat: ChatRequest(messages: [ChatMessage(role: .user, content: [.text("Hi")], name: "ada")]),
            model: model,
            field: "chat.messages[0].name"
        ),
        RefusalRow(
            name: "an image in an assistant message",
            chat: ChatRequest(messages: [
                TypedGolden.question, ChatMessage(role: .assistant, content: [.image(TypedFixtures.png)]),
            ]),
            model: model,
            field: "chat.messages[1].content[0].image"
        ),
    ]

    @Test(arguments: refusals) func refused(_ row: RefusalRow) {
        row.check(.responses)
    }
}
