public import FlexClient
internal import FlexCodec
public import NIOCore

/// Sends calls to flexd through `FlexClient`, spread over a few connections (each client keeps
/// one multiplexed connection; calls go round-robin by index).
public final class FlexdTarget: LoadTarget {
    public let name = "flexd"
    private let clients: [FlexClient]
    private let timeout: Duration

    /// - Parameters:
    ///   - host: flexd's host.
    ///   - port: flexd's port.
    ///   - connections: How many connections (clients) to spread calls over.
    ///   - apiKey: The tenant's flexd API key; empty for a flexd without a keys file.
    ///   - timeout: Each call's deadline.
    ///   - eventLoopGroup: Where the clients run.
    public init(
        host: String,
        port: Int,
        connections: Int,
        apiKey: String,
        timeout: Duration,
        eventLoopGroup: any EventLoopGroup
    ) throws(FlexClientError) {
        var configuration = FlexClient.Configuration.defaults
        configuration.apiKey = Secret(apiKey)
        configuration.defaultTimeout = timeout
        // A load generator queues calls beyond the server's stream limit rather than failing them.
        configuration.maxQueuedCalls = 1_000_000
        configuration.agent = "flexload"
        var clients: [FlexClient] = []
        for _ in 0..<max(1, connections) {
            clients.append(
                try FlexClient(host: host, port: port, configuration: configuration, eventLoopGroup: eventLoopGroup)
            )
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
