public import NIOCore
internal import NIOHTTP1
public import NIOPosix

/// flexsim's HTTP/1.1 server on SwiftNIO: keep-alive, loopback, one ``Simulator`` shared by all
/// connections.
public final class SimServer: Sendable {
    public let simulator: Simulator
    private let group: any EventLoopGroup
    private let channel: any Channel

    /// Binds and starts serving. Port 0 picks a free port (see ``localAddress``).
    public static func start(
        configuration: SimConfiguration,
        host: String,
        port: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SimServer {
        let simulator = Simulator(configuration: configuration)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes))
                    )
                    try channel.pipeline.syncOperations.addHandler(SimHTTPHandler(simulator: simulator))
                }
            }
            .bind(host: host, port: port).get()
        return SimServer(simulator: simulator, group: group, channel: channel)
    }

    private init(simulator: Simulator, group: any EventLoopGroup, channel: any Channel) {
        self.simulator = simulator
        self.group = group
        self.channel = channel
    }

    public var localAddress: SocketAddress? { self.channel.localAddress }
    public var port: Int? { self.channel.localAddress?.port }
    /// The event loop the listening socket runs on.
    public var eventLoop: any EventLoop { self.channel.eventLoop }

    /// Stops accepting connections.
    public func close() async throws { try await self.channel.close() }

    /// Waits until the listening socket is closed.
    public func waitUntilClosed() async throws { try await self.channel.closeFuture.get() }
}
