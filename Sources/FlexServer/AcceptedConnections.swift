internal import NIOCore
internal import Synchronization

/// The connections a listener has accepted and not yet handed to the server's task.
///
/// NIO's async server bootstrap runs a child channel's initializer on the child's event loop and
/// hands what it returns to the accept loop afterwards. When the listener closes in between (a
/// drain beginning as a client connects), NIO drops the child: it stays open, its handler reads
/// requests and queues calls, and no task ever runs them (`NIOAsyncChannelHandler._deliverReads`
/// discards what completes after its source finished). The client waits for an answer that never
/// comes. So each initializer records its connection here, the accept loop takes it off when it
/// arrives, and once the loop has ended the server runs the ones left over like any other
/// (``closeAndTakeLeftOvers()``). Not covered: an initializer that runs only after the loop has
/// ended fails (``ListenerClosed``), and NIO drops that child too, without closing it (a failed
/// transformation is left to the initializer). A stress test that connects as the drain begins
/// still finds a client left waiting, most likely this case (not confirmed; closing the channel
/// in the initializer instead made that test's server never stop, not understood yet).
final class AcceptedConnections<Connection: Sendable>: Sendable {
    struct ListenerClosed: Error {}

    private struct State {
        var open = true
        var waiting: [ObjectIdentifier: Connection] = [:]
    }

    private let state = Mutex(State())

    /// An initializer built `connection` for `channel`; throws when the accept loop has ended (the
    /// channel is then left as NIO leaves it: see above).
    func accepted(_ connection: Connection, on channel: any Channel) throws {
        try self.state.withLock { state in
            guard state.open else { throw ListenerClosed() }
            state.waiting[ObjectIdentifier(channel)] = connection
        }
    }

    /// The accept loop received the connection of `channel`: its task will run it.
    func arrived(on channel: any Channel) {
        self.state.withLock { _ = $0.waiting.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// The accept loop has ended: the connections it never received, for the server to run; any
    /// initializer from now on fails.
    func closeAndTakeLeftOvers() -> [Connection] {
        self.state.withLock { state in
            state.open = false
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
    }
}
