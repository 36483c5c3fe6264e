import FlexCore
import NIOCore
import Testing

@testable import FlexRouter

/// What each typed field becomes in a Gemini generateContent body.
@Suite("Typed → Gemini generateContent: golden requests")
struct GeminiGenerateContentTypedGoldenTests {
    static let model = "gemini-3.8-flash"

    static let rows: [GoldenRow] = [
        GoldenRow(
            name: "instructions → systemInstruction; assistant → model; no model in the body",
            chat: TypedGolden.conversation,
            model: model,
            json: #"""
                {"contents":[
                   {"role":"user","parts":[{"text":"Bonjour."},{"text":"Ça va ?"}]},
                   {"role":"model","parts":[{"text":"Oui."}]},
                   {"role":"user","parts":[{"text":"Et toi ?"}]}],
                 "systemInstruction":{"parts":[{"text":"Be brief."},{"text":"Answer in French."}]}}
                """#
        ),
        GoldenRow(
            name: "inlineData, fileData with the URL's media type; one detail → mediaResolution",
            chat: TypedGolden.images,
            model: model,
            json: #"""
                {"contents":[{"role":"user","parts":[
                   {"text":"Compare them."},
                   {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="}},
                   {"fileData":{"mimeType":"image/png","fileUri":"https://example.com/cat.png"}},
                   {"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}}]}],
                 "generationConfig":{"mediaResolution":"MEDIA_RESOLUTION_LOW"}}
                """#
        ),
        GoldenRow(
            name: "functionDeclarations with parametersJsonSchema; named choice → ANY with allowedFunctionNames",
            chat: TypedGolden.tools,
            model: model,
            json: #"""
                {"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],
                 "tools":[{"functionDeclarations":[
                   {"name":"get_weather","description":"Current weather for a city","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                   {"name":"get_time","parametersJsonSchema":{"type":"object","properties":{}}}]}],
                 "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}}
                """#
        ),
        GoldenRow(
            name: "calls (first with the placeholder signature), responses by name in one user turn",
            chat: TypedGolden.history,
            model: model,
            json: #"""
                {"contents":[
                   {"role":"user","parts":[{"text":"Weather in Oslo?"}]},
                   {"role":"model","parts":[
                     {"text":"Checking."},
                     {"functionCall":{"name":"get_weather","args":{"city":"Oslo"}},"thoughtSignature":"skip_thought_signature_validator"},
                     {"functionCall":{"name":"get_time","args":{"zone":"Europe/Oslo"}}}]},
                   {"role":"user","parts":[
                     {"functionResponse":{"name":"get_weather","response":{"celsius":4}}},
                     {"functionResponse":{"name":"get_time","response":{"output":"18:04"}}},
                     {"text":"Thanks. Warm enough?"}]}],
                 "tools":[{"functionDeclarations":[
                   {"name":"get_weather","description":"Current weather for a city","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                   {"name":"get_time","description":"Local time in a time zone","parametersJsonSchema":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}}]}]}
                """#
        ),
        GoldenRow(
            name: "Gemini 2.x history: no signature; a strict tool makes auto VALIDATED",
            chat: ChatRequest(
                messages: [
                    TypedGolden.question,
                    ChatMessage(
                        role: .assistant,
                        toolCalls: [ToolCall(id: "c1", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#)]
                    ),
                    ChatMessage(role: .tool, content: [.text("4")], toolCallID: "c1"),
                ],
                tools: [ToolDefinition(name: "get_weather", parametersJSONSchema: #"{"type":"object"}"#, strict: true)],
                toolChoice: ToolChoice(mode: .auto)
            ),
            model: "gemini-2.5-flash",
            json: #"""
                {"contents":[
                   {"role":"user","parts":[{"text":"Weather in Oslo?"}]},
                   {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}}]},
                   {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"4"}}}]}],
                 "tools":[{"functionDeclarations":[{"name":"get_weather","parametersJsonSchema":{"type":"object"}}]}],
                 "toolConfig":{"functionCallingConfig":{"mode":"VALIDATED"}}}
                """#
        ),
        GoldenRow(
            name: "structured output → responseMimeType and responseJsonSchema",
            chat: TypedGolden.structured,
            model: model,
            json: #"""
                {"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],
                 "generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"object","properties":{"celsius":{"type":"number"}}}}}
                """#
        ),
        GoldenRow(
            name: "JSON mode → responseMimeType only",
            chat: ChatRequest(
                messages: [TypedGolden.question],
                responseFormat: ResponseFormat(type: .jsonObject)
            ),
            model: model,
            json: #"""
                {"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],"generationConfig":{"responseMimeType":"application/json"}}
                """#
        ),
        GoldenRow(
            name: "temperature, topP, maxOutputTokens, stopSequences, seed",
            chat: TypedGolden.sampling,
            model: model,
            json: #"""
                {"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],
                 "generationConfig":{"temperature":0.7,"topP":0.5,"maxOutputTokens":256,"stopSequences":["END"],"seed":42}}
                """#
        ),
        GoldenRow(
            name: "reasoning on Gemini 3+: thinkingLevel, thoughts included",
            chat: TypedGolden.reasoning(.medium),
            model: model,
            json: #"""
                {"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],
                 "generationConfig":{"thinkingConfig":{"thinkingLevel":"medium","includeThoughts":true}}}
                """#
        ),
        GoldenRow(
            name: "reasoning none on Gemini 3+: the lowest level, no thoughts",
            chat: TypedGolden.reasoning(.none),
            model: model,
            json: #"""
                {"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],"generationConfig":{"thinkingConfig":{"thinkingLevel":"minimal"}}}
                """#
        ),
        GoldenRow(
            name: "reasoning on Gemini 2.x: thinkingBudget",
            chat: TypedGolden.reasoning(.low),
            model: "gemini-2.5-flash",
            json: #"""
                {"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],
                 "generationConfig":{"thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}}}
                """#
        ),
        GoldenRow(
            name: "reasoning none on Gemini 2.x: budget 0",
            chat: TypedGolden.reasoning(.none),
            model: "gemini-2.5-flash",
            json: #"""
                {"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]}],"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}}
                """#
        ),
    ]

    @Test(arguments: rows) func golden(_ row: GoldenRow) throws {
        try row.check(.generateContent)
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
            name: "a developer message after the conversation started",
            chat: ChatRequest(messages: [
                TypedGolden.question, .text(.developer, "Now in French."),
            ]),
            model: model,
            field: "chat.messages[1].role"
        ),
        RefusalRow(
            name: "images with different details",
            chat: ChatRequest(messages: [
                ChatMessage(
                    role: .user,
                    content: [
                        .image(ImagePart(source: .url(TypedFixtures.catURL), detail: .low)),
                        .image(ImagePart(source: .url(TypedFixtures.catURL), detail: .high)),
                    ]
                )
            ]),
            model: model,
            field: "chat.messages[0].content[1].image.detail"
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
            name: "a seed beyond 32 bits",
            chat: ChatRequest(messages: [TypedGolden.question], seed: 1 << 40),
            model: model,
            field: "chat.seed"
        ),
        RefusalRow(
            name: "a tool result whose tool name cannot be known",
            chat: ChatRequest(messages: [
                TypedGolden.question, ChatMessage(role: .tool, content: [.text("4")], toolCallID: "elsewhere"),
            ]),
            model: model,
            field: "chat.messages[1].name",
            code: "invalid_chat_request"
        ),
    ]

    @Test(arguments: refusals) func refused(_ row: RefusalRow) {
        row.check(.generateContent)
    }
}
