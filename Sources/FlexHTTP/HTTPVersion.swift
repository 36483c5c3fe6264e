/// The HTTP version a response was received over.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    /// The major version.
    public var major: Int
    /// The minor version.
    public var minor: Int

    /// Creates a version.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = Self(major: 1, minor: 0)
    public static let http1_1 = Self(major: 1, minor: 1)
    public static let http2 = Self(major: 2, minor: 0)

    public var description: String {
        self.major >= 2 ? "HTTP/\(self.major)" : "HTTP/\(self.major).\(self.minor)"
    }
}
