public import NIOCore

/// The answer to a `Complete` call.
public struct InferenceResponse: Sendable, Hashable {
    public var requestID: String
    /// Native calls: the provider's non-streaming JSON body, in the provider's own shape.
    public var nativeJSON: ByteBuffer?
    /// Typed calls: the typed result.
    public var chat: ChatResult? {
        get {
            guard case .value(let chat)? = self.chatStorage else { return nil }
            return chat
        }
        set {
            self.chatStorage = newValue.map { .value($0) }
        }
    }

    /// The typed result behind one reference (it is large, and the async functions a unary call
    /// waits in keep room for the answer they will return).
    private var chatStorage: Indirect?

    private indirect enum Indirect: Sendable, Hashable {
        case value(ChatResult)
    }

    public init(requestID: String = "", nativeJSON: ByteBuffer? = nil, chat: ChatResult? = nil) {
        self.requestID = requestID
        self.nativeJSON = nativeJSON
        self.chat = chat
    }
}
