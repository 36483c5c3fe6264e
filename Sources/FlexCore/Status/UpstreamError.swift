public import NIOCore

/// What a provider answered when it answered with an error.
public struct UpstreamError: Sendable, Hashable {
    public var httpStatus: UInt32
    /// The provider's own error type and code strings, when its envelope has them.
    public var type: String
    public var code: String
    public var message: String
    /// The provider's error body as received (JSON), at most 64 KiB.
    public var body: ByteBuffer
    /// Retry-After from the provider; nil when absent.
    public var retryAfter: Duration?

    public init(
        httpStatus: UInt32,
        type: String = "",
        code: String = "",
        message: String = "",
        body: ByteBuffer = ByteBuffer(),
        retryAfter: Duration? = nil
    ) {
        self.httpStatus = httpStatus
        self.type = type
        self.code = code
        self.message = message
        self.body = body
        self.retryAfter = retryAfter
    }
}
