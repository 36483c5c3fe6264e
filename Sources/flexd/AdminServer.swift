import FlexServer
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The admin HTTP endpoint, on its own port: `GET /metrics` (Prometheus text format), `GET /healthz`
/// (the process is up), `GET /readyz` (the server listens and is not draining: 503 otherwise). It
/// stays up through a drain (the service group stops it after the server), so a balancer sees
/// `/readyz` turn 503 and `/metrics` keeps answering until flexd exits.
final class AdminServer: Service, Sendable {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let server: FlexServer
    let logger: Logger

    init(host: String, port: Int, registry: PrometheusCollectorRegistry, server: FlexServer, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.server = server
        self.logger = logger
    }

    func run() async throws {
        // A channel handler per connection rather than an NIOAsyncChannel: one accepted just as
        // the listener closes would be dropped unfinished, and that traps (swift-nio #2813). Health
        // checks poll this port exactly while flexd shuts down.
        let answer: @Sendable (HTTPRequestHead) -> (HTTPResponseStatus, String, ByteBuffer) = { self.answer($0) }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(answer: answer))
                }
            }
            .bind(host: self.host, port: self.port)
            .get()
        self.logger.info("admin endpoint", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String, ByteBuffer) {
        guard head.method == .GET else { return (.methodNotAllowed, "text/plain", ByteBuffer(string: "GET only\n")) }
        switch head.uri.split(separator: "?").first.map(String.init) ?? head.uri {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4", ByteBuffer(bytes: self.registry.emitToBuffer()))
        case "/healthz":
            return (.ok, "text/plain", ByteBuffer(string: "ok\n"))
        case "/readyz":
            return self.server.isReady
                ? (.ok, "text/plain", ByteBuffer(string: "ready\n"))
                : (.serviceUnavailable, "text/plain", ByteBuffer(string: "not ready (starting or draining)\n"))
        default:
            return (
                .notFound, "text/plain", ByteBuffer(string: "no such endpoint: try /metrics, /healthz or /readyz\n")
            )
        }
    }
}
