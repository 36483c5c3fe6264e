import FlexClient
import FlexCodec
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// A scripted flexinference server on 127.0.0.1 for FlexClient's tests. A test accepts each
/// connection and then plays the server's side frame by frame: it reads what the client sent and
/// writes exactly what it wants, including frames a correct server would never send.
///
/// Connections read from the socket only when the test asks for a frame (autoRead is off), so a
/// test that does not read is a slow reader.
final class FakeServer: Sendable {
    let port: Int
    private let channel: any Channel
    private let accepted: AsyncQueue<FakeConnection>
    private let children: NIOLockedValueBox<[any Channel]>

    private init(
        port: Int,
        channel: any Channel,
        accepted: AsyncQueue<FakeConnection>,
        children: NIOLockedValueBox<[any Channel]>
    ) {
        self.port = port
        self.channel = channel
        self.accepted = accepted
        self.children = children
    }

    static func start() async throws -> FakeServer {
        let accepted = AsyncQueue<FakeConnection>()
        let children = NIOLockedValueBox<[any Channel]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    let (bytes, sink) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
                    children.withLockedValue { $0.append(child) }
                    // Handed to the test once active: a read() issued before that may be lost.
                    try child.pipeline.syncOperations.addHandler(
                        ByteSink(sink) { accepted.push(FakeConnection(channel: child, bytes: bytes)) }
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return FakeServer(port: channel.localAddress!.port!, channel: channel, accepted: accepted, children: children)
    }

    /// The next connection a client made.
    func accept() async -> FakeConnection {
        await self.accepted.pop()
    }

    /// How many connections were accepted and not yet taken by ``accept()``.
    var waitingConnections: Int { self.accepted.count }

    func stop() async {
        try? await self.channel.close()
        for child in self.children.withLockedValue({ $0 }) {
            try? await child.close()
        }
    }
}

/// Runs `body` with a started fake server, and stops it afterwards.
func withFakeServer<T>(
    isolation: isolated (any Actor)? = #isolation,
    _ body: (FakeServer) async throws -> T
) async throws -> T {
    let server = try await FakeServer.start()
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

struct FakeServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The server's side of one connection.
///
/// `@unchecked Sendable`: a test hands it from the accepting task to the one that scripts it and
/// then uses it from that task alone; the channel itself is thread-safe.
final class FakeConnection: @unchecked Sendable {
    let channel: any Channel
    private var bytes: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    private var buffer = ByteBuffer()
    var decoder = FrameDecoder(role: .server)
    var encoder = FrameEncoder()
    let coder = MessageCoder()
    /// The client's HELLO, once ``handshake(limits:compression:)`` read it.
    private(set) var clientHello: Hello?

    init(channel: any Channel, bytes: AsyncThrowingStream<ByteBuffer, any Error>) {
        self.channel = channel
        self.bytes = bytes.makeAsyncIterator()
    }

    // MARK: Reading

    /// The next frame from the client and its length on the wire. Throws at EOF.
    func readFrameWithLength() async throws -> (FlexFrame, Int) {
        while true {
            // The frame's length field (meaningless for the first frame, which follows the preface).
            let length = self.buffer.getInteger(at: self.buffer.readerIndex, as: UInt32.self)
            if let frame = try self.decoder.decode(buffer: &self.buffer) {
                return (frame, length.map(Int.init) ?? 0)
            }
            self.channel.read()
            guard var chunk = try await self.bytes.next() else {
                throw FakeServerError("the client closed the connection")
            }
            self.buffer.writeBuffer(&chunk)
        }
    }

    func readFrame() async throws -> FlexFrame {
        try await self.readFrameWithLength().0
    }

    /// Reads frames until the client closes the connection; returns them.
    func readUntilClosed() async throws -> [FlexFrame] {
        var frames: [FlexFrame] = []
        while true {
            do {
                frames.append(try await self.readFrame())
            } catch let error as FakeServerError where error.description.contains("closed") {
                return frames
            }
        }
    }

    /// Reads the preface and HELLO and answers with `answer` (default: what `Handshake.answer`
    /// gives for `limits` and `compression`). Configures this side's codec like a server would.
    @discardableResult
    func handshake(
        limits: ResolvedLimits = .defaults,
        compression: [Compression] = [.lz4],
        answer: Hello? = nil
    ) async throws -> Hello {
        guard case .hello(let hello) = try await self.readFrame() else { throw FakeServerError("expected HELLO first") }
        self.clientHello = hello
        let (reply, negotiated) = try Handshake.answer(
            hello,
            limits: limits,
            compression: compression,
            agent: "fake-flexd/0"
        )
        self.decoder.compression = negotiated.compression
        self.decoder.maxMessageSize = limits.maxMessageSize
        self.encoder.compression = negotiated.compression
        self.encoder.maxMessageSize = negotiated.peerLimits.maxMessageSize
        try await self.write(.hello(answer ?? reply))
        return hello
    }

    /// Reads one call's HEADERS and request MESSAGE.
    func readCall() async throws -> (StreamID, RequestHeaders, InferenceRequest) {
        guard case .requestHeaders(let id, let headers) = try await self.readFrame() else {
            throw FakeServerError("expected HEADERS")
        }
        guard case .message(id, let payload, endStream: true) = try await self.readFrame() else {
            throw FakeServerError("expected the request MESSAGE with END_STREAM on stream \(id)")
        }
        return (id, headers, try self.coder.decode(InferenceRequest.self, from: payload))
    }

    // MARK: Writing

    func write(_ frame: FlexFrame) async throws {
        var out = self.channel.allocator.buffer(capacity: 256)
        try self.encoder.encode(frame, into: &out)
        try await self.channel.writeAndFlush(out).get()
    }

    func writeMessage<M: FlexMessage>(_ message: M, on stream: StreamID) async throws {
        var out = self.channel.allocator.buffer(capacity: 256)
        try self.encoder.encodeMessage(message, streamID: stream, into: &out)
        try await self.channel.writeAndFlush(out).get()
    }

    func writeRaw(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// HEADERS, one MESSAGE with `response`, TRAILERS.
    func answer(
        _ stream: StreamID,
        _ response: InferenceResponse,
        trailers: Trailers = Trailers(status: .ok)
    ) async throws {
        try await self.write(.responseHeaders(stream, ResponseHeaders()))
        try await self.writeMessage(response, on: stream)
        try await self.write(.trailers(stream, trailers))
    }

    func close() async {
        try? await self.channel.close()
    }
}

/// Forwards the bytes a connection reads into an async stream; ends it at EOF.
private final class ByteSink: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let sink: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
    private let onActive: @Sendable () -> Void

    init(_ sink: AsyncThrowingStream<ByteBuffer, any Error>.Continuation, onActive: @escaping @Sendable () -> Void) {
        self.sink = sink
        self.onActive = onActive
    }

    func channelActive(context: ChannelHandlerContext) {
        self.onActive()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.sink.yield(self.unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.sink.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.sink.finish()
        context.close(promise: nil)
    }
}

/// An unbounded FIFO that one task fills and another awaits (test-only).
final class AsyncQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var waiters: [CheckedContinuation<Element, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    func push(_ item: Element) {
        let waiter: CheckedContinuation<Element, Never>? = self.state.withLockedValue { state in
            if state.waiters.isEmpty {
                state.items.append(item)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: item)
    }

    func pop() async -> Element {
        await withCheckedContinuation { continuation in
            let item: Element? = self.state.withLockedValue { state in
                if state.items.isEmpty {
                    state.waiters.append(continuation)
                    return nil
                }
                return state.items.removeFirst()
            }
            if let item { continuation.resume(returning: item) }
        }
    }

    var count: Int { self.state.withLockedValue { $0.items.count } }
}

/// Runs `body` with a client of `server`. When `body` throws, the server's connections are
/// closed first, so that calls the test left waiting fail rather than hold up the client's close.
func withTestClient<T>(
    _ server: FakeServer,
    configuration: FlexClient.Configuration = .defaults,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (FlexClient) async throws -> T
) async throws -> T {
    let client = try FlexClient(host: "127.0.0.1", port: server.port, configuration: configuration)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await server.stop()
        await client.close()
        throw error
    }
}
