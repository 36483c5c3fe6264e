/// A payload compression algorithm that peers negotiate in HELLO.
public enum Compression: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case none = 0
    /// LZ4 block format with the uncompressed length in front (PROTOCOL.md, "Compression").
    case lz4 = 1

    public var description: String {
        switch self {
        case .none: "none"
        case .lz4: "lz4"
        }
    }
}
