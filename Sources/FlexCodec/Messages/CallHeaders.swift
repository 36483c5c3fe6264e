/// Opens a call: the first frame a client sends on a new stream.
public struct RequestHeaders: Sendable, Hashable {
    /// The method path; see ``Method``.
    public var method: String
    /// Deadline for the whole call, relative to the server receiving this frame. `nil`: none
    /// beyond the server's own maximum. Carried in whole microseconds.
    public var timeout: Duration?
    /// The caller's flexd API key (identifies the tenant).
    public var apiKey: Secret
    /// Free-form call metadata; keys are lower-case ASCII.
    public var metadata: [String: String]

    public init(method: String, timeout: Duration? = nil, apiKey: Secret = "", metadata: [String: String] = [:]) {
        self.method = method
        self.timeout = timeout
        self.apiKey = apiKey
        self.metadata = metadata
    }

    /// The methods of protocol v1.
    public enum Method {
        /// One `InferenceRequest` in, one `InferenceResponse` out.
        public static let complete = "flexinference.v1.Inference/Complete"
        /// One `InferenceRequest` in, a stream of `StreamEvent` out.
        public static let stream = "flexinference.v1.Inference/Stream"
    }
}

/// Sent by the server before the first MESSAGE of a call.
public struct ResponseHeaders: Sendable, Hashable {
    public var metadata: [String: String]

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }
}

/// Ends a call: always the server's last frame on a stream.
public struct Trailers: Sendable, Hashable {
    public var status: Status
    /// Present whenever the call reached a provider, also when it then failed after being billed.
    public var savings: SavingsRecord?
    public var metadata: [String: String]

    public init(status: Status, savings: SavingsRecord? = nil, metadata: [String: String] = [:]) {
        self.status = status
        self.savings = savings
        self.metadata = metadata
    }
}

/// Sent by a client to abandon a call.
public struct Cancel: Sendable, Hashable {
    /// `StatusCode.ok` on the wire is read as `StatusCode.cancelled`.
    public var code: StatusCode
    public var reason: String

    public init(code: StatusCode = .cancelled, reason: String = "") {
        self.code = code
        self.reason = reason
    }
}
