/// What the two HELLO frames settled for a connection.
public struct NegotiatedConnection: Sendable, Hashable {
    /// The protocol version both sides speak.
    public var version: UInt32
    /// The compression both sides use for MESSAGE payloads.
    public var compression: Compression
    /// What this side accepts (it decodes with these).
    public var localLimits: ResolvedLimits
    /// What the peer accepts (this side must encode within these).
    public var peerLimits: ResolvedLimits

    public init(version: UInt32, compression: Compression, localLimits: ResolvedLimits, peerLimits: ResolvedLimits) {
        self.version = version
        self.compression = compression
        self.localLimits = localLimits
        self.peerLimits = peerLimits
    }
}

/// ``Limits`` with the protocol defaults filled in and the bounds checked.
public struct ResolvedLimits: Sendable, Hashable {
    public var maxMessageSize: Int
    public var maxConcurrentStreams: Int
    public var initialWindowSize: Int

    /// The protocol defaults: 4 MiB messages, 100 streams, 1 MiB windows.
    public static let defaults = ResolvedLimits(
        maxMessageSize: ProtocolDefaults.maxMessageSize,
        maxConcurrentStreams: ProtocolDefaults.maxConcurrentStreams,
        initialWindowSize: ProtocolDefaults.initialWindowSize
    )

    public init(maxMessageSize: Int, maxConcurrentStreams: Int, initialWindowSize: Int) {
        self.maxMessageSize = maxMessageSize
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialWindowSize = initialWindowSize
    }

    /// Resolves announced limits: zero means the default; values outside the protocol's bounds
    /// (PROTOCOL.md, "Limits") are rejected with ``FlexCodecError/Code/invalidLimits``.
    public init(_ limits: Limits) throws(FlexCodecError) {
        let maxMessageSize = limits.maxMessageSize == 0 ? ProtocolDefaults.maxMessageSize : Int(limits.maxMessageSize)
        guard (ProtocolDefaults.minimumMaxMessageSize...ProtocolDefaults.maximumMaxMessageSize).contains(maxMessageSize)
        else {
            throw FlexCodecError(
                code: .invalidLimits,
                message:
                    "max_message_size \(maxMessageSize) is outside \(ProtocolDefaults.minimumMaxMessageSize)...\(ProtocolDefaults.maximumMaxMessageSize)"
            )
        }
        let windowSize =
            limits.initialWindowSize == 0 ? ProtocolDefaults.initialWindowSize : Int(limits.initialWindowSize)
        guard windowSize <= Int(ProtocolDefaults.maxWindowSize) else {
            throw FlexCodecError(code: .invalidLimits, message: "initial_window_size \(windowSize) is over 2^31-1")
        }
        self.init(
            maxMessageSize: maxMessageSize,
            maxConcurrentStreams: limits.maxConcurrentStreams == 0
                ? ProtocolDefaults.maxConcurrentStreams : Int(limits.maxConcurrentStreams),
            initialWindowSize: windowSize
        )
    }

    /// These limits as announced in a HELLO.
    public var announced: Limits {
        Limits(
            maxMessageSize: UInt32(self.maxMessageSize),
            maxConcurrentStreams: UInt32(clamping: self.maxConcurrentStreams),
            initialWindowSize: UInt32(self.initialWindowSize)
        )
    }
}

/// The HELLO exchange (PROTOCOL.md, "Handshake") as pure functions, shared by server and client.
public enum Handshake {
    /// The server's side: picks the version and compression for a client's HELLO and builds the
    /// answer.
    ///
    /// - Parameters:
    ///   - client: The client's HELLO.
    ///   - limits: What the server accepts.
    ///   - compression: Algorithms the server supports (`[.lz4]` or `[]`).
    ///   - versions: Versions the server speaks.
    ///   - agent: The server's name for the client's logs.
    /// - Returns: The HELLO to send back and the settings for the connection.
    /// - Throws: ``FlexCodecError/Code/unsupportedVersion`` when no version is shared,
    ///   ``FlexCodecError/Code/invalidLimits`` when the client's limits are out of bounds. The
    ///   server then sends GOAWAY with the error's status and closes.
    public static func answer(
        _ client: Hello,
        limits: ResolvedLimits = .defaults,
        compression: [Compression] = [.lz4],
        versions: [UInt32] = ProtocolDefaults.supportedVersions,
        agent: String = ""
    ) throws(FlexCodecError) -> (hello: Hello, negotiated: NegotiatedConnection) {
        guard let version = client.versions.filter(versions.contains).max() else {
            throw FlexCodecError(
                code: .unsupportedVersion,
                message: "client offers protocol versions \(client.versions); this server speaks \(versions)"
            )
        }
        let chosen = client.compression.first { $0 != .none && compression.contains($0) } ?? .none
        let peerLimits = try ResolvedLimits(client.limits)
        let hello = Hello(
            versions: [version],
            compression: chosen == .none ? [] : [chosen],
            limits: limits.announced,
            agent: agent
        )
        return (
            hello,
            NegotiatedConnection(version: version, compression: chosen, localLimits: limits, peerLimits: peerLimits)
        )
    }

    /// The client's side: checks the server's answer against what the client offered.
    ///
    /// - Throws: ``FlexCodecError/Code/unsupportedVersion`` when the server chose a version or an
    ///   algorithm the client did not offer, ``FlexCodecError/Code/invalidLimits`` for out-of-bound
    ///   limits.
    public static func accept(_ server: Hello, offered: Hello) throws(FlexCodecError) -> NegotiatedConnection {
        guard server.versions.count == 1, let version = server.versions.first, offered.versions.contains(version) else {
            throw FlexCodecError(
                code: .unsupportedVersion,
                message: "server answered versions \(server.versions); the client offered \(offered.versions)"
            )
        }
        let compression: Compression
        switch server.compression.count {
        case 0:
            compression = .none
        case 1 where server.compression[0] == .none || offered.compression.contains(server.compression[0]):
            compression = server.compression[0]
        default:
            throw FlexCodecError(
                code: .unsupportedVersion,
                message: "server chose compression \(server.compression); the client offered \(offered.compression)"
            )
        }
        return NegotiatedConnection(
            version: version,
            compression: compression,
            localLimits: try ResolvedLimits(offered.limits),
            peerLimits: try ResolvedLimits(server.limits)
        )
    }
}

/// Hands out a client's stream ids: 1, 2, 3, ... up to 2^31 - 1.
public struct StreamIDGenerator: Sendable, Hashable {
    private var next: UInt32 = 1

    public init() {}

    /// A generator whose next id is `next` (tests use it to reach the end of the id space).
    init(next: UInt32) { self.next = next }

    /// The next id, or nil when the connection has used them all (open a new connection).
    public mutating func nextID() -> StreamID? {
        guard let id = StreamID(validating: self.next), id != .connection else { return nil }
        self.next &+= 1
        return id
    }
}
