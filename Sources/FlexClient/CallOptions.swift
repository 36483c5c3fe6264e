public import FlexCodec

/// Per-call settings for ``FlexClient/complete(_:options:)`` and
/// ``FlexClient/stream(_:options:isolation:_:)``.
///
/// ```swift
/// let options = CallOptions(timeout: .seconds(90), metadata: ["trace-id": traceID])
/// let (response, savings) = try await client.complete(request, options: options)
/// ```
public struct CallOptions: Sendable, Hashable {
    /// The call's deadline, counted from when the call starts (time spent waiting for a connection
    /// or a stream slot counts). It travels in HEADERS as `timeout_us` (the time left when the
    /// HEADERS are written) and the client enforces it too: when it passes, the client sends
    /// CANCEL (DEADLINE_EXCEEDED) and the call fails with ``FlexClientError/Code/deadlineExceeded``.
    /// nil: ``FlexClient/Configuration/defaultTimeout``.
    public var timeout: Duration?

    /// The flexd API key for this call; nil: ``FlexClient/Configuration/apiKey``.
    public var apiKey: Secret?

    /// Call metadata for the HEADERS (e.g. a trace id); keys lower-case ASCII.
    public var metadata: [String: String]

    public init(timeout: Duration? = nil, apiKey: Secret? = nil, metadata: [String: String] = [:]) {
        self.timeout = timeout
        self.apiKey = apiKey
        self.metadata = metadata
    }

    /// No per-call settings: the configuration's key and default timeout.
    public static var defaults: Self { Self() }
}
