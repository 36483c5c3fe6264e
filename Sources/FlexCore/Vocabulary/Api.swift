/// The provider API surface a call speaks.
public enum Api: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// OpenAI Chat Completions.
    case chatCompletions = 1
    /// OpenAI Responses.
    case responses = 2
    /// Anthropic Messages.
    case messages = 3
    /// Gemini generateContent / streamGenerateContent.
    case generateContent = 4
    /// Gemini Interactions.
    case interactions = 5

    /// The snake_case name used in logs, records and flexsim's ledger, e.g. `chat_completions`.
    public var name: String {
        switch self {
        case .chatCompletions: "chat_completions"
        case .responses: "responses"
        case .messages: "messages"
        case .generateContent: "generate_content"
        case .interactions: "interactions"
        }
    }

    /// The API with this ``name``, or nil.
    public init?(name: String) {
        guard let api = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = api
    }

    /// The provider that offers this API.
    public var provider: Provider {
        switch self {
        case .chatCompletions, .responses: .openAI
        case .messages: .anthropic
        case .generateContent, .interactions: .gemini
        }
    }

    public var description: String { self.name }
}
