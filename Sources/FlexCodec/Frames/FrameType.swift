/// The type byte of a frame header (PROTOCOL.md, "Frame types").
public enum FrameType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Handshake; stream 0; payload ``Hello``.
    case hello = 0x00
    /// Opens a call (client, ``RequestHeaders``) or starts its answer (server, ``ResponseHeaders``).
    case headers = 0x01
    /// One protobuf message of a call, optionally LZ4-compressed.
    case message = 0x02
    /// Ends a call; server only; payload ``Trailers``.
    case trailers = 0x03
    /// Abandons a call; client only; payload ``Cancel``.
    case cancel = 0x04
    /// Liveness check; stream 0; 8 opaque bytes, echoed with the ACK flag.
    case ping = 0x05
    /// The connection is closing or draining; stream 0; payload ``GoAway``.
    case goAway = 0x06
    /// Flow control credit for a stream's MESSAGE payloads; 4-byte increment.
    case windowUpdate = 0x07

    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .headers: "HEADERS"
        case .message: "MESSAGE"
        case .trailers: "TRAILERS"
        case .cancel: "CANCEL"
        case .ping: "PING"
        case .goAway: "GOAWAY"
        case .windowUpdate: "WINDOW_UPDATE"
        }
    }

    /// Frames about the connection use stream 0; every other frame names a call.
    public var isConnectionFrame: Bool {
        switch self {
        case .hello, .ping, .goAway: true
        case .headers, .message, .trailers, .cancel, .windowUpdate: false
        }
    }
}

/// The flags byte of a frame header. Which bits a frame may carry depends on its type; any other
/// bit is a protocol error.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// MESSAGE from a client: the client sends nothing more on this stream.
    public static let endStream = FrameFlags(rawValue: 0x01)
    /// MESSAGE: the payload is LZ4-compressed.
    public static let compressed = FrameFlags(rawValue: 0x02)
    /// PING: this is the answer.
    public static let ack = FrameFlags(rawValue: 0x01)
}

/// The fixed 10-byte header in front of every frame payload.
///
/// ```
/// +---------------+-------+-------+---------------+
/// | length (u32)  | type  | flags | stream (u32)  |   big-endian
/// +---------------+-------+-------+---------------+
/// ```
public struct FrameHeader: Sendable, Hashable {
    /// Bytes in the header.
    public static let size = 10

    /// Payload bytes after the header.
    public var length: UInt32
    /// The type byte as received (it may be a type this version does not define).
    public var type: UInt8
    public var flags: UInt8
    /// The stream field as received (it may have the reserved bit set).
    public var streamID: UInt32

    public init(length: UInt32, type: UInt8, flags: UInt8, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID
    }
}

/// The 8 bytes a client sends before its first frame: `FLEXD/1\n`.
public enum ConnectionPreface {
    public static let bytes: [UInt8] = Array("FLEXD/1\n".utf8)
}
