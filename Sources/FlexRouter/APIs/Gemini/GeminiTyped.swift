internal import FlexCore
internal import FlexJSON

/// What the two Gemini translators share.
enum GeminiTyped {
    /// Gemini's `seed` is a 32-bit integer.
    static func seed(_ request: TypedRequest) throws(RouterError) -> Int64? {
        guard let seed = request.chat.seed else { return nil }
        guard seed >= Int64(Int32.min) && seed <= Int64(Int32.max) else {
            throw RouterError.unsupportedForProvider("chat.seed", api: request.api, "Gemini's seed is a 32-bit integer")
        }
        return seed
    }

    /// Gemini cannot be told to make at most one call at a time.
    static func refuseSerialToolCalls(_ request: TypedRequest) throws(RouterError) {
        if request.effectiveParallelToolCalls == false {
            throw RouterError.unsupportedForProvider(
                "chat.parallel_tool_calls",
                api: request.api,
                "Gemini cannot be limited to one tool call per turn"
            )
        }
    }

    /// The function calling mode: `AUTO`, `NONE`, `ANY` (required or named), and `VALIDATED` for
    /// `auto` (or no choice) when a tool is strict: the mode in which Gemini may answer in text or
    /// call a function, and keeps calls to their schema. Nil when nothing needs saying.
    enum Mode: String {
        case auto = "AUTO"
        case none = "NONE"
        case any = "ANY"
        case validated = "VALIDATED"
    }

    static func mode(_ request: TypedRequest) -> Mode? {
        let strict = request.tools.contains { $0.strict }
        switch request.effectiveToolChoice?.mode {
        case nil: return strict ? .validated : nil
        case .auto?: return strict ? .validated : .auto
        case .none?: return Mode.none
        case .required?, .named?: return .any
        }
    }

    /// The name a tool result answers; Gemini needs it.
    static func toolName(_ message: TypedRequest.Message, in request: TypedRequest) throws(RouterError) -> String {
        guard let name = request.toolName(of: message) else {
            throw RouterError.invalidChatRequest(
                "\(message.field).name",
                "Gemini needs the name of the tool a result answers: set name, or keep the assistant message with call \(message.toolCallID.prefix(64)) in the conversation"
            )
        }
        return name
    }

    /// A tool result's text as a function response: the JSON object it holds, or
    /// `{"output": text}` (Gemini's documented key for a function's output).
    static func functionResponse(_ message: TypedRequest.Message) -> JSONObject {
        let text = message.texts.joined()
        if let object = (try? JSONParser.parse(text))?.object { return object }
        return ["output": .string(text)]
    }

    /// Whether model function calls in the history need a thought signature: Gemini 3 and later
    /// refuse a function call part without one. The typed history has no signatures, so flexd sends
    /// Google's documented placeholder for history from elsewhere.
    static func needsSignature(_ model: String) -> Bool {
        ReasoningMapping.geminiUsesThinkingLevel(model)
    }

    static let placeholderSignature = "skip_thought_signature_validator"

    /// The id flexd gives a function call Gemini did not name: the response id and the call's
    /// position.
    static func callID(_ given: String?, responseID: String, position: Int) -> String {
        if let given, !given.isEmpty { return given }
        return "\(responseID.isEmpty ? "gemini" : responseID)-call-\(position)"
    }
}
