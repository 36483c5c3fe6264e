internal import FlexCore

extension RouterError {
    /// A typed field, or a value of it, that the API the call goes to cannot express. flexd never
    /// drops or approximates such a field silently: the caller learns which field to change.
    ///
    /// - Parameters:
    ///   - field: The field's path in the typed request, e.g. `chat.stop` or
    ///     `chat.messages[2].content[0].image.detail`.
    ///   - reason: Why the API cannot take it, and what to do instead.
    static func unsupportedForProvider(_ field: String, api: Api, _ reason: String) -> RouterError {
        RouterError(
            .unsupportedForProvider,
            "\(field) cannot be sent to \(api.title): \(reason)",
            details: ["field": field, "provider": api.provider.name, "api": api.name]
        )
    }

    /// A typed request that is not well formed, whatever provider it would go to.
    static func invalidChatRequest(_ field: String, _ message: String) -> RouterError {
        RouterError(.invalidChatRequest, "\(field): \(message)", details: ["field": field])
    }

    /// A provider answer the typed layer cannot read (after the call was billed).
    static func untranslatableAnswer(_ api: Api, _ what: String) -> RouterError {
        RouterError(
            .upstreamMalformedResponse,
            "\(api.title) answered with \(what); flexd cannot turn it into a typed result",
            details: ["provider": api.provider.name, "api": api.name]
        )
    }
}

extension Api {
    /// The API's name as people write it, for messages: `OpenAI Chat Completions`, ...
    var title: String {
        switch self {
        case .chatCompletions: "OpenAI Chat Completions"
        case .responses: "OpenAI Responses"
        case .messages: "Anthropic Messages"
        case .generateContent: "Gemini generateContent"
        case .interactions: "Gemini Interactions"
        }
    }
}
