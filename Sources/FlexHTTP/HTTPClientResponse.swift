/// The response head, with the body to consume as an asynchronous sequence of byte chunks.
///
/// Read the body to its end (or ``Body/collect(upTo:)`` it) for the connection to be reused. Dropping
/// the response (and every copy of its body) before the end aborts the transfer, which closes an
/// HTTP/1.1 connection or resets an HTTP/2 stream.
public struct HTTPClientResponse: Sendable {
    /// The status code. Any status, 4xx and 5xx included, is a response, not an error.
    public var status: Int

    /// The HTTP version the response came over.
    public var version: HTTPVersion

    /// The response's header fields, in order (trailers are not included).
    public var headers: HTTPHeaders

    /// Which connection carried the response.
    public var connection: ConnectionInfo

    /// The body.
    public var body: Body

    /// The connection a response came over.
    public struct ConnectionInfo: Sendable, Hashable {
        /// Whether an existing connection was reused (no new connection was made for this request).
        public var isReused: Bool
        /// The local address, as libcurl reports it.
        public var localAddress: String
        /// The local port: equal for requests that shared a connection.
        public var localPort: Int
        /// The peer's address (the proxy's when a proxy is used).
        public var remoteAddress: String
        /// The peer's port.
        public var remotePort: Int

        public init(isReused: Bool, localAddress: String, localPort: Int, remoteAddress: String, remotePort: Int) {
            self.isReused = isReused
            self.localAddress = localAddress
            self.localPort = localPort
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
        }
    }

    init(head: HTTPResponseHead, body: Body) {
        self.status = head.status
        self.version = head.version
        self.headers = head.headers
        self.connection = head.connection
        self.body = body
    }
}

/// What the curl thread hands the waiting caller once the head is complete.
struct HTTPResponseHead: Sendable, Hashable {
    var status: Int
    var version: HTTPVersion
    var headers: HTTPHeaders
    var connection: HTTPClientResponse.ConnectionInfo
}
