/// An HTTP request method.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The method as sent on the wire, e.g. `"POST"`.
    public var rawValue: String

    /// Creates a method from its wire form. `HTTPClient.execute(_:logger:)` rejects a method that is
    /// not an RFC 9110 token with ``HTTPClientError/Code/invalidRequest``.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public static let GET = Self(rawValue: "GET")
    public static let HEAD = Self(rawValue: "HEAD")
    public static let POST = Self(rawValue: "POST")
    public static let PUT = Self(rawValue: "PUT")
    public static let PATCH = Self(rawValue: "PATCH")
    public static let DELETE = Self(rawValue: "DELETE")
    public static let OPTIONS = Self(rawValue: "OPTIONS")

    public var description: String {
        self.rawValue
    }

    /// Whether the method is a non-empty RFC 9110 token (`tchar` only).
    var isValidToken: Bool {
        !self.rawValue.isEmpty && self.rawValue.utf8.allSatisfy(HTTPHeaders.isTokenCharacter)
    }
}
