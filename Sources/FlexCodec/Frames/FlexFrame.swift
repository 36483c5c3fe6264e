public import NIOCore

/// A decoded frame: its type, its stream and its typed payload.
///
/// MESSAGE payloads stay bytes (already decompressed): what message they hold depends on the call's
/// method and direction, which the stream layer knows; decode them with a ``MessageCoder``.
public enum FlexFrame: Sendable, Hashable {
    case hello(Hello)
    /// HEADERS from a client: opens a call.
    case requestHeaders(StreamID, RequestHeaders)
    /// HEADERS from the server: starts the answer.
    case responseHeaders(StreamID, ResponseHeaders)
    case message(StreamID, ByteBuffer, endStream: Bool)
    case trailers(StreamID, Trailers)
    case cancel(StreamID, Cancel)
    case ping(UInt64, ack: Bool)
    case goAway(GoAway)
    case windowUpdate(StreamID, increment: UInt32)

    public var type: FrameType {
        switch self {
        case .hello: .hello
        case .requestHeaders, .responseHeaders: .headers
        case .message: .message
        case .trailers: .trailers
        case .cancel: .cancel
        case .ping: .ping
        case .goAway: .goAway
        case .windowUpdate: .windowUpdate
        }
    }

    /// The stream the frame belongs to; ``StreamID/connection`` for connection frames.
    public var streamID: StreamID {
        switch self {
        case .hello, .ping, .goAway:
            .connection
        case .requestHeaders(let id, _), .responseHeaders(let id, _), .message(let id, _, _),
            .trailers(let id, _), .cancel(let id, _), .windowUpdate(let id, _):
            id
        }
    }
}
