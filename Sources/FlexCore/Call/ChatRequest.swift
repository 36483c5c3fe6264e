public import NIOCore

/// A typed, provider-neutral chat request that flexd translates to each provider's JSON.
public struct ChatRequest: Sendable, Hashable {
    public var messages: [ChatMessage]
    public var tools: [ToolDefinition]
    public var toolChoice: ToolChoice?
    public var parallelToolCalls: Bool?
    public var responseFormat: ResponseFormat?
    public var temperature: Double?
    public var topP: Double?
    public var maxOutputTokens: UInt32?
    public var stop: [String]
    public var reasoningEffort: ReasoningEffort?
    public var seed: Int64?
    /// Passed to the provider's own metadata field where it has one.
    public var metadata: [String: String]

    public init(
        messages: [ChatMessage] = [],
        tools: [ToolDefinition] = [],
        toolChoice: ToolChoice? = nil,
        parallelToolCalls: Bool? = nil,
        responseFormat: ResponseFormat? = nil,
        temperature: Double? = nil,
        topP: Double? = nil,
        maxOutputTokens: UInt32? = nil,
        stop: [String] = [],
        reasoningEffort: ReasoningEffort? = nil,
        seed: Int64? = nil,
        metadata: [String: String] = [:]
    ) {
        self.messages = messages
        self.tools = tools
        self.toolChoice = toolChoice
        self.parallelToolCalls = parallelToolCalls
        self.responseFormat = responseFormat
        self.temperature = temperature
        self.topP = topP
        self.maxOutputTokens = maxOutputTokens
        self.stop = stop
        self.reasoningEffort = reasoningEffort
        self.seed = seed
        self.metadata = metadata
    }
}

/// One turn of a conversation.
public struct ChatMessage: Sendable, Hashable {
    public var role: Role?
    public var content: [ContentPart]
    /// Assistant turns: the tool calls the model made.
    public var toolCalls: [ToolCall]
    /// Tool turns: the call this result answers.
    public var toolCallID: String
    /// Tool turns: the tool's name (Gemini needs it); otherwise an optional participant name.
    public var name: String

    public init(
        role: Role?,
        content: [ContentPart] = [],
        toolCalls: [ToolCall] = [],
        toolCallID: String = "",
        name: String = ""
    ) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.name = name
    }

    /// A message with one text part.
    public static func text(_ role: Role, _ text: String) -> Self {
        Self(role: role, content: [.text(text)])
    }
}

/// A part of a message's content.
public enum ContentPart: Sendable, Hashable {
    case text(String)
    case image(ImagePart)
}

/// An image input.
public struct ImagePart: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        /// An http(s) URL or a data: URL.
        case url(String)
        /// Inline bytes; ``ImagePart/mediaType`` is then required.
        case data(ByteBuffer)
    }

    public var source: Source?
    /// e.g. `image/png`.
    public var mediaType: String
    public var detail: ImageDetail

    public init(source: Source?, mediaType: String = "", detail: ImageDetail = .auto) {
        self.source = source
        self.mediaType = mediaType
        self.detail = detail
    }
}

/// A tool call the model made, or one in the conversation history.
public struct ToolCall: Sendable, Hashable {
    /// The provider's call id (flexd makes one up for Gemini, which has none).
    public var id: String
    public var name: String
    /// The arguments as a JSON object, in text.
    public var argumentsJSON: String

    public init(id: String, name: String, argumentsJSON: String) {
        self.id = id
        self.name = name
        self.argumentsJSON = argumentsJSON
    }
}

/// A tool the model may call.
public struct ToolDefinition: Sendable, Hashable {
    public var name: String
    public var description: String
    /// JSON Schema of the arguments, as JSON text.
    public var parametersJSONSchema: String
    public var strict: Bool

    public init(name: String, description: String = "", parametersJSONSchema: String = "", strict: Bool = false) {
        self.name = name
        self.description = description
        self.parametersJSONSchema = parametersJSONSchema
        self.strict = strict
    }
}

/// How the model may use its tools.
public struct ToolChoice: Sendable, Hashable {
    public var mode: ToolChoiceMode
    /// The tool to call when ``mode`` is ``ToolChoiceMode/named``.
    public var name: String

    public init(mode: ToolChoiceMode, name: String = "") {
        self.mode = mode
        self.name = name
    }
}

/// The shape the answer must have.
public struct ResponseFormat: Sendable, Hashable {
    public var type: ResponseFormatType
    public var name: String
    /// JSON Schema (``ResponseFormatType/jsonSchema`` only), as JSON text.
    public var jsonSchema: String
    public var strict: Bool

    public init(type: ResponseFormatType, name: String = "", jsonSchema: String = "", strict: Bool = false) {
        self.type = type
        self.name = name
        self.jsonSchema = jsonSchema
        self.strict = strict
    }
}
