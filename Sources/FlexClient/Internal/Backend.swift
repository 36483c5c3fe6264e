import NIOCore

/// One address the client connects to (an endpoint's, after resolution): its connections and
/// whether it is reachable.
///
/// `@unchecked Sendable`: only ``ConnectionManager`` touches it, on the client's event loop.
final class Backend: @unchecked Sendable, CustomStringConvertible {
    let address: SocketAddress
    /// The endpoint it came from, for logs.
    let endpoint: FlexClient.Endpoint

    /// Connections that take new calls (connecting ones included).
    var accepting: [ConnectionHandler] = []
    /// Connection attempts that failed in a row before their handshake; a handshake resets it.
    var consecutiveFailures = 0
    /// Until when the address is not tried again (the reconnect backoff); nil: reachable.
    var retryAt: NIODeadline?
    /// When the last failed attempt started (nil after a handshake): a call that started before
    /// it has seen this address fail.
    var lastFailedAttemptStart: NIODeadline?
    /// The `max_concurrent_streams` its server announced last: what a new connection there is
    /// expected to allow before its own HELLO.
    var streamLimit: Int?
    /// Dropped by a new resolution of its host name: no new connections.
    var retired = false

    init(address: SocketAddress, endpoint: FlexClient.Endpoint) {
        self.address = address
        self.endpoint = endpoint
    }

    /// Whether a new connection may be opened here now.
    func mayConnect(now: NIODeadline, maxConnections: Int) -> Bool {
        !self.retired && self.accepting.count < maxConnections && (self.retryAt.map { $0 <= now } ?? true)
    }

    /// Not waiting out a backoff (whatever its connection count).
    func isReachable(now: NIODeadline) -> Bool {
        !self.retired && (self.retryAt.map { $0 <= now } ?? true)
    }

    var description: String { "\(self.endpoint) (\(self.address))" }
}
