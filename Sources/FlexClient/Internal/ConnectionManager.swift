import FlexCodec
import Logging
import NIOCore
import NIOPosix

/// Keeps the client's connections: one current connection that takes new calls, and older ones
/// that finish their calls (after a GOAWAY, or when their stream ids ran out). A call that finds no
/// current connection opens a new one, so a lost or draining connection is replaced on demand.
/// It also starts each call's deadline timer and decides which calls are sent again.
///
/// `@unchecked Sendable`: every mutable property is touched only on `loop` (the one event loop all
/// of the client's connections and calls live on); the public API reaches it through
/// `loop.execute`.
final class ConnectionManager: @unchecked Sendable {
    private enum State {
        case running
        case closing([EventLoopPromise<Void>])
        case closed
    }

    let loop: any EventLoop
    /// The deadlines of the client's calls and connections, on `loop`.
    let timers: DeadlineTimers
    private let host: String
    private let port: Int
    private let configuration: FlexClient.Configuration
    private let machineConfiguration: ConnectionStateMachine.Configuration
    private let logger: Logger

    private var state = State.running
    private var current: ConnectionHandler?
    private var connections: [ObjectIdentifier: ConnectionHandler] = [:]

    /// A call moves to another connection at most this many times before it is sent (each move
    /// means its connection failed or drained while it waited).
    static let maxReroutes = 8

    init(
        loop: any EventLoop,
        host: String,
        port: Int,
        configuration: FlexClient.Configuration,
        machineConfiguration: ConnectionStateMachine.Configuration,
        logger: Logger
    ) {
        self.loop = loop
        self.timers = DeadlineTimers(on: loop)
        self.host = host
        self.port = port
        self.configuration = configuration
        self.machineConfiguration = machineConfiguration
        self.logger = logger
    }

    // MARK: - Calls

    /// Starts a new call: its deadline timer, then a connection.
    func start(_ call: ClientCall) {
        self.loop.assertInEventLoop()
        guard !call.isFinished else { return }
        if let deadline = call.deadline {
            let timer = DeadlineSignal(timers: self.timers)
            timer.arm(until: deadline) { [self] in
                self.loop.execute { self.cancel(call, error: FlexClient.deadlineError) }
            }
            call.deadlineTimer = timer
        }
        self.dispatch(call)
    }

    /// Cancels a call wherever it is.
    func cancel(_ call: ClientCall, error: FlexClientError) {
        self.loop.assertInEventLoop()
        guard !call.isFinished else { return }
        if let connection = call.connection {
            connection.cancel(call, error: error)
        } else {
            call.failed(error, discardBuffered: true)
        }
    }

    /// The server did not process the call: send it again on a new connection, within the budget.
    func retry(_ call: ClientCall, after error: FlexClientError) {
        self.loop.assertInEventLoop()
        guard !call.isFinished else { return }
        guard case .running = self.state, !call.receivedAnything,
            call.attempts <= self.configuration.maxTransparentRetries
        else {
            call.failed(error, discardBuffered: true)
            return
        }
        self.logger.debug("flexclient: retrying a call the server did not process", metadata: ["call": "\(call.id)"])
        self.dispatch(call)
    }

    /// The call never left a connection that stopped taking calls: put it on another.
    func reroute(_ call: ClientCall) {
        self.loop.assertInEventLoop()
        guard !call.isFinished else { return }
        call.reroutes += 1
        guard call.reroutes <= Self.maxReroutes else {
            call.failed(
                .local(
                    .unavailable,
                    FlexClientError.LocalReason.connectionClosed,
                    "no connection could take the call",
                    isSafeToRetry: true
                ),
                discardBuffered: true
            )
            return
        }
        self.dispatch(call)
    }

    private func dispatch(_ call: ClientCall) {
        guard case .running = self.state else {
            call.failed(FlexClient.closedError, discardBuffered: true)
            return
        }
        let connection: ConnectionHandler
        if let current = self.current, current.isAccepting {
            connection = current
        } else {
            connection = self.connect()
        }
        connection.startCall(call)
    }

    // MARK: - Connections

    private func connect() -> ConnectionHandler {
        let handler = ConnectionHandler(
            loop: self.loop,
            timers: self.timers,
            configuration: self.configuration,
            machine: self.machineConfiguration,
            manager: self,
            logger: self.logger
        )
        self.connections[ObjectIdentifier(handler)] = handler
        self.current = handler
        self.logger.debug("flexclient: connecting", metadata: ["host": "\(self.host)", "port": "\(self.port)"])
        ClientBootstrap(group: self.loop)
            .connectTimeout(TimeAmount(self.configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: self.host, port: self.port)
            .whenFailure { error in
                handler.connectFailed(error)
            }
        return handler
    }

    func connectionStoppedAccepting(_ connection: ConnectionHandler) {
        self.loop.assertInEventLoop()
        if self.current === connection { self.current = nil }
    }

    func connectionClosed(_ connection: ConnectionHandler) {
        self.loop.assertInEventLoop()
        if self.current === connection { self.current = nil }
        self.connections[ObjectIdentifier(connection)] = nil
        if case .closing(let promises) = self.state, self.connections.isEmpty {
            self.state = .closed
            for promise in promises { promise.succeed() }
        }
    }

    /// Stops taking calls and fails every call in flight with `error`; the connections close now.
    func closeNow(error: FlexClientError) {
        self.loop.assertInEventLoop()
        if case .running = self.state { _ = self.close() }
        for connection in Array(self.connections.values) {
            connection.close(graceful: false, error: error)
        }
    }

    /// Stops taking calls; the calls already started finish, then every connection closes. The
    /// future completes once all are closed.
    func close() -> EventLoopFuture<Void> {
        self.loop.assertInEventLoop()
        switch self.state {
        case .closed:
            return self.loop.makeSucceededVoidFuture()
        case .closing(var promises):
            let promise = self.loop.makePromise(of: Void.self)
            promises.append(promise)
            self.state = .closing(promises)
            return promise.futureResult
        case .running:
            self.current = nil
            guard !self.connections.isEmpty else {
                self.state = .closed
                return self.loop.makeSucceededVoidFuture()
            }
            let promise = self.loop.makePromise(of: Void.self)
            self.state = .closing([promise])
            for connection in Array(self.connections.values) {
                connection.close(graceful: true, error: FlexClient.closedError)
            }
            return promise.futureResult
        }
    }
}
