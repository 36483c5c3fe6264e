public import NIOCore

/// One LLM call: the message a client sends on a `Complete` or `Stream` call.
public struct InferenceRequest: Sendable, Hashable {
    /// Caller-chosen id, unique per tenant; the server assigns one when empty.
    public var requestID: String
    public var provider: Provider?
    public var api: Api?
    public var model: String
    /// Required by the server: `"priority" | "default" | "auto" | "HHh-MMm-SSs"`.
    public var startWithin: String
    /// The caller's own provider key (BYOK); empty to use the tenant's configured key.
    public var providerKey: Secret
    /// Free-form, stored with the savings record.
    public var metadata: [String: String]
    public var body: Body?
    /// Retries on the tier the call settles on; nil for the server's default (`flexd serve
    /// --retries`).
    public var retry: RetryOption?

    /// The request body: the provider's native JSON, or a typed provider-neutral request.
    ///
    /// Indirect (one reference): a typed request is large, and every async function a call waits
    /// in that holds the request would keep room for it.
    public indirect enum Body: Sendable, Hashable {
        /// Exactly the JSON body the caller would have sent the provider.
        case nativeJSON(ByteBuffer)
        /// A typed request that flexd translates for the provider.
        case chat(ChatRequest)
    }

    public init(
        requestID: String = "",
        provider: Provider? = nil,
        api: Api? = nil,
        model: String = "",
        startWithin: String = "",
        providerKey: Secret = "",
        metadata: [String: String] = [:],
        body: Body? = nil,
        retry: RetryOption? = nil
    ) {
        self.requestID = requestID
        self.provider = provider
        self.api = api
        self.model = model
        self.startWithin = startWithin
        self.providerKey = providerKey
        self.metadata = metadata
        self.body = body
        self.retry = retry
    }
}
