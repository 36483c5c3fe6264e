import FlexServer
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The admin HTTP endpoint, on its own port: `GET /metrics` (Prometheus text format), `GET /healthz`
/// (the process is up), `GET /readyz` (the server listens and is not draining: 503 otherwise).
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
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        self.logger.info("admin endpoint", metadata: ["address": "\(channel.channel.localAddress?.description ?? "?")"])
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            for try await part in inbound {
                guard case .head(let head) = part else { continue }
                let (status, contentType, body) = self.answer(head)
                var headers = HTTPHeaders([("content-type", contentType), ("content-length", "\(body.readableBytes)")])
                if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
                try await outbound.write(
                    .head(HTTPResponseHead(version: head.version, status: status, headers: headers))
                )
                try await outbound.write(.body(.byteBuffer(body)))
                try await outbound.write(.end(nil))
                if !head.isKeepAlive { return }
            }
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
