import FlexCore
import NIOCore
import Testing

@testable import FlexRouter

/// What each typed field becomes in an Anthropic Messages body.
@Suite("Typed → Anthropic Messages: golden requests")
struct AnthropicMessagesTypedGoldenTests {
    static let model = "claude-haiku-4-5"

    static let rows: [GoldenRow] = [
        GoldenRow(
            name: "system and developer → system blocks; max_tokens defaults to 4096",
            chat: TypedGolden.conversation,
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,
                 "system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Answer in French."}],
                 "messages":[
                  {"role":"user","content":[{"type":"text","text":"Bonjour."},{"type":"text","text":"Ça va ?"}]},
                  {"role":"assistant","content":"Oui."},
                  {"role":"user","content":"Et toi ?"}]}
                """#
        ),
        GoldenRow(
            name: "one system text is a string",
            chat: ChatRequest(messages: [.text(.system, "Be brief."), TypedGolden.question]),
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,"system":"Be brief.","messages":[{"role":"user","content":"Weather in Oslo?"}]}
                """#
        ),
        GoldenRow(
            name: "images: base64 and url sources",
            chat: ChatRequest(messages: [
                ChatMessage(
                    role: .user,
                    content: [
                        .text("Compare them."), .image(TypedFixtures.png),
                        .image(ImagePart(source: .url(TypedFixtures.catURL))),
                        .image(ImagePart(source: .url("data:image/jpeg;base64,/9j/4AAQ"))),
                    ]
                )
            ]),
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,"messages":[{"role":"user","content":[
                  {"type":"text","text":"Compare them."},
                  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="}},
                  {"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}},
                  {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}}]}]}
                """#
        ),
        GoldenRow(
            name: "tools → input_schema (strict when set), named choice → type tool",
            chat: TypedGolden.tools,
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,"messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "tools":[
                   {"name":"get_weather","description":"Current weather for a city",
                    "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true},
                   {"name":"get_time","input_schema":{"type":"object","properties":{}}}],
                 "tool_choice":{"type":"tool","name":"get_weather"}}
                """#
        ),
        GoldenRow(
            name: "calls → tool_use with input; results first in one user turn with the follow-up",
            chat: TypedGolden.history,
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,"messages":[
                  {"role":"user","content":"Weather in Oslo?"},
                  {"role":"assistant","content":[
                    {"type":"text","text":"Checking."},
                    {"type":"tool_use","id":"call_w","name":"get_weather","input":{"city":"Oslo"}},
                    {"type":"tool_use","id":"call_t","name":"get_time","input":{"zone":"Europe/Oslo"}}]},
                  {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"call_w","content":"{\"celsius\":4}"},
                    {"type":"tool_result","tool_use_id":"call_t","content":"18:04"},
                    {"type":"text","text":"Thanks. Warm enough?"}]}],
                 "tools":[
                   {"name":"get_weather","description":"Current weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                   {"name":"get_time","description":"Local time in a time zone","input_schema":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}}]}
                """#
        ),
        GoldenRow(
            name: "required → any; serial calls → disable_parallel_tool_use; an image in a tool result",
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
                {"model":"claude-haiku-4-5","max_tokens":4096,"messages":[
                  {"role":"user","content":"Weather in Oslo?"},
                  {"role":"assistant","content":[{"type":"tool_use","id":"c1","name":"get_weather","input":{"city":"Oslo"}}]},
                  {"role":"user","content":[{"type":"tool_result","tool_use_id":"c1","content":[
                    {"type":"text","text":"radar:"},{"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}}]}]}],
                 "tools":[{"name":"get_weather","description":"Current weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],
                 "tool_choice":{"type":"any","disable_parallel_tool_use":true}}
                """#
        ),
        GoldenRow(
            name: "serial calls with no choice → auto with disable_parallel_tool_use",
            chat: ChatRequest(
                messages: [TypedGolden.question],
                tools: [TypedFixtures.weather],
                parallelToolCalls: false
            ),
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,"messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "tools":[{"name":"get_weather","description":"Current weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],
                 "tool_choice":{"type":"auto","disable_parallel_tool_use":true}}
                """#
        ),
        GoldenRow(
            name: "structured output → output_config.format",
            chat: TypedGolden.structured,
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,"messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"celsius":{"type":"number"}}}}}}
                """#
        ),
        GoldenRow(
            name: "temperature, top_p, max_tokens, stop_sequences",
            chat: ChatRequest(
                messages: [TypedGolden.question],
                temperature: 0.7,
                topP: 0.5,
                maxOutputTokens: 256,
                stop: ["END"]
            ),
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":256,"messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "temperature":0.7,"top_p":0.5,"stop_sequences":["END"]}
                """#
        ),
        GoldenRow(
            name: "reasoning before Claude 4.6: a thinking budget, room added to max_tokens",
            chat: TypedGolden.reasoning(.medium),
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":12288,"messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "thinking":{"type":"enabled","budget_tokens":8192}}
                """#
        ),
        GoldenRow(
            name: "reasoning on Claude 4.6 and later: adaptive thinking with an effort",
            chat: TypedGolden.reasoning(.high),
            model: "claude-opus-4-7",
            json: #"""
                {"model":"claude-opus-4-7","max_tokens":28672,"messages":[{"role":"user","content":"Weather in Oslo?"}],
                 "thinking":{"type":"adaptive"},"output_config":{"effort":"high"}}
                """#
        ),
        GoldenRow(
            name: "reasoning none: thinking disabled",
            chat: TypedGolden.reasoning(.none),
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,"messages":[{"role":"user","content":"Weather in Oslo?"}],"thinking":{"type":"disabled"}}
                """#
        ),
        GoldenRow(
            name: "metadata user_id",
            chat: TypedGolden.metadata,
            model: model,
            json: #"""
                {"model":"claude-haiku-4-5","max_tokens":4096,"messages":[{"role":"user","content":"Weather in Oslo?"}],"metadata":{"user_id":"u-42"}}
                """#
        ),
    ]

    @Test(arguments: rows) func golden(_ row: GoldenRow) throws {
        try row.check(.messages)
    }

    static let refusals: [RefusalRow] = [
        RefusalRow(name: "seed", chat: TypedGolden.sampling, model: model, field: "chat.seed"),
        RefusalRow(
            name: "JSON mode without a schema",
            chat: ChatRequest(messages: [TypedGolden.question], responseFormat: ResponseFormat(type: .jsonObject)),
            model: model,
            field: "chat.response_format.type"
        ),
        RefusalRow(
            name: "metadata other than user_id",
            chat: ChatRequest(messages: [TypedGolden.question], metadata: ["user_id": "u", "team": "x"]),
            model: model,
            field: "chat.metadata.team"
        ),
        RefusalRow(
            name: "image detail",
            chat: TypedGolden.images,
            model: model,
            field: "chat.messages[0].content[1].image.detail"
        ),
        RefusalRow(
            name: "a system message after the conversation started",
            chat: ChatRequest(messages: [
                TypedGolden.question, .text(.assistant, "Yes."), .text(.system, "Now be formal."),
            ]),
            model: model,
            field: "chat.messages[2].role"
        ),
        RefusalRow(
            name: "participant names",
            chat: ChatRequest(messages: [ChatMessage(role: .user, content: [.text("Hi")], name: "ada")]),
            model: model,
            field: "chat.messages[0].name"
        ),
        RefusalRow(
            name: "a thinking budget that does not fit in max_output_tokens",
            chat: ChatRequest(messages: [TypedGolden.question], maxOutputTokens: 2000, reasoningEffort: .low),
            model: model,
            field: "chat.reasoning_effort"
        ),
    ]

    @Test(arguments: refusals) func refused(_ row: RefusalRow) {
        row.check(.messages)
    }
}
