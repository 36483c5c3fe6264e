/// The LLM provider a call goes to.
public enum Provider: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case openAI = 1
    case anthropic = 2
    case gemini = 3

    /// The lower-case name used in logs, records and flexsim's ledger: `openai`, `anthropic`, `gemini`.
    public var name: String {
        switch self {
        case .openAI: "openai"
        case .anthropic: "anthropic"
        case .gemini: "gemini"
        }
    }

    /// The provider with this ``name``, or nil.
    public init?(name: String) {
        guard let provider = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = provider
    }

    /// The API surfaces this provider offers.
    public var apis: [Api] {
        switch self {
        case .openAI: [.chatCompletions, .responses]
        case .anthropic: [.messages]
        case .gemini: [.generateContent, .interactions]
        }
    }

    public var description: String { self.name }
}
