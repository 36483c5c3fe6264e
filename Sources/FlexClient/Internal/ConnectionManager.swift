import FlexCodec
import Logging
import Metrics
import NIOCore
import NIOPosix

/// The client's connection pool: every endpoint's addresses (``Backend``), the connections to each,
/// and the calls waiting for a free stream. It decides where each call goes:
///
/// - to the connection with the most free streams (connections still connecting count with the
///   protocol's default limit), starting the scan at a rotating address so that equal connections
///   take turns: calls spread over the endpoints by load;
/// - every reachable address gets a connection as soon as the client is used, and another one when
///   all of its connections are at the server's `max_concurrent_streams`, up to
///   ``FlexClient/Configuration/maxConnectionsPerEndpoint``;
/// - past that, the call waits in a bounded queue (``FlexClient/Configuration/maxQueuedCalls``) and
///   starts when a stream frees; a full queue refuses it (`too_many_pending_calls`);
/// - an address whose connection fails before its handshake is not tried again for a backoff
///   (exponential, with jitter); its waiting calls go elsewhere; when no address is reachable, a
///   call waits for the next attempts and fails with UNAVAILABLE once every address was tried
///   since it started and failed;
/// - a call the server did not process (above a GOAWAY's `last_stream_id`, or refused with
///   `too_many_streams` or `server_busy`) is sent again, on another address when there is one.
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

    /// An endpoint as configured, and the addresses it resolved to.
    private struct Target {
        let endpoint: FlexClient.Endpoint
        /// An IP address: one backend, never resolved.
        let isLiteral: Bool
        var backends: [Backend] = []
        var resolvedAt: NIODeadline?
        var resolving = false
    }

    let loop: any EventLoop
    /// The deadlines of the client's calls and connections, on `loop`.
    let timers: DeadlineTimers
    private let configuration: FlexClient.Configuration
    private let machineConfiguration: ConnectionStateMachine.Configuration
    private let logger: Logger

    private var state = State.running
    private var targets: [Target]
    /// Every address of every target, in the targets' order.
    private var backends: [Backend] = []
    private var connections: [ObjectIdentifier: ConnectionHandler] = [:]
    private var pending = PendingCalls()
    /// Where the next scan over the addresses starts.
    private var rotation = 0
    /// Why the last connection attempt or resolution failed: what calls fail with when no address
    /// is reachable.
    private var lastFailure: FlexClientError?
    /// A wake-up for the waiting calls when the first address's backoff ends.
    private var scheduledDrain: (at: NIODeadline, task: Scheduled<Void>)?

    private var resentCalls = 0
    private var failedConnects = 0
    private var rejectedCalls = 0
    private let queuedGauge: Gauge
    private let rejectedCounter: Counter
    private let resentCounter: Counter
    private let connectFailureCounter: Counter

    /// A call moves to another connection at most this many times before it is sent (each move
    /// means its connection failed or drained while it waited).
    static let maxReroutes = 8

    init(
        loop: any EventLoop,
        endpoints: [FlexClient.Endpoint],
        configuration: FlexClient.Configuration,
        machineConfiguration: ConnectionStateMachine.Configuration,
        logger: Logger
    ) {
        self.loop = loop
        self.timers = DeadlineTimers(on: loop)
        self.configuration = configuration
        self.machineConfiguration = machineConfiguration
        self.logger = logger
        var targets: [Target] = []
        for endpoint in endpoints where !targets.contains(where: { $0.endpoint == endpoint }) {
            if let address = EndpointResolver.literal(endpoint) {
                targets.append(
                    Target(
                        endpoint: endpoint,
                        isLiteral: true,
                        backends: [Backend(address: address, endpoint: endpoint)]
                    )
                )
            } else {
                targets.append(Target(endpoint: endpoint, isLiteral: false))
            }
        }
        self.targets = targets
        self.backends = targets.flatMap(\.backends)
        let dimensions = [("client", configuration.metricsLabel)]
        self.queuedGauge = Gauge(label: "flexclient_calls_queued", dimensions: dimensions)
        self.rejectedCounter = Counter(
            label: "flexclient_calls_rejected_total",
            dimensions: dimensions + [("reason", FlexClientError.LocalReason.tooManyPendingCalls)]
        )
        self.resentCounter = Counter(label: "flexclient_calls_resent_total", dimensions: dimensions)
        self.connectFailureCounter = Counter(label: "flexclient_connect_failures_total", dimensions: dimensions)
    }

    // MARK: - Calls

    /// Starts a new call: its deadline timer, then a connection.
    func start(_ call: ClientCall) {
        self.loop.assertInEventLoop()
        guard !call.isFinished else { return }
        call.startedAt = .now()
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
            if call.queuedInPool {
                self.pending.remove(call)
                self.queuedGauge.record(self.pending.count)
            }
            call.failed(error, discardBuffered: true)
        }
    }

    /// The server did not process the call: send it again (elsewhere when possible), within the
    /// budget.
    func retry(_ call: ClientCall, after error: FlexClientError) {
        self.loop.assertInEventLoop()
        guard !call.isFinished else { return }
        guard case .running = self.state, !call.receivedAnything,
            call.attempts <= self.configuration.maxTransparentRetries
        else {
            call.failed(error, discardBuffered: true)
            return
        }
        self.resentCalls += 1
        self.resentCounter.increment()
        self.logger.debug(
            "flexclient: sending again a call the server did not process",
            metadata: ["call": "\(call.id)", "error_code": "\(error.status.errorCode)"]
        )
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
        if self.pending.isEmpty, self.place(call, now: .now()) { return }
        self.enqueue(call)
    }

    /// Hands the call to a connection that can start it now, opening one if needed and allowed.
    /// False when every connection is full and no new one may be opened.
    private func place(_ call: ClientCall, now: NIODeadline) -> Bool {
        self.resolveIfDue(now: now)
        self.connectIdleBackends(now: now)
        let avoid = call.avoid
        if let connection = self.connectionWithMostSlots(avoiding: avoid)
            ?? self.newConnection(now: now, avoiding: avoid)
            ?? (avoid == nil
                ? nil : self.connectionWithMostSlots(avoiding: nil) ?? self.newConnection(now: now, avoiding: nil))
        {
            call.avoid = nil
            connection.startCall(call)
            return true
        }
        return false
    }

    /// Queues a call no connection can take now, or fails it: when it has nowhere to go, or when
    /// the queue is full.
    private func enqueue(_ call: ClientCall) {
        if self.isHopeless(call, now: .now()) {
            call.failed(self.unreachableError, discardBuffered: true)
            return
        }
        guard self.pending.count < self.configuration.maxQueuedCalls else {
            self.rejectedCalls += 1
            self.rejectedCounter.increment()
            call.failed(Self.queueFull, discardBuffered: true)
            return
        }
        self.pending.append(call)
        self.queuedGauge.record(self.pending.count)
        self.drainPending()
    }

    /// Starts waiting calls, oldest first, while connections can take them; fails those that have
    /// nowhere to go; makes sure a backoff's end wakes the others.
    private func drainPending() {
        guard !self.pending.isEmpty else { return }
        let now = NIODeadline.now()
        while let call = self.pending.popFirst() {
            guard self.place(call, now: now) else {
                self.pending.prepend(call)
                break
            }
        }
        if !self.pending.isEmpty, !self.backends.contains(where: { !$0.accepting.isEmpty }) {
            let error = self.unreachableError
            for call in self.pending.removeAll(where: { self.isHopeless($0, now: now) }) {
                call.failed(error, discardBuffered: true)
            }
        }
        self.queuedGauge.record(self.pending.count)
        if !self.pending.isEmpty { self.wakeWhenABackoffEnds(now: now) }
    }

    // MARK: - Choosing a connection

    /// The accepting connection with the most free streams, scanning from a rotating address so
    /// that ties take turns; nil when none has a free stream.
    private func connectionWithMostSlots(avoiding avoid: Backend?) -> ConnectionHandler? {
        let count = self.backends.count
        guard count > 0 else { return nil }
        let start = self.rotation % count
        self.rotation &+= 1
        var best: ConnectionHandler?
        var bestSlots = 0
        for offset in 0..<count {
            let backend = self.backends[(start + offset) % count]
            let connections = backend.accepting.count
            if backend === avoid || connections == 0 { continue }
            let first = self.rotation % connections
            for index in 0..<connections {
                let connection = backend.accepting[(first + index) % connections]
                let slots = connection.availableSlots
                if slots > bestSlots {
                    best = connection
                    bestSlots = slots
                }
            }
        }
        return best
    }

    /// A new connection to the reachable address with the fewest, if one may have another.
    private func newConnection(now: NIODeadline, avoiding avoid: Backend?) -> ConnectionHandler? {
        var chosen: Backend?
        for backend in self.backends
        where backend !== avoid
            && backend.mayConnect(now: now, maxConnections: self.configuration.maxConnectionsPerEndpoint)
        {
            if chosen == nil || backend.accepting.count < chosen!.accepting.count { chosen = backend }
        }
        return chosen.map { self.connect($0) }
    }

    /// Every reachable address gets its minimum of connections: calls then spread over all of
    /// them, and an address back from a failure is tried again as soon as its backoff is over.
    private func connectIdleBackends(now: NIODeadline) {
        let minimum = self.configuration.minConnectionsPerEndpoint
        for backend in self.backends where backend.accepting.count < minimum {
            while backend.accepting.count < minimum, backend.mayConnect(now: now, maxConnections: minimum) {
                _ = self.connect(backend)
            }
        }
    }

    /// The call has nowhere to go: no connection takes calls, no resolution is under way, and
    /// every address failed a connection attempt made since the call started and waits out its
    /// backoff. A call that started after an address's last failure waits for its next attempt (an
    /// instance that was restarting is often back by then), so a call fails only once every
    /// address was tried for it.
    private func isHopeless(_ call: ClientCall, now: NIODeadline) -> Bool {
        guard !self.targets.contains(where: \.resolving) else { return false }
        return !self.backends.contains { backend in
            !backend.accepting.isEmpty || backend.isReachable(now: now)
                || (backend.lastFailedAttemptStart.map { $0 < call.startedAt } ?? true)
        }
    }

    private var unreachableError: FlexClientError {
        var error =
            self.lastFailure
            ?? .local(.unavailable, FlexClientError.LocalReason.connectionFailed, "no endpoint is reachable")
        error.isSafeToRetry = true
        if self.backends.count > 1 {
            error.status.message = "no endpoint is reachable; the last failure: \(error.status.message)"
        }
        return error
    }

    private static let queueFull = FlexClientError.local(
        .resourceExhausted,
        FlexClientError.LocalReason.tooManyPendingCalls,
        "too many calls are waiting for a connection (maxQueuedCalls)",
        isSafeToRetry: true
    )

    /// Schedules ``drainPending()`` for when the first address in backoff may be tried again.
    private func wakeWhenABackoffEnds(now: NIODeadline) {
        let next = self.backends.compactMap { backend -> NIODeadline? in
            guard !backend.retired, let retryAt = backend.retryAt, retryAt > now,
                backend.accepting.count < self.configuration.maxConnectionsPerEndpoint
            else { return nil }
            return retryAt
        }.min()
        guard let next else { return }
        if let scheduled = self.scheduledDrain {
            guard next < scheduled.at else { return }
            scheduled.task.cancel()
        }
        let task = self.loop.scheduleTask(deadline: next) { [self] in
            self.scheduledDrain = nil
            self.drainPending()
        }
        self.scheduledDrain = (next, task)
    }

    // MARK: - Resolution

    /// Resolves the host names whose addresses are unknown, old, or all failing.
    private func resolveIfDue(now: NIODeadline) {
        for index in self.targets.indices where !self.targets[index].isLiteral && !self.targets[index].resolving {
            let target = self.targets[index]
            let due: Bool
            if let resolvedAt = target.resolvedAt {
                let age = now - resolvedAt
                let allFailing = !target.backends.isEmpty && !target.backends.contains { $0.isReachable(now: now) }
                due =
                    age >= TimeAmount(self.configuration.resolutionInterval)
                    || (allFailing && age >= .seconds(1))
            } else {
                due = true
            }
            guard due else { continue }
            self.targets[index].resolving = true
            let endpoint = target.endpoint
            EndpointResolver.resolve(endpoint, on: self.loop).whenComplete { [self] result in
                self.resolved(endpoint, result)
            }
        }
    }

    private func resolved(_ endpoint: FlexClient.Endpoint, _ result: Result<[SocketAddress], any Error>) {
        guard let index = self.targets.firstIndex(where: { $0.endpoint == endpoint }) else { return }
        self.targets[index].resolving = false
        self.targets[index].resolvedAt = .now()
        switch result {
        case .success(let addresses):
            let old = self.targets[index].backends
            self.targets[index].backends = addresses.map { address in
                old.first { $0.address == address } ?? Backend(address: address, endpoint: endpoint)
            }
            for backend in old where !addresses.contains(backend.address) {
                // Gone from the name: its connections finish their calls and take no new ones.
                backend.retired = true
                for connection in backend.accepting { connection.close(graceful: true, error: FlexClient.closedError) }
            }
            self.logger.debug(
                "flexclient: resolved",
                metadata: ["endpoint": "\(endpoint)", "addresses": "\(addresses.map { "\($0)" })"]
            )
        case .failure(let error):
            // Keep the addresses known so far: a failing DNS server does not stop working connections.
            self.lastFailure =
                (error as? FlexClientError)
                ?? .local(
                    .unavailable,
                    FlexClientError.LocalReason.resolutionFailed,
                    "cannot resolve \(endpoint.host): \(error)",
                    isSafeToRetry: true
                )
            self.logger.debug("flexclient: resolution failed", metadata: ["endpoint": "\(endpoint)"])
        }
        self.backends = self.targets.flatMap(\.backends)
        guard case .running = self.state else { return }
        self.drainPending()
    }

    // MARK: - Connections

    private func connect(_ backend: Backend) -> ConnectionHandler {
        let handler = ConnectionHandler(
            loop: self.loop,
            backend: backend,
            timers: self.timers,
            configuration: self.configuration,
            machine: self.machineConfiguration,
            manager: self,
            logger: self.logger
        )
        self.connections[ObjectIdentifier(handler)] = handler
        backend.accepting.append(handler)
        self.logger.debug("flexclient: connecting", metadata: ["address": "\(backend)"])
        ClientBootstrap(group: self.loop)
            .connectTimeout(TimeAmount(self.configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(to: backend.address)
            .whenFailure { error in
                handler.connectFailed(error)
            }
        return handler
    }

    /// The connection's handshake finished: its address is reachable again, and new connections
    /// there count on the server's stream limit before their own HELLO.
    func connectionReady(_ connection: ConnectionHandler, streamLimit: Int) {
        self.loop.assertInEventLoop()
        let backend = connection.backend
        backend.streamLimit = streamLimit
        backend.consecutiveFailures = 0
        backend.retryAt = nil
        backend.lastFailedAttemptStart = nil
    }

    /// The connection failed before its handshake: its address waits out a backoff. Its queued
    /// calls are rerouted next (by the connection).
    func connectionFailed(_ connection: ConnectionHandler, _ error: FlexClientError) {
        self.loop.assertInEventLoop()
        let backend = connection.backend
        self.remove(connection, from: backend)
        backend.consecutiveFailures += 1
        let delay = self.configuration.reconnectBackoff.delay(
            afterFailures: backend.consecutiveFailures,
            random: Double.random(in: -1...1)
        )
        backend.retryAt = .now() + TimeAmount(delay)
        backend.lastFailedAttemptStart = max(
            backend.lastFailedAttemptStart ?? connection.startedAt,
            connection.startedAt
        )
        self.lastFailure = error
        self.failedConnects += 1
        self.connectFailureCounter.increment()
        self.logger.debug(
            "flexclient: address unreachable for a backoff",
            metadata: [
                "address": "\(backend)", "failures": "\(backend.consecutiveFailures)", "backoff": "\(delay)",
            ]
        )
        self.drainPending()
    }

    /// A stream ended on the connection, or its handshake finished: waiting calls may start.
    func connectionMayHaveCapacity(_ connection: ConnectionHandler) {
        self.loop.assertInEventLoop()
        guard !self.pending.isEmpty, case .running = self.state else { return }
        self.drainPending()
    }

    func connectionStoppedAccepting(_ connection: ConnectionHandler) {
        self.loop.assertInEventLoop()
        self.remove(connection, from: connection.backend)
    }

    func connectionClosed(_ connection: ConnectionHandler) {
        self.loop.assertInEventLoop()
        self.remove(connection, from: connection.backend)
        self.connections[ObjectIdentifier(connection)] = nil
        if case .closing(let promises) = self.state, self.connections.isEmpty {
            self.state = .closed
            for promise in promises { promise.succeed() }
        }
    }

    private func remove(_ connection: ConnectionHandler, from backend: Backend) {
        if let index = backend.accepting.firstIndex(where: { $0 === connection }) {
            backend.accepting.remove(at: index)
        }
    }

    // MARK: - Statistics

    func statistics() -> FlexClient.Statistics {
        self.loop.assertInEventLoop()
        let now = NIODeadline.now()
        let accepting = Set(self.backends.flatMap { $0.accepting.map(ObjectIdentifier.init) })
        return FlexClient.Statistics(
            addresses: self.backends.count,
            reachableAddresses: self.backends.count { $0.isReachable(now: now) },
            connections: accepting.count,
            drainingConnections: self.connections.count - accepting.count,
            callsOnConnections: self.connections.values.reduce(0) { $0 + $1.callCount },
            queuedCalls: self.pending.count,
            resentCalls: self.resentCalls,
            failedConnects: self.failedConnects,
            rejectedCalls: self.rejectedCalls
        )
    }

    // MARK: - Closing

    /// Stops taking calls and fails every call in flight with `error`; the connections close now.
    func closeNow(error: FlexClientError) {
        self.loop.assertInEventLoop()
        for call in self.pending.removeAll() { call.failed(error, discardBuffered: true) }
        if case .running = self.state { _ = self.close() }
        for connection in Array(self.connections.values) {
            connection.close(graceful: false, error: error)
        }
    }

    /// Stops taking calls; the calls already started finish (the waiting ones join a connection's
    /// queue), then every connection closes. The future completes once all are closed.
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
            self.scheduledDrain?.task.cancel()
            self.scheduledDrain = nil
            let accepting = self.backends.flatMap(\.accepting)
            for (index, call) in self.pending.removeAll().enumerated() {
                if accepting.isEmpty {
                    call.failed(FlexClient.closedError, discardBuffered: true)
                } else {
                    accepting[index % accepting.count].startCall(call)
                }
            }
            self.queuedGauge.record(0)
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
