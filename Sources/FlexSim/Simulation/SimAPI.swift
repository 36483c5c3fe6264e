public import FlexCatalog

/// The five provider APIs flexsim serves.
public enum SimAPI: String, Sendable, CaseIterable {
    case chatCompletions = "chat_completions"
    case responses
    case messages
    case generateContent = "generate_content"
    case interactions

    public var provider: Provider {
        switch self {
        case .chatCompletions, .responses: .openai
        case .messages: .anthropic
        case .generateContent, .interactions: .gemini
        }
    }
}
