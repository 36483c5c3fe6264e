extension FlexClient {
    /// A snapshot of the client's connections and calls (``FlexClient/statistics()``).
    public struct Statistics: Sendable, Hashable {
        /// Addresses the client knows (each endpoint's, after resolution).
        public var addresses: Int
        /// Addresses that are reachable now: not waiting out a reconnect backoff.
        public var reachableAddresses: Int
        /// Connections that take new calls, over all addresses (connecting ones included).
        public var connections: Int
        /// Connections that take no new calls and finish theirs (the server sent GOAWAY, or the
        /// client is closing).
        public var drainingConnections: Int
        /// Calls started on a connection and not finished.
        public var callsOnConnections: Int
        /// Calls waiting in the client for a connection with a free stream (all connections at the
        /// server's `max_concurrent_streams` and no more allowed; see
        /// ``Configuration/maxConnectionsPerEndpoint`` and ``Configuration/maxQueuedCalls``).
        public var queuedCalls: Int
        /// Calls sent again because the server did not process them, since the client started.
        public var resentCalls: Int
        /// Connection attempts that failed before the handshake, since the client started.
        public var failedConnects: Int
        /// Calls refused because the queue was full (`too_many_pending_calls`), since the client
        /// started.
        public var rejectedCalls: Int

        public init(
            addresses: Int = 0,
            reachableAddresses: Int = 0,
            connections: Int = 0,
            drainingConnections: Int = 0,
            callsOnConnections: Int = 0,
            queuedCalls: Int = 0,
            resentCalls: Int = 0,
            failedConnects: Int = 0,
            rejectedCalls: Int = 0
        ) {
            self.addresses = addresses
            self.reachableAddresses = reachableAddresses
            self.connections = connections
            self.drainingConnections = drainingConnections
            self.callsOnConnections = callsOnConnections
            self.queuedCalls = queuedCalls
            self.resentCalls = resentCalls
            self.failedConnects = failedConnects
            self.rejectedCalls = rejectedCalls
        }
    }
}
