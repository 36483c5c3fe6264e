internal import FlexCore

/// OpenAI's spelling of tiers, shared by Chat Completions and Responses.
enum OpenAITier {
    static func wireValue(_ tier: Tier) -> String {
        switch tier {
        case .flex: "flex"
        case .standard: "default"
        case .priority: "priority"
        case .auto: "auto"
        }
    }

    /// The served tier as reported (`fast` is the 2026 name of `priority`; `scale` bills as standard).
    static func served(_ reported: String) -> Tier? {
        switch reported {
        case "flex": .flex
        case "default", "scale": .standard
        case "priority", "fast": .priority
        default: nil
        }
    }

    static func headers(key: Secret, stream: Bool) -> [(String, String)] {
        [
            ("authorization", "Bearer \(key.value)"),
            ("content-type", "application/json"),
            ("accept", stream ? "text/event-stream" : "application/json"),
        ]
    }
}
