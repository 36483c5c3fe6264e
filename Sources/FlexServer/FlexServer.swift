public import FlexCodec
public import Logging
public import NIOCore
internal import NIOHTTP1
internal import NIOPosix
public import ServiceLifecycle

/// flexd's TCP server: accepts connections speaking Proto/PROTOCOL.md and serves each call with an
/// `InferenceService` — any: it knows nothing of the router behind it.
///
/// It is a swift-service-lifecycle `Service`: ``run()`` serves until the service group shuts down
/// gracefully (SIGTERM/SIGINT in flexd), which starts a drain: ``isReady`` turns false at once; after
/// ``Configuration/drainDelay`` (serving as usual meanwhile, so a balancer that health-checks
/// readiness moves new connections elsewhere first) no new connections, GOAWAY on every connection,
/// running calls finish within ``Configuration/drainGracePeriod`` and are then stopped with
/// `UNAVAILABLE` `server_shutting_down`; ``run()`` returns once every connection has closed.
///
/// ```swift
/// let server = FlexServer(configuration: .init(host: "127.0.0.1", port: 7400),
///                         service: router, tenants: .open, logger: logger)
/// try await ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
public final class FlexServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The protocol limits announced in HELLO, compression, ping abuse.
        public var connection: ServerConnectionStateMachine.Configuration
        /// Connections open at once; more are sent GOAWAY `too_many_connections` and closed.
        public var maxConnections: Int
        /// Calls running at once over all connections; more are refused with `server_busy`.
        public var maxCallsInFlight: Int
        /// Time for a new connection to send its preface and HELLO, and for a call to send its
        /// request MESSAGE after its HEADERS.
        public var handshakeTimeout: Duration
        /// A connection with no call and no frame for this long is closed (GOAWAY `idle_timeout`).
        public var idleTimeout: Duration
        /// The longest a call may run, whatever deadline it asks for.
        public var maxCallDuration: Duration
        /// How long a graceful drain lets running calls finish.
        public var drainGracePeriod: Duration
        /// How long a drain keeps serving after ``FlexServer/isReady`` turned false and before it
        /// stops accepting and sends GOAWAY: the time a balancer that health-checks readiness needs
        /// to stop sending new connections here (its check interval times its failure count).
        /// Default: zero (GOAWAY at once).
        public var drainDelay: Duration
        /// The HTTP door for the providers' SDKs, or nil for none.
        public var http: HTTPDoorConfiguration?
        /// Called after every ``releaseMemoryEvery`` closed connections, and after each burst of
        /// calls (``releaseMemoryAfterCallBurst``), on the thread that ended the connection or call:
        /// it must not block. `flexd serve` gives the memory malloc keeps after connection churn
        /// or a burst back to the system there (glibc's `malloc_trim`, on another thread).
        public var releaseMemory: (@Sendable () -> Void)?
        /// How many closed connections between two ``releaseMemory`` calls.
        public var releaseMemoryEvery = 256
        /// A burst: at least this many calls in flight at once. When the calls in flight fall to a
        /// quarter of the burst's peak, ``releaseMemory`` is called, once per burst; 0: never.
        public var releaseMemoryAfterCallBurst = 1024

        public init(
            host: String = "127.0.0.1",
            port: Int = 7400,
            connection: ServerConnectionStateMachine.Configuration = .init(),
            maxConnections: Int = 1024,
            maxCallsInFlight: Int = 20_000,
            handshakeTimeout: Duration = .seconds(10),
            idleTimeout: Duration = .seconds(300),
            maxCallDuration: Duration = .seconds(3600),
            drainGracePeriod: Duration = .seconds(30),
            drainDelay: Duration = .zero,
            http: HTTPDoorConfiguration? = nil
        ) {
            self.host = host
            self.port = port
            self.connection = connection
            self.maxConnections = maxConnections
            self.maxCallsInFlight = maxCallsInFlight
            self.handshakeTimeout = handshakeTimeout
            self.idleTimeout = idleTimeout
            self.maxCallDuration = maxCallDuration
            self.drainGracePeriod = drainGracePeriod
            self.drainDelay = drainDelay
            self.http = http
        }
    }

    /// The HTTP door: where it listens, and what it bounds.
    public struct HTTPDoorConfiguration: Sendable {
        public var host: String
        public var port: Int
        /// The largest request body accepted; a larger one is answered 413 `request_too_large`.
        public var maxBodyBytes: Int
        /// From a request's first byte to its last: longer is answered 408 `request_timeout` (and
        /// a client that sends its head byte by byte cannot hold a connection longer).
        public var requestTimeout: Duration
        /// A keep-alive connection with no request for this long is closed.
        public var keepAliveTimeout: Duration

        public init(
            host: String = "127.0.0.1",
            port: Int = 7402,
            maxBodyBytes: Int = 16 * 1024 * 1024,
            requestTimeout: Duration = .seconds(30),
            keepAliveTimeout: Duration = .seconds(60)
        ) {
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.requestTimeout = requestTimeout
            self.keepAliveTimeout = keepAliveTimeout
        }
    }

    public struct ConfigurationError: Error, CustomStringConvertible {
        public var description: String
    }

    let shared: ServerShared
    let logger: Logger
    /// The service's models, for the HTTP door's listing.
    let models: ModelDirectory
    private let bound = OneShotSignal<Result<SocketAddress, BindFailure>>()
    private let httpBound = OneShotSignal<Result<SocketAddress?, BindFailure>>()
    /// Set when a graceful shutdown starts.
    private let drainRequested = OneShotSignal<Void>()

    struct BindFailure: Error {
        var description: String
    }

    /// - Parameters:
    ///   - configuration: Where to listen, limits, timeouts.
    ///   - service: What answers calls (flexd's router).
    ///   - tenants: The API keys and their tenants, or ``TenantDirectory/open``.
    ///   - recorder: Keeps each call's savings record before its final frame is sent (flexd's
    ///     savings ledger); nil keeps none.
    ///   - logger: The server's logger; calls add their request id, tenant and stream.
    public init(
        configuration: Configuration,
        service: any InferenceService,
        tenants: TenantDirectory,
        recorder: (any SavingsRecorder)? = nil,
        logger: Logger
    ) {
        self.shared = ServerShared(
            configuration: configuration,
            service: service,
            tenants: tenants,
            recorder: recorder,
            metrics: ServerMetrics()
        )
        self.models = ModelDirectory(service: service)
        self.logger = logger
    }

    /// The address the server listens on, once it does (useful with port 0).
    public func listeningAddress() async throws -> SocketAddress {
        guard let result = await self.bound.wait() else { throw CancellationError() }
        return try result.mapError { ConfigurationError(description: $0.description) }.get()
    }

    /// The address the HTTP door listens on, once it does; nil when it is off.
    public func httpListeningAddress() async throws -> SocketAddress? {
        guard let result = await self.httpBound.wait() else { throw CancellationError() }
        return try result.mapError { ConfigurationError(description: $0.description) }.get()
    }

    /// True once the server listens, until a drain starts.
    public var isReady: Bool {
        self.bound.isSignalled && !self.drainRequested.isSignalled
    }

    /// Connections open now, through either door.
    public var connectionCount: Int { self.shared.connectionCount }

    /// Calls running now (each holds one of ``Configuration/maxCallsInFlight``'s slots).
    public var callsInFlight: Int { self.shared.callsRunning }

    /// Starts a graceful drain (also started by the service group's graceful shutdown).
    public func beginGracefulShutdown() {
        guard !self.drainRequested.isSignalled else { return }
        self.logger.info("draining", metadata: ["calls_in_flight": "\(self.shared.callsRunning)"])
        self.drainRequested.signal(())
    }

    public func run() async throws {
        let configuration = self.shared.configuration
        for host in [configuration.host] + (configuration.http.map { [$0.host] } ?? [])
        where self.shared.tenants.isOpen && !Self.isLoopback(host) {
            let error = ConfigurationError(
                description:
                    "without a keys file flexd serves only on loopback; \(host) is not a loopback address (pass --keys FILE)"
            )
            self.bound.signal(.failure(BindFailure(description: error.description)))
            self.httpBound.signal(.failure(BindFailure(description: error.description)))
            throw error
        }
        let serverChannel: any Channel
        let binary: AcceptedConnections<ServerConnection>
        do {
            (serverChannel, binary) = try await AcceptedConnections.listen(
                host: configuration.host,
                port: configuration.port
            ) { channel in try self.connection(on: channel) }
        } catch {
            let message = "cannot listen on \(configuration.host):\(configuration.port): \(error)"
            self.bound.signal(.failure(BindFailure(description: message)))
            self.httpBound.signal(.failure(BindFailure(description: message)))
            throw ConfigurationError(description: message)
        }
        guard let address = serverChannel.localAddress else {
            try? await serverChannel.close()
            throw ConfigurationError(description: "the listening socket has no address")
        }
        self.bound.signal(.success(address))
        self.logger.info(
            "listening",
            metadata: [
                "address": "\(address)", "tenants": "\(self.shared.tenants.isOpen ? "open (anonymous)" : "keys file")",
            ]
        )

        let http: (any Channel, AcceptedConnections<HTTPDoorConnection>)?
        do {
            http = try await self.bindHTTPDoor()
        } catch {
            try? await serverChannel.close()
            throw error
        }
        let listeners = [serverChannel] + (http.map { [$0.0] } ?? [])

        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.drainWhenAsked(listeners) }
                if let (listener, door) = http {
                    group.addTask { await self.serve(door, from: listener) }
                }
                await self.serve(binary, from: serverChannel)
            }
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
        self.logger.info("stopped")
    }

    /// A new connection: its handler in the channel's pipeline, its task's end of the calls.
    /// Internal rather than private: the FuzzServerStreams fuzz target (Tests/Fuzz) builds the same
    /// pipeline on an `EmbeddedChannel`.
    func connection(on channel: any Channel) throws -> ServerConnection {
        let (calls, callStarts) = AsyncStream.makeStream(of: ServerCall.self)
        let timers = self.shared.timers(for: channel.eventLoop)
        let handler = ServerConnectionHandler(
            shared: self.shared,
            timers: timers,
            callStarts: callStarts,
            logger: self.logger
        )
        try channel.pipeline.syncOperations.addHandlers(WriteCoalescingHandler(), handler)
        return ServerConnection(channel: channel, calls: calls, timers: timers)
    }

    /// Binds the HTTP door, when configured: each connection's pipeline is the write coalescer, the
    /// byte observer, NIO's HTTP/1.1 server handlers (pipelining held back, protocol errors
    /// answered 400) and the door.
    private func bindHTTPDoor() async throws -> (any Channel, AcceptedConnections<HTTPDoorConnection>)? {
        guard let door = self.shared.configuration.http else {
            self.httpBound.signal(.success(nil))
            return nil
        }
        let listening: (any Channel, AcceptedConnections<HTTPDoorConnection>)
        do {
            listening = try await AcceptedConnections.listen(host: door.host, port: door.port) { channel in
                try self.httpConnection(on: channel, door)
            }
        } catch {
            let message = "cannot listen on \(door.host):\(door.port) (HTTP door): \(error)"
            self.httpBound.signal(.failure(BindFailure(description: message)))
            throw ConfigurationError(description: message)
        }
        self.httpBound.signal(.success(listening.0.localAddress))
        self.logger.info(
            "HTTP door listening",
            metadata: ["address": "\(listening.0.localAddress?.description ?? "?")"]
        )
        return listening
    }

    /// Runs each connection `listener` accepts in a task of its own on the connection's event loop,
    /// until the listener has closed (a drain) or this task is cancelled, and every connection has
    /// ended. Accepting has then stopped: the listener is closed and a drain begins.
    private func serve<Connection: ServedConnection>(
        _ accepted: AcceptedConnections<Connection>,
        from listener: any Channel
    ) async {
        await withDiscardingTaskGroup { group in
            for await connection in accepted.connections {
                group.addTask(executorPreference: EventLoopTaskExecutor(connection.channel.eventLoop)) {
                    await connection.run(self.shared)
                }
            }
            listener.close(promise: nil)
            self.beginGracefulShutdown()
        }
    }

    private func httpConnection(
        on channel: any Channel,
        _ configuration: HTTPDoorConfiguration
    ) throws -> HTTPDoorConnection {
        let (calls, callStarts) = AsyncStream.makeStream(of: ServerCall.self)
        let timers = self.shared.timers(for: channel.eventLoop)
        let door = HTTPDoorHandler(
            shared: self.shared,
            configuration: configuration,
            timers: timers,
            callStarts: callStarts,
            models: self.models,
            logger: self.logger
        )
        try channel.pipeline.syncOperations.addHandlers(WriteCoalescingHandler(), HTTPDoorBytesObserver(door: door))
        // No outbound header validation (a scan of every header byte on every answer): the door
        // writes only its own headers, whose values are names, numbers, the request id the
        // client's own parsed header carried, and JSON whose writer escapes every control byte.
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: true,
            withErrorHandling: true,
            withOutboundHeaderValidation: false
        )
        try channel.pipeline.syncOperations.addHandler(door)
        return HTTPDoorConnection(channel: channel, calls: calls, timers: timers)
    }

    /// Waits for a graceful shutdown (``isReady`` is false from then on), serves on for the drain
    /// delay, then drains: stops accepting, sends every connection GOAWAY (the HTTP door:
    /// `Connection: close` on its answers), waits for them to close for the grace period, then
    /// stops the calls still running.
    private func drainWhenAsked(_ listeners: [any Channel]) async {
        guard await self.drainRequested.wait() != nil else { return }
        let delay = self.shared.configuration.drainDelay
        if delay > .zero {
            self.logger.info("not ready: draining after the drain delay", metadata: ["drain_delay": "\(delay)"])
            // Cancellation (the service group giving up) cuts the delay short; the drain goes on.
            try? await Task.sleep(for: delay)
        }
        for listener in listeners { listener.close(promise: nil) }
        guard let listener = listeners.first else { return }
        let drained = DeadlineSignal(timers: self.shared.timers(for: listener.eventLoop))
        self.shared.beginDrain(signalling: drained)
        if await drained.wait(until: .now + self.shared.configuration.drainGracePeriod) {
            self.logger.info(
                "drain grace period over: stopping the calls still running",
                metadata: ["calls_in_flight": "\(self.shared.callsRunning)"]
            )
            self.shared.stopAllCalls()
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
