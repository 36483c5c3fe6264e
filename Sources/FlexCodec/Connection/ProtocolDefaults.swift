/// The numbers PROTOCOL.md fixes: versions, default limits and their bounds.
public enum ProtocolDefaults {
    /// The protocol versions this implementation speaks.
    public static let supportedVersions: [UInt32] = [1]

    /// Default largest frame payload / decompressed message: 4 MiB.
    public static let maxMessageSize = 4 * 1024 * 1024
    /// No peer may announce a maximum message size below this (16 KiB)...
    public static let minimumMaxMessageSize = 16 * 1024
    /// ...or above this (64 MiB).
    public static let maximumMaxMessageSize = 64 * 1024 * 1024

    /// Default concurrent calls per connection.
    public static let maxConcurrentStreams = 100

    /// Default initial per-stream window for MESSAGE payload bytes: 1 MiB.
    public static let initialWindowSize = 1024 * 1024
    /// The largest window and window increment: 2^31 - 1.
    public static let maxWindowSize: UInt32 = 0x7FFF_FFFF

    /// Payloads smaller than this are not worth compressing (default sender threshold).
    public static let compressionThreshold = 1024
}
