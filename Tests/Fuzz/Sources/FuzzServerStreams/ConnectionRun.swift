import FlexCodec
import FlexCore
import Logging
import NIOCore
import NIOEmbedded
import Synchronization

@testable import FlexServer

/// One fuzz run: a FlexServer connection (the pipeline `FlexServer` builds for every accepted
/// connection, and the connection's task that runs its calls) on an `EmbeddedChannel`, driven by a
/// ``ClientScript``.
///
/// Everything runs on this thread: the channel's event loop is an `EmbeddedEventLoop`, and the
/// connection's task and its calls' tasks prefer it as their executor (as they prefer the real
/// event loop in flexd), so running the loop runs them too. A run is deterministic, and time moves
/// only when the script says so.
final class ConnectionRun {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let server: FlexServer
    let service = FuzzService()
    let limits: ResolvedLimits
    private let taskEnded = EndFlag()
    private var checker: ServerOutputChecker
    /// The size of the last read, which the handler's buffer may hold on top of one frame.
    private var lastRead = 0

    init(configuration: FlexServer.Configuration, clientMaxMessageSize: Int) throws {
        self.limits = configuration.connection.limits
        self.server = FlexServer(
            configuration: configuration,
            service: self.service,
            tenants: .open,
            logger: Logger(label: "fuzz") { _ in SecretCheckingLogHandler() }
        )
        self.channel = EmbeddedChannel(loop: self.loop)
        self.checker = ServerOutputChecker(maxMessageSize: clientMaxMessageSize)
        let connection = try self.server.connection(on: self.channel)
        let shared = self.server.shared
        let ended = self.taskEnded
        Task(executorPreference: EventLoopTaskExecutor(self.loop)) {
            await connection.run(shared)
            ended.set()
        }
        self.channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 7400), promise: nil)
        self.settle()
    }

    var isOpen: Bool { self.channel.isActive }

    private var handler: ServerConnectionHandler? {
        try? self.channel.pipeline.syncOperations.handler(type: ServerConnectionHandler.self)
    }

    func deliver(_ bytes: ByteBuffer) {
        guard self.isOpen, bytes.readableBytes > 0 else { return }
        self.lastRead = bytes.readableBytes
        // An error caught by the pipeline is the handler's to deal with (it closes the connection).
        _ = try? self.channel.writeInbound(bytes)
        self.settle()
    }

    func advanceTime() {
        self.loop.advanceTime(by: .seconds(1))
        self.settle()
    }

    func disconnect() {
        self.channel.close(promise: nil)
        self.settle()
    }

    /// Runs the loop until nothing is left to do now, and reads what the server wrote.
    private func settle() {
        for _ in 0..<4 { self.loop.run() }
        while var bytes = self.readOutbound() { self.checker.receive(&bytes) }
        self.checkBounded()
    }

    private func readOutbound() -> ByteBuffer? {
        do {
            return try self.channel.readOutbound(as: ByteBuffer.self)
        } catch {
            fatalError("the server wrote something other than bytes: \(error)")
        }
    }

    /// While the connection is open, its state is bounded by the limits it announced.
    private func checkBounded() {
        guard self.isOpen, let handler = self.handler else { return }
        let state = handler.inspection
        let maxStreams = self.limits.maxConcurrentStreams
        require(state.openStreams <= maxStreams, "\(state.openStreams) streams open, over the limit of \(maxStreams)")
        require(state.streams <= maxStreams, "\(state.streams) calls running, over the limit of \(maxStreams)")
        require(state.parked <= state.streams, "\(state.parked) parked frames for \(state.streams) calls")
        require(
            state.awaitingRequest <= state.openStreams,
            "\(state.awaitingRequest) streams wait for a request, \(state.openStreams) are open"
        )
        require(
            state.inboundBytes <= self.limits.maxMessageSize + FrameHeader.size + self.lastRead,
            "\(state.inboundBytes) bytes buffered, more than one frame and one read"
        )
        require(self.service.observed.started - self.service.observed.ended <= maxStreams, "more calls than streams")
    }

    /// The client has gone: the connection must close, every call the service started must have
    /// ended, the connection's task must have returned, and the server must hold nothing for it.
    func finish() {
        if self.isOpen { self.disconnect() }
        _ = try? self.channel.finish(acceptAlreadyClosed: true)
        self.settle()
        let counts = self.service.observed
        if tracing { print("end: \(counts.started) calls started, \(counts.ended) ended") }
        require(counts.started == counts.ended, "\(counts.started - counts.ended) calls never ended")
        require(self.taskEnded.isSet, "the connection's task did not end after the connection closed")
        let shared = self.server.shared
        require(shared.callsRunning == 0, "\(shared.callsRunning) call slots leaked")
        require(shared.connectionCount == 0, "the closed connection is still registered")
        let timers = shared.timers(for: self.loop).count
        require(timers == 0, "\(timers) deadline timers still armed")
        try? self.loop.syncShutdownGracefully()
    }
}

/// Set once the connection's task has returned.
final class EndFlag: Sendable {
    private let value = Mutex(false)

    func set() { self.value.withLock { $0 = true } }
    var isSet: Bool { self.value.withLock { $0 } }
}
