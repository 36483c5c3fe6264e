/// Identifies one call on a connection.
///
/// Clients choose ids: non-zero, at most 2^31 - 1, strictly increasing on a connection. Id 0 means
/// the connection itself (HELLO, PING, GOAWAY).
public struct StreamID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt32

    /// The largest stream id (the top bit is reserved).
    public static let max = StreamID(0x7FFF_FFFF)
    /// Id 0: frames about the connection rather than a call.
    public static let connection = StreamID(0)

    /// An id; traps if the reserved top bit is set.
    public init(_ rawValue: UInt32) {
        precondition(rawValue <= 0x7FFF_FFFF, "stream ids are at most 2^31 - 1")
        self.rawValue = rawValue
    }

    /// An id read from the wire; nil when the reserved top bit is set.
    public init?(validating rawValue: UInt32) {
        guard rawValue <= 0x7FFF_FFFF else { return nil }
        self.rawValue = rawValue
    }

    public init(integerLiteral value: UInt32) {
        self.init(value)
    }

    public static func < (lhs: StreamID, rhs: StreamID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(self.rawValue) }
}
