internal import Atomics
internal import FlexCodec
public import Logging
internal import NIOConcurrencyHelpers
public import NIOCore
internal import NIOPosix
public import ServiceLifecycle

/// flexd's TCP server: accepts connections speaking Proto/PROTOCOL.md and serves each call with an
/// ``InferenceService`` (the router).
///
/// It is a swift-service-lifecycle `Service`: ``run()`` serves until the service group shuts down
/// gracefully (SIGTERM/SIGINT in flexd), which starts a drain: no new connections, GOAWAY on every
/// connection, running calls finish within ``Configuration/drainGracePeriod`` and are then stopped
/// with `UNAVAILABLE` `server_shutting_down`; ``run()`` returns once every connection has closed.
///
/// ```swift
/// let server = FlexServer(configuration: .init(host: "127.0.0.1", port: 7400),
///                         service: RouterService(router: router), tenants: .open, logger: logger)
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

    struct BindFailure: Error {
        var description: String
    }

    /// - Parameters:
    ///   - configuration: Where to listen, limits, timeouts.
    ///   - service: What answers calls (``RouterService`` in flexd).
    ///   - tenants: The API keys and their tenants, or ``TenantDirectory/open``.
    ///   - recorder: Keeps each call's savings record before its final frame is sent (flexd's
    ///     savings ledger); nil keeps none.
    ///   - logger: The server's logger; calls add their request id, tenant and stream.
    public init(configuration: Configuration, service: any InferenceService, tenants: TenantDirectory,
                recorder: (any SavingsRecorder)? = nil, logger: Logger) {
        self.shared = ServerShared(configuration: configuration, service: service, tenants: tenants, recorder: recorder,
                                   metrics: ServerMetrics())
        self.logger = logger
    }

    /// The address the server listens on, once it does (useful with port 0).
    public func listeningAddress() async throws -> SocketAddress {
        guard let result = await self.bound.wait() else { throw CancellationError() }
        return try result.mapError { ConfigurationError(description: $0.description) }.get()
    }

    /// True once the server listens, until a drain starts.
    public var isReady: Bool {
        self.bound.isSignalled && !self.shared.draining.isSignalled
    }

    /// Starts a graceful drain (also started by the service group's graceful shutdown).
    public func beginGracefulShutdown() {
        guard !self.shared.draining.isSignalled else { return }
        self.logger.info("draining", metadata: ["calls_in_flight": "\(self.shared.callsRunning)"])
        self.shared.draining.signal(())
    }

    public func run() async throws {
        let configuration = self.shared.configuration
        if self.shared.tenants.isOpen, !Self.isLoopback(configuration.host) {
            let error = ConfigurationError(description:
                "without a keys file flexd serves only on loopback; \(configuration.host) is not a loopback address (pass --keys FILE)")
            self.bound.signal(.failure(BindFailure(description: error.description)))
            throw error
        }
        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: false)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
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
        self.logger.info("listening", metadata: ["address": "\(address)", "tenants": "\(self.shared.tenants.isOpen ? "open (anonymous)" : "keys file")"])

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                // Stops accepting when the drain starts, and stops calls when the grace period ends.
                group.addTask {
                    guard await self.shared.draining.wait() != nil else { return }
                    serverChannel.channel.close(promise: nil)
                    // Wait for the connections to finish their calls, at most the grace period.
                    let end = ContinuousClock.now + configuration.drainGracePeriod
                    while ContinuousClock.now < end, self.shared.connections.load(ordering: .relaxed) > 0 {
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    self.shared.stopping.signal(())
                }
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        // The connection's tasks run on its event loop (EventLoopTaskExecutor).
                        group.addTask(executorPreference: EventLoopTaskExecutor(connection.channel.eventLoop)) {
                            await self.serve(connection)
                        }
                    }
                }
                // Accepting has stopped (drain, or cancellation); connections finish on their own.
                if !self.shared.draining.isSignalled { self.shared.draining.signal(()) }
            }
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
        self.logger.info("stopped")
    }

    private func serve(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let count = self.shared.connections.wrappingIncrementThenLoad(ordering: .relaxed)
        defer {
            let now = self.shared.connections.wrappingDecrementThenLoad(ordering: .relaxed)
            self.shared.metrics.connections(now)
        }
        self.shared.metrics.connections(count)
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(channel.channel.remoteAddress?.description ?? "?")"
        guard count <= self.shared.configuration.maxConnections else {
            await Self.refuse(channel, GoAway(lastStreamID: .connection, code: .resourceExhausted,
                                              message: "the server has \(self.shared.configuration.maxConnections) connections open",
                                              errorCode: "too_many_connections"))
            logger.debug("connection refused: too many connections")
            return
        }
        await ServerConnection(channel: channel, shared: self.shared, logger: logger).run()
    }

    private static func refuse(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, _ goAway: GoAway) async {
        try? await channel.executeThenClose { _, outbound in
            var bytes = ByteBuffer()
            try FrameEncoder().encode(.goAway(goAway), into: &bytes)
            try await outbound.write(bytes)
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
