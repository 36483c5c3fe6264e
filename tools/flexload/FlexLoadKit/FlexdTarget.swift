public import FlexClient
internal import FlexCodec
public import NIOCore

/// Sends calls to flexd through FlexClients: to one endpoint or to several (a fleet), over
/// connections the clients open as calls fill them. A FlexClient runs on one event loop, so a load
/// generator that must not be the bottleneck runs one per loop of its group (at most one per
/// connection), and calls go to them in turn.
public final class FlexdTarget: LoadTarget {
    public let name = "flexd"
    private let clients: [FlexClient]
    private let timeout: Duration

    /// - Parameters:
    ///   - endpoints: flexd's address, or several (calls spread over them by load).
    ///   - connections: Connections opened to each endpoint at once, over all the clients.
    ///   - maxConnections: The most connections per endpoint, over all the clients: they open
    ///     more than `connections` when those are at the server's stream limit.
    ///   - apiKey: The tenant's flexd API key; empty for a flexd without a keys file.
    ///   - timeout: Each call's deadline.
    ///   - eventLoopGroup: Where the clients run, one per event loop.
    public init(
        endpoints: [FlexClient.Endpoint],
        connections: Int,
        maxConnections: Int = 32,
        apiKey: String,
        timeout: Duration,
        eventLoopGroup: any EventLoopGroup
    ) throws(FlexClientError) {
        let loops = Array(eventLoopGroup.makeIterator())
        let connections = max(1, connections)
        let count = max(1, min(connections, loops.count))
        var configuration = FlexClient.Configuration.defaults
        configuration.apiKey = Secret(apiKey)
        configuration.defaultTimeout = timeout
        configuration.minConnectionsPerEndpoint = (connections + count - 1) / count
        configuration.maxConnectionsPerEndpoint = max(
            configuration.minConnectionsPerEndpoint,
            (max(connections, maxConnections) + count - 1) / count
        )
        // A load generator queues calls beyond every stream limit rather than failing them.
        configuration.maxQueuedCalls = 1_000_000
        configuration.agent = "flexload"
        configuration.metricsLabel = "flexload"
        var clients: [FlexClient] = []
        for loop in loops.prefix(count) {
            clients.append(try FlexClient(endpoints: endpoints, configuration: configuration, eventLoopGroup: loop))
        }
        self.clients = clients
        self.timeout = timeout
    }

    public func send(_ call: PlannedCall, intended: ContinuousClock.Instant) async -> CallResult {
        let client = self.clients[call.index % self.clients.count]
        if call.stream {
            var firstByte: ContinuousClock.Instant?
            var received = 0
            do {
                let savings = try await client.stream(call.request) { events in
                    for try await _ in events {
                        if firstByte == nil { firstByte = .now }
                        received += 1
                    }
                    return events.savings
                }
                let end = ContinuousClock.now
                return CallResult(
                    ok: true,
                    latency: end - intended,
                    firstByte: firstByte.map { $0 - intended },
                    savings: savings,
                    events: received
                )
            } catch let error as FlexClientError {
                var result = Self.failure(error, intended: intended, firstByte: firstByte)
                result.events = received
                return result
            } catch {
                return CallResult(ok: false, errorCode: "client_error", latency: .now - intended, events: received)
            }
        }
        do {
            let (_, savings) = try await client.complete(call.request)
            let end = ContinuousClock.now
            return CallResult(ok: true, latency: end - intended, firstByte: end - intended, savings: savings)
        } catch {
            return Self.failure(error, intended: intended, firstByte: nil)
        }
    }

    static func failure(
        _ error: FlexClientError,
        intended: ContinuousClock.Instant,
        firstByte: ContinuousClock.Instant?
    ) -> CallResult {
        let code = error.status.errorCode.isEmpty ? "\(error.code)" : error.status.errorCode
        return CallResult(
            ok: false,
            errorCode: code,
            latency: .now - intended,
            firstByte: firstByte.map { $0 - intended },
            savings: error.savings
        )
    }

    public func close() async {
        for client in self.clients { await client.close() }
    }
}
