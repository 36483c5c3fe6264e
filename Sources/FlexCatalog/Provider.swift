/// One of the three LLM providers flexd routes to.
public enum Provider: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case openai
    case anthropic
    case gemini

    public var description: String { self.rawValue }
}
