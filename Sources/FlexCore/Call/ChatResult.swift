/// The typed answer to a typed request.
public struct ChatResult: Sendable, Hashable {
    /// The provider's response id.
    public var id: String
    /// The model the provider reports.
    public var model: String
    public var text: String
    public var refusal: String
    public var toolCalls: [ToolCall]
    public var reasoningSummary: String
    public var finishReason: FinishReason?
    /// The provider's own finish/stop reason string.
    public var nativeFinishReason: String
    public var usage: TokenUsage?

    public init(
        id: String = "",
        model: String = "",
        text: String = "",
        refusal: String = "",
        toolCalls: [ToolCall] = [],
        reasoningSummary: String = "",
        finishReason: FinishReason? = nil,
        nativeFinishReason: String = "",
        usage: TokenUsage? = nil
    ) {
        self.id = id
        self.model = model
        self.text = text
        self.refusal = refusal
        self.toolCalls = toolCalls
        self.reasoningSummary = reasoningSummary
        self.finishReason = finishReason
        self.nativeFinishReason = nativeFinishReason
        self.usage = usage
    }
}
