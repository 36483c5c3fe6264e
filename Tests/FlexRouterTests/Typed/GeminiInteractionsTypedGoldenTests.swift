import FlexCore
import NIOCore
import Testing

@testable import FlexRouter

/// What each typed field becomes in a Gemini Interactions body.
@Suite("Typed → Gemini Interactions: golden requests")
struct GeminiInteractionsTypedGoldenTests {
    static let model = "gemini-3.8-flash"

    static let rows: [GoldenRow] = [
        GoldenRow(
            name: "instructions → one system_instruction; turns → user_input and model_output steps",
            chat: TypedGolden.conversation,
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[
                   {"type":"user_input","content":[{"type":"text","text":"Bonjour."},{"type":"text","text":"Ça va ?"}]},
                   {"type":"model_output","content":[{"type":"text","text":"Oui."}]},
                   {"type":"user_input","content":[{"type":"text","text":"Et toi ?"}]}],
                 "system_instruction":"Be brief.\n\nAnswer in French."}
                """#
        ),
        GoldenRow(
            name: "image content with data or uri, mime_type, resolution",
            chat: TypedGolden.images,
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[{"type":"user_input","content":[
                   {"type":"text","text":"Compare them."},
                   {"type":"image","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==","mime_type":"image/png","resolution":"low"},
                   {"type":"image","uri":"https://example.com/cat.png","mime_type":"image/png","resolution":"low"},
                   {"type":"image","data":"/9j/4AAQ","mime_type":"image/jpeg","resolution":"low"}]}]}
                """#
        ),
        GoldenRow(
            name: "function tools; named choice → allowed_tools",
            chat: TypedGolden.tools,
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[{"type":"user_input","content":[{"type":"text","text":"Weather in Oslo?"}]}],
                 "tools":[
                   {"type":"function","name":"get_weather","description":"Current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                   {"type":"function","name":"get_time","parameters":{"type":"object","properties":{}}}],
                 "generation_config":{"tool_choice":{"allowed_tools":{"mode":"any","tools":["get_weather"]}}}}
                """#
        ),
        GoldenRow(
            name: "calls → function_call steps; results → function_result steps with the tool's name",
            chat: TypedGolden.history,
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[
                   {"type":"user_input","content":[{"type":"text","text":"Weather in Oslo?"}]},
                   {"type":"model_output","content":[{"type":"text","text":"Checking."}]},
                   {"type":"function_call","id":"call_w","name":"get_weather","arguments":{"city":"Oslo"}},
                   {"type":"function_call","id":"call_t","name":"get_time","arguments":{"zone":"Europe/Oslo"}},
                   {"type":"function_result","call_id":"call_w","name":"get_weather","result":"{\"celsius\":4}"},
                   {"type":"function_result","call_id":"call_t","name":"get_time","result":"18:04"},
                   {"type":"user_input","content":[{"type":"text","text":"Thanks. Warm enough?"}]}],
                 "tools":[
                   {"type":"function","name":"get_weather","description":"Current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                   {"type":"function","name":"get_time","description":"Local time in a time zone","parameters":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}}]}
                """#
        ),
        GoldenRow(
            name: "a strict tool with auto → validated; required → any",
            chat: ChatRequest(
                messages: [TypedGolden.question],
                tools: [ToolDefinition(name: "get_weather", strict: true)],
                toolChoice: ToolChoice(mode: .auto)
            ),
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[{"type":"user_input","content":[{"type":"text","text":"Weather in Oslo?"}]}],
                 "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{}}}],
                 "generation_config":{"tool_choice":"validated"}}
                """#
        ),
        GoldenRow(
            name: "structured output → response_format text with schema",
            chat: TypedGolden.structured,
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[{"type":"user_input","content":[{"type":"text","text":"Weather in Oslo?"}]}],
                 "response_format":{"type":"text","mime_type":"application/json","schema":{"type":"object","properties":{"celsius":{"type":"number"}}}}}
                """#
        ),
        GoldenRow(
            name: "temperature, top_p, max_output_tokens, stop_sequences, seed",
            chat: TypedGolden.sampling,
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[{"type":"user_input","content":[{"type":"text","text":"Weather in Oslo?"}]}],
                 "generation_config":{"temperature":0.7,"top_p":0.5,"max_output_tokens":256,"stop_sequences":["END"],"seed":42}}
                """#
        ),
        GoldenRow(
            name: "reasoning → thinking_level with summaries",
            chat: TypedGolden.reasoning(.high),
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[{"type":"user_input","content":[{"type":"text","text":"Weather in Oslo?"}]}],
                 "generation_config":{"thinking_level":"high","thinking_summaries":"auto"}}
                """#
        ),
        GoldenRow(
            name: "reasoning none → the lowest level, no summaries",
            chat: TypedGolden.reasoning(.none),
            model: model,
            json: #"""
                {"model":"gemini-3.8-flash","input":[{"type":"user_input","content":[{"type":"text","text":"Weather in Oslo?"}]}],
                 "generation_config":{"thinking_level":"minimal"}}
                """#
        ),
    ]

    @Test(arguments: rows) func golden(_ row: GoldenRow) throws {
        try row.check(.interactions)
    }

    static let refusals: [RefusalRow] = [
        RefusalRow(name: "metadata", chat: TypedGolden.metadata, model: model, field: "chat.metadata.user_id"),
        RefusalRow(
            name: "serial calls",
            chat: ChatRequest(
                messages: [TypedGolden.question],
                tools: [TypedFixtures.weather],
                parallelToolCalls: false
            ),
            model: model,
            field: "chat.parallel_tool_calls"
        ),
        RefusalRow(
            name: "a system message after the conversation started",
            chat: ChatRequest(messages: [
                TypedGolden.question, .text(.system, "Now in French."),
            ]),
            model: model,
            field: "chat.messages[1].role"
        ),
        RefusalRow(
            name: "participant names",
            chat: ChatRequest(messages: [ChatMessage(role: .user, content: [.text("Hi")], name: "ada")]),
            model: model,
            field: "chat.messages[0].name"
        ),
    ]

    @Test(arguments: refusals) func refused(_ row: RefusalRow) {
        row.check(.interactions)
    }
}
