public import NIOCore

/// Turns bytes from a peer into ``FlexFrame``s, incrementally: the input may be split at any byte.
///
/// The decoder validates everything it can see without knowing the state of each call:
/// - the connection preface (server side), failing at the first wrong byte, and HELLO as the first
///   frame (GOAWAY aside: a server may refuse a connection before saying HELLO) and only once;
/// - every header field, **before** buffering the payload: a length over ``maxMessageSize``, an
///   unknown type, undefined flags, a stream id that is zero where it must not be (or non-zero on
///   a connection frame), and a frame type the peer's role may not send;
/// - server side: that each HEADERS opens a stream id higher than every earlier one, and that
///   other stream frames name a stream that was opened;
/// - compressed payloads (declared size bounded before allocating, exact LZ4 decompression);
/// - control-frame payloads (protobuf, enum values, UTF-8, fixed sizes).
///
/// Any error is a connection error: the caller should send GOAWAY with the error's
/// ``FlexCodecError/errorCode`` and ``FlexCodecError/statusCode`` (``FlexCodecError/goAway(lastStreamID:)``), then close.
///
/// It is a `NIOSingleStepByteToMessageDecoder`, so it runs in a channel pipeline
/// (`ByteToMessageHandler`), over a plain buffer (`NIOSingleStepByteToMessageProcessor`), or over an
/// `AsyncSequence` of buffers.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = FlexFrame

    /// Which side of the connection is decoding.
    public enum Role: Sendable, Hashable {
        /// Decodes what a server sends.
        case client
        /// Decodes what a client sends; expects the connection preface first.
        case server
    }

    public let role: Role
    /// Largest frame payload, and largest decompressed message, accepted. Checked from the header.
    public var maxMessageSize: Int
    /// Whether compressed MESSAGE frames are accepted (set once the handshake chose LZ4).
    public var compression: Compression = .none

    /// Frames and payload bytes seen, for metrics.
    public private(set) var statistics = Statistics()

    public struct Statistics: Sendable, Hashable {
        /// Frames decoded.
        public var frames: Int = 0
        /// MESSAGE frames that arrived compressed.
        public var compressedMessages: Int = 0
        /// Payload bytes of compressed MESSAGE frames as received.
        public var compressedBytes: Int = 0
        /// The same payloads after decompression.
        public var decompressedBytes: Int = 0
    }

    private var prefaceBytesSeen: Int
    private var helloSeen = false
    private var highestOpenedStream: UInt32 = 0
    private let coder: MessageCoder
    private let allocator = ByteBufferAllocator()

    /// Creates a decoder.
    /// - Parameters:
    ///   - role: The side that decodes.
    ///   - maxMessageSize: The local limit announced in HELLO (default 4 MiB).
    public init(role: Role, maxMessageSize: Int = ProtocolDefaults.maxMessageSize) {
        self.role = role
        self.maxMessageSize = maxMessageSize
        self.prefaceBytesSeen = role == .server ? 0 : ConnectionPreface.bytes.count
        self.coder = MessageCoder()
    }

    public mutating func decode(buffer: inout ByteBuffer) throws(FlexCodecError) -> FlexFrame? {
        if self.prefaceBytesSeen < ConnectionPreface.bytes.count {
            guard try self.consumePreface(&buffer) else { return nil }
        }
        guard let header = try self.peekHeader(buffer) else { return nil }
        let total = FrameHeader.size + Int(header.length)
        guard buffer.readableBytes >= total else { return nil }
        buffer.moveReaderIndex(forwardBy: FrameHeader.size)
        let payload = buffer.readSlice(length: Int(header.length))!
        let frame = try self.makeFrame(header, payload: payload)
        self.statistics.frames += 1
        return frame
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws(FlexCodecError) -> FlexFrame? {
        if let frame = try self.decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 {
            throw FlexCodecError(
                code: .truncatedFrame,
                message: "connection ended with \(buffer.readableBytes) bytes of an incomplete frame"
            )
        }
        return nil
    }

    // MARK: - Steps

    /// Checks the preface as its bytes arrive, so a peer speaking another protocol is rejected at
    /// its first wrong byte. Returns true once all 8 bytes are consumed.
    private mutating func consumePreface(_ buffer: inout ByteBuffer) throws(FlexCodecError) -> Bool {
        let expected = ConnectionPreface.bytes
        while self.prefaceBytesSeen < expected.count, let byte = buffer.readInteger(as: UInt8.self) {
            guard byte == expected[self.prefaceBytesSeen] else {
                throw FlexCodecError(
                    code: .invalidPreface,
                    message: "connection does not start with the flexinference preface \"FLEXD/1\\n\""
                )
            }
            self.prefaceBytesSeen += 1
        }
        return self.prefaceBytesSeen == expected.count
    }

    /// Reads and validates the header without consuming it; nil until all 10 bytes are there.
    private func peekHeader(_ buffer: ByteBuffer) throws(FlexCodecError) -> FrameHeader? {
        let index = buffer.readerIndex
        guard
            let length = buffer.getInteger(at: index, as: UInt32.self),
            let type = buffer.getInteger(at: index + 4, as: UInt8.self),
            let flags = buffer.getInteger(at: index + 5, as: UInt8.self),
            let stream = buffer.getInteger(at: index + 6, as: UInt32.self)
        else { return nil }
        let header = FrameHeader(length: length, type: type, flags: flags, streamID: stream)
        try self.validate(header)
        return header
    }

    private func validate(_ header: FrameHeader) throws(FlexCodecError) {
        guard let type = FrameType(rawValue: header.type) else {
            throw FlexCodecError(
                code: .unknownFrameType,
                message: "frame type 0x\(String(header.type, radix: 16)) is not defined"
            )
        }
        if Int(header.length) > self.maxMessageSize {
            throw FlexCodecError(
                code: .frameTooLarge,
                message:
                    "\(type) frame of \(header.length) bytes exceeds the maximum message size \(self.maxMessageSize)"
            )
        }
        let allowed = Self.allowedFlags(type, role: self.role)
        if header.flags & ~allowed.rawValue != 0 {
            throw FlexCodecError(
                code: .invalidFlags,
                message:
                    "flags 0x\(String(header.flags, radix: 16)) are not defined for \(type) from a \(self.peerName)"
            )
        }
        guard let streamID = StreamID(validating: header.streamID) else {
            throw FlexCodecError(code: .invalidStreamID, message: "\(type) frame has the reserved stream-id bit set")
        }
        if type.isConnectionFrame != (streamID == .connection) {
            throw FlexCodecError(
                code: .invalidStreamID,
                message: type.isConnectionFrame
                    ? "\(type) must be sent on stream 0, not \(streamID)" : "\(type) must not be sent on stream 0"
            )
        }
        if !Self.mayReceive(type, role: self.role) {
            throw FlexCodecError(code: .frameNotAllowed, message: "a \(self.peerName) may not send \(type) frames")
        }
        if self.helloSeen == (type == .hello), type != .goAway {
            throw FlexCodecError(
                code: .frameNotAllowed,
                message: self.helloSeen ? "HELLO may be sent only once" : "the first frame must be HELLO, not \(type)"
            )
        }
        if self.role == .server, !type.isConnectionFrame {
            if type == .headers {
                if streamID.rawValue <= self.highestOpenedStream {
                    throw FlexCodecError(
                        code: .streamIDReused,
                        message:
                            "HEADERS on stream \(streamID), not above the highest stream already opened (\(self.highestOpenedStream))"
                    )
                }
            } else if streamID.rawValue > self.highestOpenedStream {
                throw FlexCodecError(
                    code: .invalidStreamID,
                    message: "\(type) on stream \(streamID), which was never opened"
                )
            }
        }
    }

    private mutating func makeFrame(_ header: FrameHeader, payload: ByteBuffer) throws(FlexCodecError) -> FlexFrame {
        // validate(_:) has accepted the type and stream id.
        let type = FrameType(rawValue: header.type)!
        let stream = StreamID(header.streamID)
        let flags = FrameFlags(rawValue: header.flags)
        switch type {
        case .hello:
            let hello = try self.coder.decode(Hello.self, from: payload)
            self.helloSeen = true
            return .hello(hello)
        case .headers:
            switch self.role {
            case .server:
                let headers = try self.coder.decode(RequestHeaders.self, from: payload)
                self.highestOpenedStream = stream.rawValue
                return .requestHeaders(stream, headers)
            case .client:
                return .responseHeaders(stream, try self.coder.decode(ResponseHeaders.self, from: payload))
            }
        case .message:
            var payload = payload
            if flags.contains(.compressed) {
                guard self.compression == .lz4 else {
                    throw FlexCodecError(
                        code: .compressionNotNegotiated,
                        message: "compressed MESSAGE on stream \(stream) but compression was not negotiated"
                    )
                }
                let compressedSize = payload.readableBytes
                payload = try LZ4Block.decompress(payload, limit: self.maxMessageSize, allocator: self.allocator)
                self.statistics.compressedMessages += 1
                self.statistics.compressedBytes += compressedSize
                self.statistics.decompressedBytes += payload.readableBytes
            }
            return .message(stream, payload, endStream: flags.contains(.endStream))
        case .trailers:
            return .trailers(stream, try self.coder.decode(Trailers.self, from: payload))
        case .cancel:
            return .cancel(stream, try self.coder.decode(Cancel.self, from: payload))
        case .ping:
            guard payload.readableBytes == 8, let data = payload.getInteger(at: payload.readerIndex, as: UInt64.self)
            else {
                throw FlexCodecError(
                    code: .invalidFramePayload,
                    message: "PING payload must be 8 bytes, not \(payload.readableBytes)"
                )
            }
            return .ping(data, ack: flags.contains(.ack))
        case .goAway:
            return .goAway(try self.coder.decode(GoAway.self, from: payload))
        case .windowUpdate:
            guard payload.readableBytes == 4,
                let increment = payload.getInteger(at: payload.readerIndex, as: UInt32.self)
            else {
                throw FlexCodecError(
                    code: .invalidFramePayload,
                    message: "WINDOW_UPDATE payload must be 4 bytes, not \(payload.readableBytes)"
                )
            }
            guard increment > 0, increment <= ProtocolDefaults.maxWindowSize else {
                throw FlexCodecError(
                    code: .invalidFramePayload,
                    message: "WINDOW_UPDATE increment must be 1...\(ProtocolDefaults.maxWindowSize), not \(increment)"
                )
            }
            return .windowUpdate(stream, increment: increment)
        }
    }

    // MARK: - Rules

    private var peerName: String { self.role == .server ? "client" : "server" }

    /// Flag bits defined for a frame type sent by the peer of `role`.
    static func allowedFlags(_ type: FrameType, role: Role) -> FrameFlags {
        switch type {
        case .message: role == .server ? [.endStream, .compressed] : [.compressed]
        case .ping: [.ack]
        case .hello, .headers, .trailers, .cancel, .goAway, .windowUpdate: []
        }
    }

    /// Whether the side with `role` may receive `type` (that is, whether its peer may send it).
    static func mayReceive(_ type: FrameType, role: Role) -> Bool {
        switch type {
        case .trailers: role == .client
        case .cancel: role == .server
        case .hello, .headers, .message, .ping, .goAway, .windowUpdate: true
        }
    }
}

@available(*, unavailable)
extension FrameDecoder: Sendable {}
