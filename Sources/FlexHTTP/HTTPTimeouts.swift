/// The four timeouts of a request. Each is optional; each fails the request with its own
/// ``HTTPClientError/Code``.
///
/// A request uses its own ``HTTPClientRequest/timeouts`` when set, else the client's
/// ``HTTPClient/Configuration/timeouts`` (the whole struct, not field by field).
public struct HTTPTimeouts: Sendable, Hashable {
    /// Time allowed to obtain a connection: waiting for a free slot in the connection pool, name
    /// resolution, TCP connect and the TLS handshake (libcurl's `CURLOPT_CONNECTTIMEOUT_MS`). A request
    /// that reuses a connection does not wait for one. `nil` leaves libcurl's built-in 300 s.
    ///
    /// Fails with ``HTTPClientError/Code/connectTimeout``.
    public var connect: Duration?

    /// Time from submitting the request until the complete response head (status line and headers)
    /// has been received; it includes the connect time.
    ///
    /// Fails with ``HTTPClientError/Code/responseHeadTimeout``.
    public var responseHead: Duration?

    /// Longest silence allowed between two pieces of the response body once the head has arrived
    /// (the "idle after first token" timeout). Time the transfer spends paused because the consumer
    /// is not reading does not count: only the upstream's silence does.
    ///
    /// Fails with ``HTTPClientError/Code/idleTimeout``, thrown from the body sequence.
    public var idle: Duration?

    /// Time from submitting the request until the body has been received completely.
    ///
    /// Fails with ``HTTPClientError/Code/totalTimeout``.
    public var total: Duration?

    /// Creates timeouts; every argument defaults to `nil` (no timeout of that kind).
    public init(
        connect: Duration? = nil,
        responseHead: Duration? = nil,
        idle: Duration? = nil,
        total: Duration? = nil
    ) {
        self.connect = connect
        self.responseHead = responseHead
        self.idle = idle
        self.total = total
    }
}
