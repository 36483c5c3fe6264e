internal import FlexCodec
internal import NIOConcurrencyHelpers
internal import NIOCore

/// Encodes frames for one connection and writes them to its socket.
///
/// Every call of the connection writes through it, from its own task: encoding happens under a lock
/// (one `FrameEncoder`, with its reused protobuf arena and LZ4 state, per connection); writing
/// happens outside it, and suspends while the socket is not writable (TCP backpressure).
final class ConnectionWriter: @unchecked Sendable {
    // @unchecked: `encoder` is only used with `lock` held; `outbound` is Sendable.
    private let lock = NIOLock()
    private var encoder = FrameEncoder()
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let allocator = ByteBufferAllocator()
    private let metrics: ServerMetrics

    init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, metrics: ServerMetrics) {
        self.outbound = outbound
        self.metrics = metrics
    }

    /// Uses the handshake's settings: compression, and the client's maximum message size.
    func configure(_ negotiated: NegotiatedConnection) {
        self.lock.withLock {
            self.encoder.compression = negotiated.compression
            self.encoder.maxMessageSize = negotiated.peerLimits.maxMessageSize
        }
    }

    /// The bytes of `frame`.
    func encode(_ frame: FlexFrame) throws(FlexCodecError) -> ByteBuffer {
        self.lock.lock()
        defer { self.lock.unlock() }
        var buffer = self.allocator.buffer(capacity: 64)
        try self.encoder.encode(frame, into: &buffer)
        return buffer
    }

    /// The bytes of a MESSAGE frame holding `message`.
    func encodeMessage<Message: FlexMessage>(_ message: Message, stream: StreamID) throws(FlexCodecError) -> ByteBuffer {
        self.lock.lock()
        defer { self.lock.unlock() }
        var buffer = self.allocator.buffer(capacity: 256)
        try self.encoder.encodeMessage(message, streamID: stream, into: &buffer)
        return buffer
    }

    /// Writes encoded bytes; suspends while the socket is not writable.
    func write(_ bytes: ByteBuffer) async throws {
        self.metrics.bytesSent(bytes.readableBytes)
        try await self.outbound.write(bytes)
    }

    /// Encodes and writes a control frame.
    func send(_ frame: FlexFrame) async throws {
        try await self.write(try self.encode(frame))
    }
}
