import FlexCore
import NIOCore
import Testing

@testable import FlexRouter

/// A malformed typed request gets the same `invalid_chat_request` error, naming the field,
/// whatever API it was meant for.
@Suite("Typed requests: checks every API shares")
struct TypedRequestValidationTests {
    static let question = TypedGolden.question

    static let rows: [RefusalRow] = [
        RefusalRow(
            name: "no messages",
            chat: ChatRequest(),
            model: "",
            field: "chat.messages",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "a message without a role",
            chat: ChatRequest(messages: [ChatMessage(role: nil, content: [.text("Hi")])]),
            model: "",
            field: "chat.messages[0].role",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "a user message without content",
            chat: ChatRequest(messages: [ChatMessage(role: .user)]),
            model: "",
            field: "chat.messages[0].content",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "a tool result without its call id",
            chat: ChatRequest(messages: [question, ChatMessage(role: .tool, content: [.text("4")])]),
            model: "",
            field: "chat.messages[1].tool_call_id",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "tool calls on a user message",
            chat: ChatRequest(messages: [
                ChatMessage(
                    role: .user,
                    content: [.text("x")],
                    toolCalls: [ToolCall(id: "a", name: "b", argumentsJSON: "{}")]
                )
            ]),
            model: "",
            field: "chat.messages[0].tool_calls[0]",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "call arguments that are not a JSON object",
            chat: ChatRequest(messages: [
                question,
                ChatMessage(
                    role: .assistant,
                    toolCalls: [ToolCall(id: "a", name: "get_weather", argumentsJSON: "[1]")]
                ),
            ]),
            model: "",
            field: "chat.messages[1].tool_calls[0].arguments_json",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "a tool schema that is not JSON",
            chat: ChatRequest(messages: [question], tools: [ToolDefinition(name: "t", parametersJSONSchema: "{")]),
            model: "",
            field: "chat.tools[0].parameters_json_schema",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "two tools with one name",
            chat: ChatRequest(messages: [question], tools: [TypedFixtures.weather, TypedFixtures.weather]),
            model: "",
            field: "chat.tools[1].name",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "a named choice of an undeclared tool",
            chat: ChatRequest(
                messages: [question],
                tools: [TypedFixtures.weather],
                toolChoice: ToolChoice(mode: .named, name: "get_time")
            ),
            model: "",
            field: "chat.tool_choice.name",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "a required call without tools",
            chat: ChatRequest(messages: [question], toolChoice: ToolChoice(mode: .required)),
            model: "",
            field: "chat.tool_choice",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "a JSON schema format without its schema",
            chat: ChatRequest(messages: [question], responseFormat: ResponseFormat(type: .jsonSchema)),
            model: "",
            field: "chat.response_format.json_schema",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "inline image bytes without a media type",
            chat: ChatRequest(messages: [
                ChatMessage(
                    role: .user,
                    content: [
                        .image(ImagePart(source: .data(ByteBuffer(bytes: TypedFixtures.pngBytes))))
                    ]
                )
            ]),
            model: "",
            field: "chat.messages[0].content[0].image.media_type",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "a data: URL that is not base64",
            chat: ChatRequest(messages: [
                ChatMessage(
                    role: .user,
                    content: [
                        .image(ImagePart(source: .url("data:image/png,%89PNG")))
                    ]
                )
            ]),
            model: "",
            field: "chat.messages[0].content[0].image.url",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "an image without a source",
            chat: ChatRequest(messages: [ChatMessage(role: .user, content: [.image(ImagePart(source: nil))])]),
            model: "",
            field: "chat.messages[0].content[0].image",
            code: "invalid_chat_request"
        ),
        RefusalRow(
            name: "zero max output tokens",
            chat: ChatRequest(messages: [question], maxOutputTokens: 0),
            model: "",
            field: "chat.max_output_tokens",
            code: "invalid_chat_request"
        ),
    ]

    @Test(arguments: rows, Api.allCases) func refusedEverywhere(_ row: RefusalRow, _ api: Api) {
        var row = row
        row.model = RouterRaceTests.model(api)
        row.check(api)
    }

    /// The encoder behind inline images, against RFC 4648's test vectors.
    @Test func base64() {
        let vectors = [
            "": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=",
            "foobar": "Zm9vYmFy",
        ]
        for (plain, encoded) in vectors { #expect(Base64.encode(Array(plain.utf8)) == encoded) }
        #expect(Base64.encode(TypedFixtures.pngBytes) == TypedFixtures.pngBase64)
    }

    /// Which knob a model takes is read from its id.
    @Test func modelFamilies() {
        #expect(!ReasoningMapping.anthropicUsesAdaptiveThinking("claude-haiku-4-5"))
        #expect(!ReasoningMapping.anthropicUsesAdaptiveThinking("claude-opus-4-1-20250805"))
        #expect(!ReasoningMapping.anthropicUsesAdaptiveThinking("claude-3-7-sonnet-20250219"))
        #expect(ReasoningMapping.anthropicUsesAdaptiveThinking("claude-sonnet-4-6"))
        #expect(ReasoningMapping.anthropicUsesAdaptiveThinking("claude-opus-5"))
        #expect(ReasoningMapping.anthropicUsesAdaptiveThinking("claude-mythos-5-1"))
        #expect(ReasoningMapping.anthropicUsesAdaptiveThinking("claude-next"))
        #expect(!ReasoningMapping.geminiUsesThinkingLevel("gemini-2.5-flash"))
        #expect(!ReasoningMapping.geminiUsesThinkingLevel("models/gemini-2.5-pro"))
        #expect(ReasoningMapping.geminiUsesThinkingLevel("gemini-3.8-flash"))
        #expect(ReasoningMapping.geminiUsesThinkingLevel("gemini-4-argon"))
        #expect(ReasoningMapping.geminiUsesThinkingLevel("gemini-exp"))
    }
}
