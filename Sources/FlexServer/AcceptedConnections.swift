internal import NIOCore
internal import NIOPosix
internal import Synchronization

/// One listener's accepted connections, handed from its child initializers to the server's task,
/// which runs each one.
///
/// Why not NIO's async server bootstrap: it runs a child's initializer on the child's event loop and
/// hands what it returns to the accept loop afterwards, and when the listener closes in between (a
/// drain beginning as a client connects) it drops the child, which may then stay open and never
/// run (a client waiting for an answer that never comes), or be run and never registered (the
/// server's task waiting for it forever). Here the initializer itself hands the connection over,
/// while the listener is open, and fails once it has closed; NIO's accept handler closes a child
/// whose initializer failed, and also one that initialized after the listener closed. So every
/// accepted socket is either run to its end or closed.
final class AcceptedConnections<Connection: Sendable>: Sendable {
    struct ListenerClosed: Error {}

    /// The connections, in the order their initializers ran; finished once the listener has closed.
    let connections: AsyncStream<Connection>
    /// Nil once the listener has closed.
    private let continuation: Mutex<AsyncStream<Connection>.Continuation?>

    init() {
        let (connections, continuation) = AsyncStream.makeStream(of: Connection.self)
        self.connections = connections
        self.continuation = Mutex(continuation)
    }

    /// Binds a listener whose child initializer builds each connection with `make` (on the child's
    /// event loop, before the child is registered) and hands it to ``connections``.
    static func listen(
        host: String,
        port: Int,
        make: @escaping @Sendable (any Channel) throws -> Connection
    ) async throws -> (any Channel, AcceptedConnections) {
        let accepted = AcceptedConnections()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Out of file descriptors: pause accepting for a second instead of spinning.
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler())
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that half-closes after sending still gets its answers (PROTOCOL.md 11).
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try accepted.hand(make(channel))
                }
            }
            .bind(host: host, port: port)
            .get()
        listener.closeFuture.whenComplete { _ in accepted.listenerClosed() }
        return (listener, accepted)
    }

    /// From a child initializer: throws once the listener has closed, or the server's task stopped
    /// reading (cancelled): NIO then closes the child.
    func hand(_ connection: Connection) throws {
        try self.continuation.withLock { continuation in
            guard let continuation, case .enqueued = continuation.yield(connection) else {
                throw ListenerClosed()
            }
        }
    }

    /// The listener has closed: ``connections`` ends after those already handed over.
    func listenerClosed() {
        self.continuation.withLock { continuation in
            continuation?.finish()
            continuation = nil
        }
    }
}
