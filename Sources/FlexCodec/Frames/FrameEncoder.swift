public import NIOCore

/// Writes ``FlexFrame``s as bytes, compressing MESSAGE payloads when compression was negotiated.
///
/// ```swift
/// var encoder = FrameEncoder()
/// var out = ByteBuffer()
/// FrameEncoder.writePreface(into: &out)
/// try encoder.encode(.hello(Hello(versions: [1], compression: [.lz4])), into: &out)
/// try encoder.encodeMessage(request, streamID: 1, endStream: true, into: &out)
/// ```
///
/// On error nothing is written: `buffer` is left as it was.
public struct FrameEncoder {
    /// Compression chosen by the handshake; `.none` until then.
    public var compression: Compression
    /// MESSAGE payloads at least this large are compressed (when compression is on and it helps).
    public var compressionThreshold: Int
    /// The peer's maximum message size (from its HELLO): larger messages are refused before sending.
    public var maxMessageSize: Int

    private let coder = MessageCoder()
    private let lz4 = LZ4Compressor()
    private var scratch: ByteBuffer

    public init(
        compression: Compression = .none,
        compressionThreshold: Int = ProtocolDefaults.compressionThreshold,
        maxMessageSize: Int = ProtocolDefaults.maxMessageSize
    ) {
        self.compression = compression
        self.compressionThreshold = compressionThreshold
        self.maxMessageSize = maxMessageSize
        self.scratch = ByteBufferAllocator().buffer(capacity: 1024)
    }

    /// Writes the 8-byte connection preface a client sends first.
    public static func writePreface(into buffer: inout ByteBuffer) {
        buffer.writeBytes(ConnectionPreface.bytes)
    }

    /// Appends `frame` to `buffer`.
    public func encode(_ frame: FlexFrame, into buffer: inout ByteBuffer) throws(FlexCodecError) {
        switch frame {
        case .hello(let hello):
            try self.encodeControl(hello, type: .hello, stream: .connection, into: &buffer)
        case .requestHeaders(let stream, let headers):
            try self.encodeControl(headers, type: .headers, stream: stream, into: &buffer)
        case .responseHeaders(let stream, let headers):
            try self.encodeControl(headers, type: .headers, stream: stream, into: &buffer)
        case .message(let stream, let payload, let endStream):
            try payload.withUnsafeReadableBytes { bytes throws(FlexCodecError) in
                try self.writeMessage(bytes, stream: stream, endStream: endStream, into: &buffer)
            }
        case .trailers(let stream, let trailers):
            try self.encodeControl(trailers, type: .trailers, stream: stream, into: &buffer)
        case .cancel(let stream, let cancel):
            try self.encodeControl(cancel, type: .cancel, stream: stream, into: &buffer)
        case .ping(let data, let ack):
            Self.writeHeader(length: 8, type: .ping, flags: ack ? .ack : [], stream: .connection, into: &buffer)
            buffer.writeInteger(data)
        case .goAway(let goAway):
            try self.encodeControl(goAway, type: .goAway, stream: .connection, into: &buffer)
        case .windowUpdate(let stream, let increment):
            guard increment > 0, increment <= ProtocolDefaults.maxWindowSize else {
                throw FlexCodecError(
                    code: .invalidFramePayload,
                    message: "window increment must be 1...2^31-1, not \(increment)"
                )
            }
            Self.writeHeader(length: 4, type: .windowUpdate, flags: [], stream: stream, into: &buffer)
            buffer.writeInteger(increment)
        }
    }

    /// Appends a MESSAGE frame holding `message`, encoded straight from the Swift value.
    public mutating func encodeMessage<Message: FlexMessage>(
        _ message: Message,
        streamID: StreamID,
        endStream: Bool = false,
        into buffer: inout ByteBuffer
    ) throws(FlexCodecError) {
        if self.compression == .none {
            // Encode in place after a placeholder header: one pass, no copy.
            let start = buffer.writerIndex
            Self.writeHeader(
                length: 0,
                type: .message,
                flags: endStream ? .endStream : [],
                stream: streamID,
                into: &buffer
            )
            let length: Int
            do {
                length = try self.coder.encode(message, into: &buffer)
            } catch {
                buffer.moveWriterIndex(to: start)
                throw error
            }
            guard length <= self.maxMessageSize else {
                buffer.moveWriterIndex(to: start)
                throw Self.tooLarge(length, self.maxMessageSize)
            }
            buffer.setInteger(UInt32(length), at: start)
            return
        }
        self.scratch.clear()
        try self.coder.encode(message, into: &self.scratch)
        defer {
            // Do not keep a buffer the size of one huge message for the connection's lifetime.
            if self.scratch.capacity > Self.scratchRetainLimit {
                self.scratch = ByteBufferAllocator().buffer(capacity: 1024)
            }
        }
        try self.scratch.withUnsafeReadableBytes { bytes throws(FlexCodecError) in
            try self.writeMessage(bytes, stream: streamID, endStream: endStream, into: &buffer)
        }
    }

    // MARK: - Internals

    private static let scratchRetainLimit = 1 << 20

    private func encodeControl<Message: FlexMessage>(
        _ message: Message,
        type: FrameType,
        stream: StreamID,
        into buffer: inout ByteBuffer
    ) throws(FlexCodecError) {
        let start = buffer.writerIndex
        Self.writeHeader(length: 0, type: type, flags: [], stream: stream, into: &buffer)
        let length: Int
        do {
            length = try self.coder.encode(message, into: &buffer)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
        guard length <= self.maxMessageSize else {
            buffer.moveWriterIndex(to: start)
            throw Self.tooLarge(length, self.maxMessageSize)
        }
        buffer.setInteger(UInt32(length), at: start)
    }

    private func writeMessage(
        _ payload: UnsafeRawBufferPointer,
        stream: StreamID,
        endStream: Bool,
        into buffer: inout ByteBuffer
    ) throws(FlexCodecError) {
        guard payload.count <= self.maxMessageSize else {
            throw Self.tooLarge(payload.count, self.maxMessageSize)
        }
        var flags: FrameFlags = endStream ? .endStream : []
        let start = buffer.writerIndex
        Self.writeHeader(length: 0, type: .message, flags: flags, stream: stream, into: &buffer)
        if self.compression == .lz4, payload.count >= self.compressionThreshold,
            LZ4Block.compress(payload, appendingTo: &buffer, state: self.lz4)
        {
            flags.insert(.compressed)
            buffer.setInteger(flags.rawValue, at: start + 5)
        } else {
            buffer.writeBytes(payload)
        }
        buffer.setInteger(UInt32(buffer.writerIndex - start - FrameHeader.size), at: start)
    }

    private static func writeHeader(
        length: UInt32,
        type: FrameType,
        flags: FrameFlags,
        stream: StreamID,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeMultipleIntegers(length, type.rawValue, flags.rawValue, stream.rawValue)
    }

    private static func tooLarge(_ size: Int, _ limit: Int) -> FlexCodecError {
        FlexCodecError(
            code: .messageTooLarge,
            message: "message of \(size) bytes exceeds the peer's maximum message size \(limit)"
        )
    }
}

extension FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = FlexFrame

    public func encode(data: FlexFrame, out: inout ByteBuffer) throws {
        try self.encode(data, into: &out)
    }
}

@available(*, unavailable)
extension FrameEncoder: Sendable {}
