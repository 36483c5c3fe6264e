internal import FlexCodec

/// A connection, of either door, as the server's drain reaches it (from any thread).
protocol DrainableConnection: Sendable {
    /// The connection's identity in the server's registry.
    var id: ObjectIdentifier { get }
    /// The server is draining: take no new call, close once the calls running have ended.
    func beginDrain()
    /// The drain's grace period is over: stop every call still running with `status`.
    func stopAllCalls(_ status: Status)
}

/// A door's connection handler that drains (on its event loop).
protocol DrainingWriter: CallWriter {
    func beginDrain()
    func stopAllCalls(_ status: Status)
}

extension LoopBoundDoor: DrainableConnection where Writer: DrainingWriter {
    func beginDrain() { self.execute { $0.beginDrain() } }
    func stopAllCalls(_ status: Status) { self.execute { $0.stopAllCalls(status) } }
}
