/// Who speaks a ``ChatMessage``.
public enum Role: Int32, Sendable, Hashable, CaseIterable {
    case system = 1
    case developer = 2
    case user = 3
    case assistant = 4
    /// A tool result; ``ChatMessage/toolCallID`` names the call it answers.
    case tool = 5
}

/// The resolution at which the model should look at an image.
public enum ImageDetail: Int32, Sendable, Hashable, CaseIterable {
    case auto = 0
    case low = 1
    case high = 2
}

/// How the model may use the tools it is given.
public enum ToolChoiceMode: Int32, Sendable, Hashable, CaseIterable {
    case auto = 0
    case none = 1
    case required = 2
    /// Call the tool named in ``ToolChoice/name``.
    case named = 3
}

/// The shape the answer must have.
public enum ResponseFormatType: Int32, Sendable, Hashable, CaseIterable {
    case text = 0
    case jsonObject = 1
    case jsonSchema = 2
}

/// How much the model should reason, mapped to each provider's own knob.
public enum ReasoningEffort: Int32, Sendable, Hashable, CaseIterable {
    case none = 1
    case minimal = 2
    case low = 3
    case medium = 4
    case high = 5
}

/// Why the model stopped, normalized across providers.
public enum FinishReason: Int32, Sendable, Hashable, CaseIterable {
    case stop = 1
    case length = 2
    case toolCalls = 3
    case contentFilter = 4
    case refusal = 5
    case other = 6
}
