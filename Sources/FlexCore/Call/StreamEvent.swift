public import NIOCore

/// One event of a `Stream` call.
public enum StreamEvent: Sendable, Hashable {
    /// Sent once, before any content: which tier the call committed to.
    case route(RouteDecision)
    /// Native calls: one provider Server-Sent-Events event, as received.
    case native(NativeEvent)
    /// Typed calls: a fragment of the answer's text.
    case text(String)
    /// Typed calls: a fragment of a tool call.
    case toolCall(ToolCallDelta)
    /// Typed calls: a fragment of the model's reasoning (summary).
    case reasoning(String)
    /// Typed calls: the end of the answer, with usage.
    case finish(FinishDelta)
}

/// One Server-Sent-Events event of the provider.
public struct NativeEvent: Sendable, Hashable {
    /// The SSE `event:` field; empty when the provider sends none.
    public var event: String
    /// The SSE `data:` field, lines joined with `\n`.
    public var data: ByteBuffer

    public init(event: String = "", data: ByteBuffer) {
        self.event = event
        self.data = data
    }
}

/// Which tier a streaming call committed to.
public struct RouteDecision: Sendable, Hashable {
    public var tier: Tier?
    public var fellBack: Bool
    public var fallbackReason: FallbackReason?
    /// Time spent on flex before it started or was abandoned, in microseconds.
    public var flexWaitMicroseconds: UInt64

    public init(
        tier: Tier?,
        fellBack: Bool = false,
        fallbackReason: FallbackReason? = nil,
        flexWaitMicroseconds: UInt64 = 0
    ) {
        self.tier = tier
        self.fellBack = fellBack
        self.fallbackReason = fallbackReason
        self.flexWaitMicroseconds = flexWaitMicroseconds
    }
}

/// A fragment of a tool call. The first fragment of a call carries ``id`` and ``name``.
public struct ToolCallDelta: Sendable, Hashable {
    public var index: UInt32
    public var id: String
    public var name: String
    public var argumentsFragment: String

    public init(index: UInt32, id: String = "", name: String = "", argumentsFragment: String = "") {
        self.index = index
        self.id = id
        self.name = name
        self.argumentsFragment = argumentsFragment
    }
}

/// The end of a typed answer.
public struct FinishDelta: Sendable, Hashable {
    public var finishReason: FinishReason?
    /// The provider's own finish/stop reason string.
    public var nativeFinishReason: String
    public var usage: TokenUsage?

    public init(finishReason: FinishReason?, nativeFinishReason: String = "", usage: TokenUsage? = nil) {
        self.finishReason = finishReason
        self.nativeFinishReason = nativeFinishReason
        self.usage = usage
    }
}
