import Atomics
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server on 127.0.0.1 that FlexHTTP's tests control: it counts what happens on its
/// side (connections accepted and closed, requests, body bytes written) and misbehaves on request.
///
/// Routes (query parameters are integers):
/// - `/hello`: 200 "hello".
/// - `/echo`: 200 with the request body; `x-request-method` and `x-request-content-type` headers echo
///   the request's.
/// - `/headers`: 200 with the request's headers as `name: value` lines.
/// - `/status?code=N`: status N with body "status N".
/// - `/stream?chunks=N&size=S&delay_ms=D`: chunked body of N chunks of S bytes (``TestHTTPServer/pattern``),
///   D ms apart.
/// - `/sse?events=N&delay_ms=D`: `text/event-stream` with N events `data: event i`, then `data: [DONE]`.
/// - `/stall-head`: reads the request and never answers.
/// - `/stall-body?bytes=N`: head with a Content-Length of 1 MB, N bytes, then silence.
/// - `/drip?interval_ms=D`: an endless chunked body, one 8-byte chunk every D ms.
/// - `/cut?bytes=N`: Content-Length 1 MB, N bytes, then a clean close (FIN).
/// - `/cut-chunked`: a chunked body cut after two chunks.
/// - `/close-now`: closes the connection without answering.
/// - `/reset?bytes=N`: Content-Length 1 MB, N bytes, then an abortive close (RST).
/// - `/huge?bytes=N`: N bytes as fast as the client takes them (``Stats/bytesWrittenToSockets``
///   tells how far the server got).
/// - `/big-head?size=N`: a response with one header field of N bytes.
/// - `/interim`: a 103 Early Hints, then 200 "final".
/// - an absolute-form request (`GET http://host/path`, as sent to a forward proxy): 200
///   "proxied <URI>".
///
/// In `.silent` mode it accepts connections and never writes (a TLS client then hangs in its
/// handshake), which lets tests stall a request in its connect phase.
final class TestHTTPServer: Sendable {
    enum Mode {
        case http
        case silent
    }

    final class Stats: Sendable {
        fileprivate let accepted = ManagedAtomic(0)
        fileprivate let closed = ManagedAtomic(0)
        fileprivate let requests = ManagedAtomic(0)
        fileprivate let written = ManagedAtomic(0)

        /// Connections accepted so far.
        var connectionsAccepted: Int { self.accepted.load(ordering: .sequentiallyConsistent) }
        /// Connections that ended (peer closed, reset, or the server closed them).
        var connectionsClosed: Int { self.closed.load(ordering: .sequentiallyConsistent) }
        /// Complete requests received.
        var requestsReceived: Int { self.requests.load(ordering: .sequentiallyConsistent) }
        /// Bytes (heads and bodies, every connection) the kernel accepted from the server's sockets:
        /// counted when NIO completes a write, not when a handler queues it.
        var bytesWrittenToSockets: Int { self.written.load(ordering: .sequentiallyConsistent) }
    }

    let port: Int
    let stats: Stats
    private let serverChannel: any Channel
    private let acceptTask: Task<Void, Never>

    var baseURL: String { "http://127.0.0.1:\(self.port)" }

    private init(port: Int, stats: Stats, serverChannel: any Channel, acceptTask: Task<Void, Never>) {
        self.port = port
        self.stats = stats
        self.serverChannel = serverChannel
        self.acceptTask = acceptTask
    }

    static func start(mode: Mode = .http) async throws -> TestHTTPServer {
        let stats = Stats()
        // Accepted channels are wrapped in NIOAsyncChannel by the task that serves them, not in the
        // child initializer: a channel accepted while the server closes is otherwise dropped with an
        // unfinished NIOAsyncWriter, which NIO traps on. Reads wait (autoRead off) until the wrapping.
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.autoRead, value: false)
        switch mode {
        case .http:
            let server = try await bootstrap.bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeSucceededFuture(channel)
            }
            let task = Task {
                await withDiscardingTaskGroup { group in
                    do {
                        try await server.executeThenClose { inbound in
                            for try await channel in inbound {
                                stats.accepted.wrappingIncrement(ordering: .relaxed)
                                group.addTask {
                                    if let connection = try? await wrapHTTP(channel, stats: stats) {
                                        await serveHTTP(connection, stats: stats)
                                    }
                                    stats.closed.wrappingIncrement(ordering: .relaxed)
                                }
                            }
                        }
                    } catch {}
                    group.cancelAll()
                }
            }
            return TestHTTPServer(
                port: server.channel.localAddress!.port!,
                stats: stats,
                serverChannel: server.channel,
                acceptTask: task
            )
        case .silent:
            let server = try await bootstrap.bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeSucceededFuture(channel)
            }
            let task = Task {
                await withDiscardingTaskGroup { group in
                    do {
                        try await server.executeThenClose { inbound in
                            for try await channel in inbound {
                                stats.accepted.wrappingIncrement(ordering: .relaxed)
                                group.addTask {
                                    // Read and ignore everything until the peer goes away.
                                    if let connection = try? await wrap(channel, as: ByteBuffer.self, ByteBuffer.self) {
                                        _ = try? await connection.executeThenClose { inbound, _ in
                                            for try await _ in inbound {}
                                        }
                                    }
                                    stats.closed.wrappingIncrement(ordering: .relaxed)
                                }
                            }
                        }
                    } catch {}
                    group.cancelAll()
                }
            }
            return TestHTTPServer(
                port: server.channel.localAddress!.port!,
                stats: stats,
                serverChannel: server.channel,
                acceptTask: task
            )
        }
    }

    /// Stops accepting, then ends every connection. The listening socket is closed first and the accept
    /// loop drains what was already accepted: cancelling the loop instead would drop accepted
    /// connections unserved, which NIO traps on (an `NIOAsyncWriter` deinitialised unfinished).
    func stop() async {
        try? await self.serverChannel.close()
        await self.acceptTask.value
    }

    /// The byte at `offset` of every generated body: lets clients check content and order.
    static func pattern(at offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: (offset &* 31) &+ (offset >> 8))
    }

    static func patternBytes(offset: Int, count: Int) -> [UInt8] {
        (offset..<(offset + count)).map { pattern(at: $0) }
    }
}

/// Runs `body` with a started server and always stops it.
///
/// - Parameter measuresMemory: run alone (``MeasurementLock``), for a test that reads the process's
///   RSS; other tests share the lock.
func withTestServer<T>(
    mode: TestHTTPServer.Mode = .http,
    measuresMemory: Bool = false,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (TestHTTPServer) async throws -> T
) async throws -> T {
    if measuresMemory {
        return try await MeasurementLock.shared.withExclusive {
            try await runTestServer(mode: mode, body)
        }
    }
    return try await MeasurementLock.shared.withShared {
        try await runTestServer(mode: mode, body)
    }
}

private func runTestServer<T>(
    mode: TestHTTPServer.Mode,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (TestHTTPServer) async throws -> T
) async throws -> T {
    let server = try await TestHTTPServer.start(mode: mode)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

// MARK: - Serving

private func wrapHTTP(
    _ channel: any Channel,
    stats: TestHTTPServer.Stats
) async throws -> NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart> {
    try await channel.eventLoop.submit {
        try channel.pipeline.syncOperations.addHandler(SocketWriteCounter(stats: stats))
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        let wrapped = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
            wrappingChannelSynchronously: channel
        )
        channel.setOption(.autoRead, value: true).whenFailure { _ in }
        return wrapped
    }.get()
}

private func wrap<Inbound: Sendable, Outbound: Sendable>(
    _ channel: any Channel,
    as inbound: Inbound.Type,
    _ outbound: Outbound.Type
) async throws -> NIOAsyncChannel<Inbound, Outbound> {
    try await channel.eventLoop.submit {
        let wrapped = try NIOAsyncChannel<Inbound, Outbound>(wrappingChannelSynchronously: channel)
        channel.setOption(.autoRead, value: true).whenFailure { _ in }
        return wrapped
    }.get()
}

/// Sits next to the socket and counts the bytes of each write once NIO reports it written.
private final class SocketWriteCounter: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    let stats: TestHTTPServer.Stats

    init(stats: TestHTTPServer.Stats) {
        self.stats = stats
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = self.unwrapOutboundIn(data).readableBytes
        let promise = promise ?? context.eventLoop.makePromise()
        let stats = self.stats
        promise.futureResult.whenSuccess {
            stats.written.wrappingIncrement(by: bytes, ordering: .relaxed)
        }
        context.write(data, promise: promise)
    }
}

private enum AfterResponse {
    case keepAlive
    case close
    case reset
}

private func serveHTTP(
    _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
    stats: TestHTTPServer.Stats
) async {
    let channel = connection.channel
    var after = AfterResponse.keepAlive
    _ = try? await connection.executeThenClose { inbound, outbound in
        var head: HTTPRequestHead?
        var body = ByteBuffer()
        for try await part in inbound {
            switch part {
            case .head(let requestHead):
                head = requestHead
                body.clear()
            case .body(var bytes):
                body.writeBuffer(&bytes)
            case .end:
                guard let requestHead = head else {
                    continue
                }
                stats.requests.wrappingIncrement(ordering: .relaxed)
                after = try await respond(to: requestHead, body: body, outbound: outbound, stats: stats)
                if case .keepAlive = after {
                    continue
                }
                return
            }
        }
    }
    if case .reset = after {
        // SO_LINGER {1, 0}: close() sends RST instead of FIN.
        try? await (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
    }
    try? await channel.close()
}

private func respond(
    to head: HTTPRequestHead,
    body: ByteBuffer,
    outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
    stats: TestHTTPServer.Stats
) async throws -> AfterResponse {
    if head.uri.hasPrefix("http://") {
        // Absolute-form: the client is using this server as its forward proxy.
        try await outbound.write(
            .head(
                HTTPResponseHead(
                    version: .http1_1,
                    status: .ok,
                    headers: ["content-length": "\(head.uri.utf8.count + 8)"]
                )
            )
        )
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: "proxied \(head.uri)"))))
        try await outbound.write(.end(nil))
        return .keepAlive
    }
    let (path, query) = splitURI(head.uri)
    func int(_ name: String, _ fallback: Int) -> Int { query[name].flatMap { Int($0) } ?? fallback }

    func writeHead(_ status: HTTPResponseStatus, _ headers: [(String, String)]) async throws {
        try await outbound.write(
            .head(HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers)))
        )
    }
    func writeBody(_ bytes: ByteBuffer) async throws {
        try await outbound.write(.body(.byteBuffer(bytes)))
    }
    func writeEnd() async throws {
        try await outbound.write(.end(nil))
    }
    func simple(_ status: HTTPResponseStatus, _ text: String, _ extra: [(String, String)] = []) async throws {
        try await writeHead(status, [("content-length", "\(text.utf8.count)")] + extra)
        try await writeBody(ByteBuffer(string: text))
        try await writeEnd()
    }

    switch path {
    case "/hello":
        try await simple(.ok, "hello")
    case "/echo":
        var headers = [("content-length", "\(body.readableBytes)"), ("x-request-method", head.method.rawValue)]
        if let type = head.headers.first(name: "content-type") {
            headers.append(("x-request-content-type", type))
        }
        try await writeHead(.ok, headers)
        try await writeBody(body)
        try await writeEnd()
    case "/headers":
        let text = head.headers.map { "\($0.name): \($0.value)\n" }.joined()
        try await simple(.ok, text)
    case "/status":
        let code = int("code", 200)
        try await simple(HTTPResponseStatus(statusCode: code), "status \(code)")
    case "/stream":
        let chunks = int("chunks", 10)
        let size = int("size", 100)
        let delay = int("delay_ms", 0)
        try await writeHead(.ok, [("transfer-encoding", "chunked")])
        for index in 0..<chunks {
            if delay > 0 {
                try await Task.sleep(for: .milliseconds(delay))
            }
            try await writeBody(ByteBuffer(bytes: TestHTTPServer.patternBytes(offset: index * size, count: size)))
        }
        try await writeEnd()
    case "/sse":
        let events = int("events", 5)
        let delay = int("delay_ms", 0)
        try await writeHead(.ok, [("content-type", "text/event-stream"), ("transfer-encoding", "chunked")])
        for index in 0..<events {
            if delay > 0 {
                try await Task.sleep(for: .milliseconds(delay))
            }
            try await writeBody(ByteBuffer(string: "id: \(index)\ndata: event \(index)\n\n"))
        }
        try await writeBody(ByteBuffer(string: "data: [DONE]\n\n"))
        try await writeEnd()
    case "/stall-head":
        return .keepAlive
    case "/stall-body":
        try await writeHead(.ok, [("content-length", "1000000")])
        try await writeBody(ByteBuffer(bytes: TestHTTPServer.patternBytes(offset: 0, count: int("bytes", 100))))
        return .keepAlive
    case "/drip":
        let interval = int("interval_ms", 20)
        try await writeHead(.ok, [("transfer-encoding", "chunked")])
        while true {
            try await writeBody(ByteBuffer(string: "drip...\n"))
            try await Task.sleep(for: .milliseconds(interval))
        }
    case "/cut":
        try await writeHead(.ok, [("content-length", "1000000")])
        try await writeBody(ByteBuffer(bytes: TestHTTPServer.patternBytes(offset: 0, count: int("bytes", 100))))
        return .close
    case "/cut-chunked":
        try await writeHead(.ok, [("transfer-encoding", "chunked")])
        try await writeBody(ByteBuffer(string: "first"))
        try await writeBody(ByteBuffer(string: "second"))
        return .close
    case "/close-now":
        return .close
    case "/reset":
        try await writeHead(.ok, [("content-length", "1000000")])
        try await writeBody(ByteBuffer(bytes: TestHTTPServer.patternBytes(offset: 0, count: int("bytes", 100))))
        return .reset
    case "/huge":
        let total = int("bytes", 1 << 30)
        try await writeHead(.ok, [("content-length", "\(total)")])
        let chunkSize = 64 * 1024
        let chunk = ByteBuffer(repeating: 0x61, count: chunkSize)
        var sent = 0
        while sent < total {
            let size = min(chunkSize, total - sent)
            try await writeBody(chunk.getSlice(at: 0, length: size)!)
            sent += size
        }
        try await writeEnd()
    case "/big-head":
        let size = int("size", 100_000)
        try await writeHead(.ok, [("content-length", "2"), ("x-big", String(repeating: "b", count: size))])
        try await writeBody(ByteBuffer(string: "ok"))
        try await writeEnd()
    case "/interim":
        try await writeHead(.init(statusCode: 103), [("link", "</style.css>; rel=preload")])
        try await simple(.ok, "final")
    default:
        try await simple(.notFound, "not found")
    }
    return .keepAlive
}

private func splitURI(_ uri: String) -> (path: String, query: [String: String]) {
    guard let question = uri.firstIndex(of: "?") else {
        return (uri, [:])
    }
    var query: [String: String] = [:]
    for pair in uri[uri.index(after: question)...].split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1)
        query[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    return (String(uri[..<question]), query)
}
