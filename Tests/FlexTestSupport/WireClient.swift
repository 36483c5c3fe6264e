public import FlexCodec
import Foundation
public import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A blocking protocol client over a raw TCP socket, for tests: it writes exactly the frames (or
/// bytes) a test asks for and reads frames with a deadline, so it can also misbehave.
public final class WireClient {
    public let fd: Int32
    public var encoder = FrameEncoder()
    public var decoder = FrameDecoder(role: .client)
    private var buffer = ByteBuffer()
    public private(set) var closedByPeer = false

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init(port: Int) throws {
        do {
            self.fd = try TestSocket.connect(port: port)
        } catch {
            throw Failure(description: error.description)
        }
    }

    deinit { close(self.fd) }

    /// Connects and does the handshake; returns the server's HELLO.
    public static func connected(
        port: Int,
        hello: Hello = Hello(versions: [1], compression: [.lz4])
    ) async throws -> (WireClient, Hello) {
        let client = try WireClient(port: port)
        var bytes = ByteBuffer(bytes: ConnectionPreface.bytes)
        try client.encoder.encode(.hello(hello), into: &bytes)
        try client.write(bytes)
        guard case .hello(let reply)? = try await client.readFrame() else {
            throw Failure(description: "no HELLO from the server")
        }
        let settings = try Handshake.accept(reply, offered: hello)
        client.encoder.compression = settings.compression
        client.encoder.maxMessageSize = settings.peerLimits.maxMessageSize
        client.decoder.compression = settings.compression
        return (client, reply)
    }

    public func write(_ bytes: ByteBuffer) throws {
        var offset = 0
        let data = Array(bytes.readableBytesView)
        while offset < data.count {
            let sent = data[offset...].withUnsafeBytes {
                Glibc.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    public func send(_ frame: FlexFrame) throws {
        var bytes = ByteBuffer()
        try self.encoder.encode(frame, into: &bytes)
        try self.write(bytes)
    }

    /// HEADERS and the request MESSAGE (END_STREAM) of one call.
    public func call(
        _ id: StreamID,
        _ request: InferenceRequest,
        method: String = RequestHeaders.Method.complete,
        timeout: Duration? = nil,
        apiKey: Secret = ""
    ) throws {
        var bytes = ByteBuffer()
        try self.encoder.encode(
            .requestHeaders(id, RequestHeaders(method: method, timeout: timeout, apiKey: apiKey)),
            into: &bytes
        )
        try self.encoder.encodeMessage(request, streamID: id, endStream: true, into: &bytes)
        try self.write(bytes)
    }

    /// The next frame, or nil when the server closed the connection. Throws after `timeout`.
    ///
    /// It polls without blocking and sleeps between polls: a blocked thread would starve Swift's
    /// cooperative pool (two threads here), on which the server under test runs too.
    public func readFrame(timeout: Duration = .seconds(30)) async throws -> FlexFrame? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let frame = try self.decoder.decode(buffer: &self.buffer) { return frame }
            if self.closedByPeer { return nil }
            let left = deadline - .now
            guard left > .zero else { throw Failure(description: "no frame within \(timeout)") }
            var poller = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 0) > 0 else {
                try await Task.sleep(for: .milliseconds(1))
                continue
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = recv(self.fd, &chunk, chunk.count, 0)
            if count <= 0 {
                self.closedByPeer = true
                continue
            }
            self.buffer.writeBytes(chunk[0..<count])
        }
    }

    /// Frames until the TRAILERS of `id` (inclusive), answering PINGs is not needed here.
    public func readCall(_ id: StreamID, timeout: Duration = .seconds(30)) async throws -> [FlexFrame] {
        var frames: [FlexFrame] = []
        while let frame = try await self.readFrame(timeout: timeout) {
            guard frame.streamID == id else { continue }
            frames.append(frame)
            if case .trailers = frame { return frames }
        }
        throw Failure(description: "the connection closed before stream \(id) ended; got \(frames.count) frames")
    }

    /// Reads until the server closes; returns every frame.
    public func readUntilClosed(timeout: Duration = .seconds(30)) async throws -> [FlexFrame] {
        var frames: [FlexFrame] = []
        while let frame = try await self.readFrame(timeout: timeout) { frames.append(frame) }
        return frames
    }
}

extension Array where Element == FlexFrame {
    public var trailers: Trailers? {
        for case .trailers(_, let trailers) in self { return trailers }
        return nil
    }

    /// The decoded payloads of the MESSAGE frames.
    public func messages<M: FlexMessage>(_ type: M.Type) throws -> [M] {
        let coder = MessageCoder()
        return try self.compactMap { frame -> M? in
            guard case .message(_, let payload, _) = frame else { return nil }
            return try coder.decode(M.self, from: payload)
        }
    }

    public var goAway: GoAway? {
        for case .goAway(let goAway) in self { return goAway }
        return nil
    }
}
