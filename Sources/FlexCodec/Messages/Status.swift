public import NIOCore

/// The outcome of a call, carried in ``Trailers``.
public struct Status: Sendable, Hashable, CustomStringConvertible {
    public var code: StatusCode
    /// Human-readable, safe to show to the caller's developers.
    public var message: String
    /// Machine-readable reason, e.g. `missing_start_within`. Empty when ``code`` is OK.
    public var errorCode: String
    /// Extra machine-readable facts (e.g. `field` → `start_within`).
    public var details: [String: String]
    /// Present when the provider itself returned the error.
    public var upstream: UpstreamError?

    public init(
        code: StatusCode,
        message: String = "",
        errorCode: String = "",
        details: [String: String] = [:],
        upstream: UpstreamError? = nil
    ) {
        self.code = code
        self.message = message
        self.errorCode = errorCode
        self.details = details
        self.upstream = upstream
    }

    public static let ok = Status(code: .ok)

    public var description: String {
        var text = "\(self.code)"
        if !self.errorCode.isEmpty { text += " (\(self.errorCode))" }
        if !self.message.isEmpty { text += ": \(self.message)" }
        return text
    }
}

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
