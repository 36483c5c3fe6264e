/// The first frame each side sends (PROTOCOL.md, "Handshake").
///
/// The client lists every protocol version and compression algorithm it supports; the server
/// answers with exactly one version and at most one algorithm.
public struct Hello: Sendable, Hashable {
    /// Client: every version it speaks. Server: the chosen one (a single element).
    public var versions: [UInt32]
    /// Client: algorithms it supports, preferred first. Server: the chosen one, or empty.
    public var compression: [Compression]
    /// What the sender is willing to receive.
    public var limits: Limits
    /// Implementation name and version, for logs only.
    public var agent: String

    public init(versions: [UInt32], compression: [Compression] = [], limits: Limits = Limits(), agent: String = "") {
        self.versions = versions
        self.compression = compression
        self.limits = limits
        self.agent = agent
    }
}

/// The limits a peer announces for what it is willing to receive. Zero means the protocol default.
public struct Limits: Sendable, Hashable {
    /// Largest frame payload, and largest message after decompression, in bytes.
    public var maxMessageSize: UInt32
    /// How many calls may be open at once on the connection.
    public var maxConcurrentStreams: UInt32
    /// Initial per-stream flow-control window for MESSAGE payload bytes.
    public var initialWindowSize: UInt32

    public init(maxMessageSize: UInt32 = 0, maxConcurrentStreams: UInt32 = 0, initialWindowSize: UInt32 = 0) {
        self.maxMessageSize = maxMessageSize
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialWindowSize = initialWindowSize
    }
}

/// Sent before a peer closes the connection, or to start a graceful drain.
public struct GoAway: Sendable, Hashable {
    /// The highest stream id the sender processed or will process; higher ids were not processed
    /// and may be retried on another connection.
    public var lastStreamID: StreamID
    /// `StatusCode.ok` for a graceful drain, otherwise why the connection is closing.
    public var code: StatusCode
    public var message: String
    /// Machine-readable reason, e.g. `protocol_error`, `server_shutting_down`.
    public var errorCode: String

    public init(lastStreamID: StreamID, code: StatusCode = .ok, message: String = "", errorCode: String = "") {
        self.lastStreamID = lastStreamID
        self.code = code
        self.message = message
        self.errorCode = errorCode
    }

    /// A GOAWAY for `error`: with the table's status, or OK when `graceful` (a drain, an idle
    /// connection: the calls up to ``lastStreamID`` are or were served normally).
    public init(
        lastStreamID: StreamID,
        _ error: ErrorCode,
        _ message: String,
        graceful: Bool = false,
        status: StatusCode? = nil
    ) {
        let code = graceful ? StatusCode.ok : (status ?? error.status)
        assert(error.allows(code), "\(error) is never sent with \(code)")
        self.init(lastStreamID: lastStreamID, code: code, message: message, errorCode: error.name)
    }
}
