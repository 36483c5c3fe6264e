public import FlexCodec
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix

/// A client for flexd: unary and streaming inference calls over multiplexed TCP connections
/// speaking the flexinference protocol (Proto/PROTOCOL.md), to one flexd or a fleet.
///
/// The client connects on its first call (preface, HELLO offering LZ4, the server's limits
/// honoured) and reconnects on demand when a connection is lost or the server drains it. Concurrent
/// calls share a connection, each a stream; when every connection is at the server's
/// `max_concurrent_streams` the client opens another (up to
/// ``Configuration/maxConnectionsPerEndpoint``), and past that calls wait in a bounded queue.
///
/// Given several endpoints (``init(endpoints:configuration:eventLoopGroup:logger:)``, or a host
/// name that resolves to several addresses), it keeps a connection to each, spreads calls by load,
/// stops sending to an instance that drains (GOAWAY), sends the calls that instance did not process
/// to another one (same request id, so the ledger records each call once), and waits out an
/// exponential backoff with jitter before connecting again to an instance that failed. See
/// <doc:UsingAFleet>.
///
/// Prefer ``withFlexClient(host:port:configuration:eventLoopGroup:logger:isolation:_:)``, which
/// closes the client when its body returns. A client made with ``init(host:port:configuration:eventLoopGroup:logger:)``
/// should be closed with ``close()``, which waits until its connections are closed (dropping it
/// starts the same close without waiting).
///
/// ```swift
/// try await withFlexClient(host: "127.0.0.1", port: 7400) { client in
///     let request = InferenceRequest(
///         provider: .openAI, api: .chatCompletions, model: "gpt-5.4-mini", startWithin: "00h-05m-00s",
///         providerKey: Secret(openAIKey),
///         body: .nativeJSON(ByteBuffer(string: #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Hi"}]}"#)))
///     let (response, savings) = try await client.complete(request, options: CallOptions(timeout: .seconds(120)))
///     print(String(buffer: response.nativeJSON!), savings?.savedPicoUSD ?? 0)
/// }
/// ```
///
/// Cancellation is task cancellation: cancelling the task that awaits a call sends CANCEL to the
/// server and fails the call with ``FlexClientError/Code/cancelled``. Every error is a
/// ``FlexClientError``.
///
/// Logging: nothing is logged unless a `Logger` is passed, and then only at `debug` (connection
/// events) and `error` (client bugs). Keys are never logged.
public final class FlexClient: Sendable {
    /// The first endpoint's host name or address.
    public var host: String { self.endpoints[0].host }
    /// The first endpoint's port.
    public var port: Int { self.endpoints[0].port }
    /// Every endpoint the client calls.
    public let endpoints: [Endpoint]
    public let configuration: Configuration

    private let manager: ConnectionManager
    private let callIDs = NIOLockedValueBox<UInt64>(0)

    /// Creates a client of one endpoint. It connects on the first call. A host name that
    /// resolves to several addresses is a fleet: each address is an endpoint.
    ///
    /// - Parameters:
    ///   - host: The server's host name or address.
    ///   - port: The server's port.
    ///   - configuration: Keys, timeouts, limits; see ``Configuration``.
    ///   - eventLoopGroup: Where the client's connections run; it uses one event loop of it.
    ///   - logger: Receives debug logs; by default nothing is logged.
    /// - Throws: ``FlexClientError`` (INVALID_ARGUMENT, `invalid_configuration`) when a
    ///   configuration value is out of bounds.
    public convenience init(
        host: String,
        port: Int,
        configuration: Configuration = .defaults,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = FlexClient.silentLogger
    ) throws(FlexClientError) {
        try self.init(
            endpoints: [Endpoint(host: host, port: port)],
            configuration: configuration,
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
    }

    /// Creates a client of several flexd instances (a fleet): calls spread over them by load. It
    /// connects on the first call.
    ///
    /// ```swift
    /// let client = try FlexClient(endpoints: [.init(host: "10.0.0.11", port: 7400),
    ///                                         .init(host: "10.0.0.12", port: 7400)])
    /// ```
    ///
    /// - Parameters:
    ///   - endpoints: At least one; host names are resolved (every address is an endpoint).
    ///   - configuration: Keys, timeouts, limits; see ``Configuration``.
    ///   - eventLoopGroup: Where the client's connections run; it uses one event loop of it.
    ///   - logger: Receives debug logs; by default nothing is logged.
    /// - Throws: ``FlexClientError`` (INVALID_ARGUMENT, `invalid_configuration`) when the list is
    ///   empty, a port is out of range, or a configuration value is out of bounds.
    public init(
        endpoints: [Endpoint],
        configuration: Configuration = .defaults,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = FlexClient.silentLogger
    ) throws(FlexClientError) {
        try configuration.validate()
        guard !endpoints.isEmpty else {
            throw .local(.invalidArgument, FlexClientError.LocalReason.invalidConfiguration, "no endpoint given")
        }
        if let bad = endpoints.first(where: { !(1...65535).contains($0.port) || $0.host.isEmpty }) {
            throw .local(
                .invalidArgument,
                FlexClientError.LocalReason.invalidConfiguration,
                "endpoint \(bad) needs a host and a port in 1...65535"
            )
        }
        self.endpoints = endpoints
        self.configuration = configuration
        self.manager = ConnectionManager(
            loop: eventLoopGroup.next(),
            endpoints: endpoints,
            configuration: configuration,
            machineConfiguration: ConnectionStateMachine.Configuration(
                hello: configuration.hello,
                maxQueuedCalls: configuration.maxQueuedCalls,
                keepaliveWithoutCalls: configuration.keepalive?.permitWithoutCalls ?? false
            ),
            logger: logger
        )
    }

    /// A client dropped without ``close()`` still closes its connections (gracefully: calls in
    /// flight hold the connection machinery, not the client, and finish first).
    deinit {
        let manager = self.manager
        manager.loop.execute { _ = manager.close() }
    }

    /// A logger that drops everything: the default.
    public static let silentLogger = Logger(label: "flexclient", factory: { _ in SwiftLogNoOpLogHandler() })

    // MARK: - Calls

    /// Makes a unary call (`flexinference.v1.Inference/Complete`): one request, one response.
    ///
    /// ```swift
    /// let (response, savings) = try await client.complete(request)
    /// if let savings { print("saved \(savings.savedPicoUSD) picousd on \(savings.tierServed!)") }
    /// ```
    ///
    /// - Parameters:
    ///   - request: The call; `startWithin` is required by flexd.
    ///   - options: Deadline, API key and metadata for this call.
    /// - Returns: The response and the savings record (nil for calls that never reached a
    ///   provider).
    /// - Throws: ``FlexClientError`` with the server's status (and the savings record when the
    ///   call was billed before it failed), or the client's: cancelled, deadline exceeded,
    ///   connection lost (UNAVAILABLE), protocol violation.
    public func complete(
        _ request: InferenceRequest,
        options: CallOptions = .defaults
    ) async throws(FlexClientError) -> (InferenceResponse, SavingsRecord?) {
        let call = try self.makeCall(request, kind: .unary, options: options)
        let manager = self.manager
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ClientCall.UnaryResult, Never>) in
                call.loop.execute {
                    call.waitForResponse(continuation)
                    manager.start(call)
                }
            }
        } onCancel: {
            call.loop.execute { manager.cancel(call, error: FlexClient.cancelledError) }
        }
        return try result.get()
    }

    /// Makes a streaming call (`flexinference.v1.Inference/Stream`): `body` reads the events as
    /// they arrive; once the sequence ends, ``FlexEventStream/trailers`` and
    /// ``FlexEventStream/savings`` hold how the call ended.
    ///
    /// ```swift
    /// let savings = try await client.stream(request) { events in
    ///     for try await event in events {
    ///         switch event {
    ///         case .route(let route): print("served by", route.tier!, route.fellBack ? "(fallback)" : "")
    ///         case .native(let native): print(String(buffer: native.data))
    ///         default: break
    ///         }
    ///     }
    ///     return events.savings
    /// }
    /// ```
    ///
    /// The call lives as long as `body`: if `body` returns or throws before the sequence ended, the
    /// call is cancelled (CANCEL). A non-OK end is thrown by the sequence's iterator as a
    /// ``FlexClientError``, after the events that arrived before it.
    ///
    /// Flow control: the server may send at most ``Configuration/initialWindowSize`` bytes ahead
    /// of what `body` has read; a slow reader slows the server down rather than filling memory.
    public func stream<Result>(
        _ request: InferenceRequest,
        options: CallOptions = .defaults,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (FlexEventStream) async throws -> Result
    ) async throws -> Result {
        let call = try self.makeCall(request, kind: .streaming, options: options)
        let manager = self.manager
        call.loop.execute { manager.start(call) }
        let events = FlexEventStream(call: call, manager: manager)
        do {
            let result = try await body(events)
            call.loop.execute { manager.cancel(call, error: FlexClient.abandonedError) }
            return result
        } catch {
            call.loop.execute { manager.cancel(call, error: FlexClient.abandonedError) }
            throw error
        }
    }

    // MARK: - Lifecycle

    /// Closes the client: no new calls (they fail with UNAVAILABLE, `client_closed`); the calls
    /// already started finish; then each connection sends GOAWAY and closes. Returns once every
    /// connection is closed. Calling it again waits for the same.
    ///
    /// Cancelling the task that waits here stops the wait: the calls still in flight fail with
    /// UNAVAILABLE (`client_closed`) and the connections close at once.
    public func close() async {
        let manager = self.manager
        await withTaskCancellationHandler {
            let future = manager.loop.flatSubmit { manager.close() }
            try? await future.get()
        } onCancel: {
            manager.loop.execute { manager.closeNow(error: FlexClient.closedError) }
        }
    }

    /// A snapshot of the client's connections and calls: addresses and how many are reachable,
    /// connections, calls on them and waiting in the client, calls sent again.
    public func statistics() async -> Statistics {
        let manager = self.manager
        return (try? await manager.loop.submit { manager.statistics() }.get()) ?? Statistics()
    }

    /// Starts ``close()`` without waiting for it: calls made after this returns are refused, the
    /// ones already started finish.
    public func beginGracefulShutdown() {
        let manager = self.manager
        manager.loop.execute { _ = manager.close() }
    }

    // MARK: - Internals

    private func makeCall(
        _ request: InferenceRequest,
        kind: CallKind,
        options: CallOptions
    ) throws(FlexClientError) -> ClientCall {
        var request = request
        if request.requestID.isEmpty {
            // The ledger's key: a call sent again (to another endpoint) keeps it, so it is
            // recorded once.
            request.requestID = Self.newRequestID()
        }
        let payload: ByteBuffer
        do {
            payload = try request.protobufBytes()
        } catch {
            throw .local(
                .invalidArgument,
                FlexClientError.LocalReason.invalidRequest,
                "the request does not encode: \(error.message)"
            )
        }
        let id = self.callIDs.withLockedValue { value in
            value += 1
            return value
        }
        let timeout = options.timeout ?? self.configuration.defaultTimeout
        return ClientCall(
            id: CallID(rawValue: id),
            kind: kind,
            loop: self.manager.loop,
            request: payload,
            apiKey: options.apiKey ?? self.configuration.apiKey,
            metadata: options.metadata,
            deadline: timeout.map { .now + $0 }
        )
    }

    /// `fc-` and 16 random hex digits (the server's own are `fx-`).
    static func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = String(generator.next() as UInt64, radix: 16)
        return "fc-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    static let cancelledError = FlexClientError.local(
        .cancelled,
        FlexClientError.LocalReason.cancelled,
        "the call's task was cancelled"
    )
    static let abandonedError = FlexClientError.local(
        .cancelled,
        FlexClientError.LocalReason.cancelled,
        "the stream's body returned before the stream ended"
    )
    static let deadlineError = FlexClientError.local(
        .deadlineExceeded,
        FlexClientError.LocalReason.deadlineExceeded,
        "the call's deadline passed"
    )
    static let closedError = FlexClientError.local(
        .unavailable,
        FlexClientError.LocalReason.clientClosed,
        "the client is closed",
        isSafeToRetry: true
    )
}

/// Runs `body` with a ``FlexClient`` and closes the client when `body` returns or throws (the
/// calls `body` started finish first).
///
/// ```swift
/// let summary = try await withFlexClient(host: "flexd.internal", port: 7400,
///                                        configuration: .defaults { $0.apiKey = apiKey }) { client in
///     try await withThrowingTaskGroup(of: SavingsRecord?.self) { group in
///         for request in requests {             // all on one connection, multiplexed
///             group.addTask { try await client.complete(request).1 }
///         }
///         return try await group.reduce(into: 0) { $0 += $1?.savedPicoUSD ?? 0 }
///     }
/// }
/// ```
public func withFlexClient<Result>(
    host: String,
    port: Int,
    configuration: FlexClient.Configuration = .defaults,
    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    logger: Logger = FlexClient.silentLogger,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (FlexClient) async throws -> Result
) async throws -> Result {
    try await withFlexClient(
        endpoints: [FlexClient.Endpoint(host: host, port: port)],
        configuration: configuration,
        eventLoopGroup: eventLoopGroup,
        logger: logger,
        body
    )
}

/// Runs `body` with a ``FlexClient`` of several endpoints (a fleet) and closes the client when
/// `body` returns or throws (the calls `body` started finish first).
public func withFlexClient<Result>(
    endpoints: [FlexClient.Endpoint],
    configuration: FlexClient.Configuration = .defaults,
    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    logger: Logger = FlexClient.silentLogger,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (FlexClient) async throws -> Result
) async throws -> Result {
    let client = try FlexClient(
        endpoints: endpoints,
        configuration: configuration,
        eventLoopGroup: eventLoopGroup,
        logger: logger
    )
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}
