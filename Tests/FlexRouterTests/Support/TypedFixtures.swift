import FlexCore
import FlexJSON
import NIOCore
import Testing

@testable import FlexRouter

/// Typed requests the golden and end-to-end tests share.
enum TypedFixtures {
    /// A 1×1 PNG (its base64 is the well-known `iVBORw0KGgo...` string, which checks the encoder).
    static let pngBytes: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01,
        0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
        0x44, 0x41,
        0x54, 0x78, 0xDA, 0x63, 0xFC, 0xCF, 0xC0, 0x50, 0x0F, 0x00, 0x04, 0x85, 0x01, 0x80, 0x84, 0xA9, 0x8C, 0x21,
        0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ]
    static let pngBase64 =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

    static var png: ImagePart { ImagePart(source: .data(ByteBuffer(bytes: Self.pngBytes)), mediaType: "image/png") }
    static let catURL = "https://example.com/cat.png"

    static let weather = ToolDefinition(
        name: "get_weather",
        description: "Current weather for a city",
        parametersJSONSchema: #"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#
    )
    static let time = ToolDefinition(
        name: "get_time",
        description: "Local time in a time zone",
        parametersJSONSchema: #"{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}"#
    )
    static let reportSchema =
        #"{"type":"object","properties":{"city":{"type":"string"},"celsius":{"type":"number"}},"required":["city","celsius"],"additionalProperties":false}"#

    /// The end-to-end scenarios of issue 8, item 4.
    enum Scenario: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case plainText, imageInput, singleToolCall, parallelToolCalls, toolResultTurn, structuredOutput,
            reasoningEffort,
            stopSequence, maxTokensReached

        var testDescription: String { self.rawValue }

        var chat: ChatRequest {
            let question = ChatMessage.text(.user, "What is the weather in Oslo and the time in Tokyo?")
            switch self {
            case .plainText:
                return ChatRequest(
                    messages: [.text(.system, "Answer in one line."), .text(.user, "Explain flex processing.")],
                    temperature: 0.2,
                    topP: 0.9
                )
            case .imageInput:
                return ChatRequest(messages: [
                    ChatMessage(
                        role: .user,
                        content: [
                            .text("What is in these images?"), .image(TypedFixtures.png),
                            .image(ImagePart(source: .url(TypedFixtures.catURL))),
                        ]
                    )
                ])
            case .singleToolCall:
                return ChatRequest(
                    messages: [question],
                    tools: [TypedFixtures.weather],
                    toolChoice: ToolChoice(mode: .required)
                )
            case .parallelToolCalls:
                return ChatRequest(
                    messages: [question],
                    tools: [TypedFixtures.weather, TypedFixtures.time],
                    toolChoice: ToolChoice(mode: .auto),
                    parallelToolCalls: true
                )
            case .toolResultTurn:
                return ChatRequest(
                    messages: [
                        question,
                        ChatMessage(
                            role: .assistant,
                            toolCalls: [
                                ToolCall(id: "call_w", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#),
                                ToolCall(id: "call_t", name: "get_time", argumentsJSON: #"{"zone":"Asia/Tokyo"}"#),
                            ]
                        ),
                        ChatMessage(role: .tool, content: [.text(#"{"celsius":4}"#)], toolCallID: "call_w"),
                        ChatMessage(role: .tool, content: [.text("18:04")], toolCallID: "call_t"),
                    ],
                    tools: [TypedFixtures.weather, TypedFixtures.time]
                )
            case .structuredOutput:
                return ChatRequest(
                    messages: [.text(.user, "Report the weather in Oslo.")],
                    responseFormat: ResponseFormat(
                        type: .jsonSchema,
                        name: "report",
                        jsonSchema: TypedFixtures.reportSchema,
                        strict: true
                    )
                )
            case .reasoningEffort:
                return ChatRequest(messages: [.text(.user, "Is 1009 prime? Think first.")], reasoningEffort: .low)
            case .stopSequence:
                return ChatRequest(messages: [.text(.user, "Count to five, one number per line.")], stop: ["\n\n"])
            case .maxTokensReached:
                return ChatRequest(
                    messages: [.text(.user, "Write a long story about the flex tier.")],
                    maxOutputTokens: 16
                )
            }
        }
    }
}

/// The native body a typed request becomes, as compact JSON text.
func nativeJSON(_ chat: ChatRequest, _ api: Api, model: String, streaming: Bool = false) throws -> String {
    JSONValue.object(try TypedCall.nativeBody(chat, api: api, model: model, streaming: streaming)).jsonString
}

/// `text` re-serialised compactly (so golden JSON can be written readably).
func compact(_ text: String) throws -> String {
    try JSONParser.parse(text).jsonString
}

/// The error a typed request gets when translated for `api`.
func translationError(_ chat: ChatRequest, _ api: Api, model: String) -> RouterError? {
    do {
        _ = try TypedCall.nativeBody(chat, api: api, model: model, streaming: false)
        return nil
    } catch {
        return error
    }
}

/// The typed requests of the golden tables (each API's table says what each becomes).
enum TypedGolden {
    static let question = ChatMessage.text(.user, "Weather in Oslo?")

    /// System and developer instructions, a multi-part user turn, an earlier assistant turn.
    static let conversation = ChatRequest(messages: [
        .text(.system, "Be brief."), .text(.developer, "Answer in French."),
        ChatMessage(role: .user, content: [.text("Bonjour."), .text("Ça va ?")]), .text(.assistant, "Oui."),
        .text(.user, "Et toi ?"),
    ])

    /// An inline PNG, an image URL and a base64 `data:` URL, all with low detail.
    static let images = ChatRequest(messages: [
        ChatMessage(
            role: .user,
            content: [
                .text("Compare them."),
                .image(
                    ImagePart(
                        source: .data(ByteBuffer(bytes: TypedFixtures.pngBytes)),
                        mediaType: "image/png",
                        detail: .low
                    )
                ),
                .image(ImagePart(source: .url(TypedFixtures.catURL), detail: .low)),
                .image(ImagePart(source: .url("data:image/jpeg;base64,/9j/4AAQ"), detail: .low)),
            ]
        )
    ])

    /// A strict tool and a plain one, a named choice.
    static let tools = ChatRequest(
        messages: [question],
        tools: [
            ToolDefinition(
                name: "get_weather",
                description: "Current weather for a city",
                parametersJSONSchema: #"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#,
                strict: true
            ),
            ToolDefinition(name: "get_time"),
        ],
        toolChoice: ToolChoice(mode: .named, name: "get_weather")
    )

    /// Assistant text with two parallel calls, both results, then a user follow-up.
    static let history = ChatRequest(
        messages: [
            question,
            ChatMessage(
                role: .assistant,
                content: [.text("Checking.")],
                toolCalls: [
                    ToolCall(id: "call_w", name: "get_weather", argumentsJSON: #"{"city":"Oslo"}"#),
                    ToolCall(id: "call_t", name: "get_time", argumentsJSON: #"{"zone":"Europe/Oslo"}"#),
                ]
            ),
            ChatMessage(role: .tool, content: [.text(#"{"celsius":4}"#)], toolCallID: "call_w"),
            ChatMessage(role: .tool, content: [.text("18:04")], toolCallID: "call_t", name: "get_time"),
            .text(.user, "Thanks. Warm enough?"),
        ],
        tools: [TypedFixtures.weather, TypedFixtures.time]
    )

    static let structured = ChatRequest(
        messages: [question],
        responseFormat: ResponseFormat(
            type: .jsonSchema,
            name: "report",
            jsonSchema: #"{"type":"object","properties":{"celsius":{"type":"number"}}}"#,
            strict: true
        )
    )

    static let sampling = ChatRequest(
        messages: [question],
        temperature: 0.7,
        topP: 0.5,
        maxOutputTokens: 256,
        stop: ["END"],
        seed: 42
    )

    static func reasoning(_ effort: ReasoningEffort) -> ChatRequest {
        ChatRequest(messages: [question], reasoningEffort: effort)
    }

    static let metadata = ChatRequest(messages: [question], metadata: ["user_id": "u-42"])
}

/// The typed result of a native answer, written as JSON text.
func typedResult(_ api: Api, _ json: String) throws -> ChatResult {
    TypedCall.translator(for: api).result(of: try #require(try JSONParser.parse(json).object))
}

/// The typed events a native stream becomes.
func typedEvents(_ api: Api, _ events: [NativeEvent]) -> [StreamEvent] {
    var translator = TypedCall.translator(for: api).makeStreamTranslator()
    return events.flatMap { translator.translate($0) }
}

/// A tool call's delta, for expected event lists.
func call(_ index: UInt32, id: String = "", name: String = "", _ arguments: String = "") -> StreamEvent {
    .toolCall(ToolCallDelta(index: index, id: id, name: name, argumentsFragment: arguments))
}
