public import FlexCodec
public import Logging
public import NIOCore
internal import NIOPosix
public import ServiceLifecycle

/// flexd's TCP server: accepts connections speaking Proto/PROTOCOL.md and serves each call with an
/// `InferenceService` — any: it knows nothing of the router behind it.
///
/// It is a swift-service-lifecycle `Service`: ``run()`` serves until the service group shuts down
/// gracefully (SIGTERM/SIGINT in flexd), which starts a drain: no new connections, GOAWAY on every
/// connection, running calls finish within ``Configuration/drainGracePeriod`` and are then stopped
/// with `UNAVAILABLE` `server_shutting_down`; ``run()`` returns once every connection has closed.
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
        /// Time for a new connection to send its preface and HELLO.
        public var handshakeTimeout: Duration
        /// A connection with no call and no frame for this long is closed (GOAWAY `idle_timeout`).
        public var idleTimeout: Duration
        /// The longest a call may run, whatever deadline it asks for.
        public var maxCallDuration: Duration
        /// How long a graceful drain lets running calls finish.
        public var drainGracePeriod: Duration

        public init(
            host: String = "127.0.0.1",
            port: Int = 7400,
            connection: ServerConnectionStateMachine.Configuration = .init(),
            maxConnections: Int = 1024,
            maxCallsInFlight: Int = 20_000,
            handshakeTimeout: Duration = .seconds(10),
            idleTimeout: Duration = .seconds(300),
            maxCallDuration: Duration = .seconds(3600),
            drainGracePeriod: Duration = .seconds(30)
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
        }
    }

    public struct ConfigurationError: Error, CustomStringConvertible {
        public var description: String
    }

    let shared: ServerShared
    let logger: Logger
    private let bound = OneShotSignal<Result<SocketAddress, BindFailure>>()
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
        self.logger = logger
    }

    /// The address the server listens on, once it does (useful with port 0).
    public func listeningAddress() async throws -> SocketAddress {
        guard let result = await self.bound.wait() else { throw CancellationError() }
        return try result.mapError { ConfigurationError(description: $0.description) }.get()
    }

    /// True once the server listens, until a drain starts.
    public var isReady: Bool {
        self.bound.isSignalled && !self.drainRequested.isSignalled
    }

    /// Starts a graceful drain (also started by the service group's graceful shutdown).
    public func beginGracefulShutdown() {
        guard !self.drainRequested.isSignalled else { return }
        self.logger.info("draining", metadata: ["calls_in_flight": "\(self.shared.callsRunning)"])
        self.drainRequested.signal(())
    }

    public func run() async throws {
        let configuration = self.shared.configuration
        if self.shared.tenants.isOpen, !Self.isLoopback(configuration.host) {
            let error = ConfigurationError(
                description:
                    "without a keys file flexd serves only on loopback; \(configuration.host) is not a loopback address (pass --keys FILE)"
            )
            self.bound.signal(.failure(BindFailure(description: error.description)))
            throw error
        }
        let serverChannel: NIOAsyncChannel<ServerConnection, Never>
        do {
            serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: false)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try self.connection(on: channel)
                    }
                }
        } catch {
            let message = "cannot listen on \(configuration.host):\(configuration.port): \(error)"
            self.bound.signal(.failure(BindFailure(description: message)))
            throw ConfigurationError(description: message)
        }
        guard let address = serverChannel.channel.localAddress else {
            throw ConfigurationError(description: "the listening socket has no address")
        }
        self.bound.signal(.success(address))
        self.logger.info(
            "listening",
            metadata: [
                "address": "\(address)", "tenants": "\(self.shared.tenants.isOpen ? "open (anonymous)" : "keys file")",
            ]
        )

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    await self.drainWhenAsked(serverChannel.channel)
                }
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask(executorPreference: EventLoopTaskExecutor(connection.channel.eventLoop)) {
                            await connection.run(self.shared)
                        }
                    }
                }
                // Accepting has stopped (a drain, or cancellation): connections finish on their own.
                self.beginGracefulShutdown()
            }
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
        self.logger.info("stopped")
    }

    /// A new connection: its handler in the channel's pipeline, its task's end of the calls.
    private func connection(on channel: any Channel) throws -> ServerConnection {
        let (calls, callStarts) = AsyncStream.makeStream(of: ServerCall.self)
        let timers = self.shared.timers(for: channel.eventLoop)
        let handler = ServerConnectionHandler(
            shared: self.shared,
            timers: timers,
            callStarts: callStarts,
            logger: self.logger
        )
        try channel.pipeline.syncOperations.addHandler(handler)
        return ServerConnection(channel: channel, calls: calls, timers: timers)
    }

    /// Waits for a graceful shutdown, then drains: stops accepting, sends every connection GOAWAY,
    /// waits for them to close for the grace period, then stops the calls still running.
    private func drainWhenAsked(_ listener: any Channel) async {
        guard await self.drainRequested.wait() != nil else { return }
        listener.close(promise: nil)
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
