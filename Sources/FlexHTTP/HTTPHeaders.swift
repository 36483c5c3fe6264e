/// An ordered list of HTTP header fields with case-insensitive lookup.
///
/// Fields can be marked sensitive; the well-known credential headers (`authorization`,
/// `proxy-authorization`, `x-api-key`, `x-goog-api-key`, `api-key`, `cookie`, `set-cookie`) always
/// are. FlexHTTP never logs header values, and ``description`` (what string interpolation and
/// loggers print) shows sensitive values as `<redacted>`.
public struct HTTPHeaders: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral,
    CustomStringConvertible
{
    /// One header field.
    public struct Field: Sendable, Hashable {
        /// The field name as given (lookup ignores ASCII case).
        public var name: String
        /// The field value.
        public var value: String
        /// Whether the value is a secret; see ``HTTPHeaders/Field/isRedacted`` for the effective rule.
        public var isSensitive: Bool

        /// Creates a field.
        public init(name: String, value: String, isSensitive: Bool = false) {
            self.name = name
            self.value = value
            self.isSensitive = isSensitive
        }

        /// Whether the value is kept out of descriptions: marked sensitive, or a well-known credential
        /// header.
        public var isRedacted: Bool {
            self.isSensitive || HTTPHeaders.isWellKnownSensitiveName(self.name)
        }
    }

    private var fields: [Field]

    /// Creates an empty header list.
    public init() {
        self.fields = []
    }

    /// Creates a header list from name–value pairs, in order.
    public init(_ pairs: [(String, String)]) {
        self.fields = pairs.map { Field(name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    // MARK: Collection

    public var startIndex: Int { self.fields.startIndex }
    public var endIndex: Int { self.fields.endIndex }
    public subscript(position: Int) -> Field { self.fields[position] }

    // MARK: Editing

    /// Appends a field (keeping any existing fields of the same name).
    public mutating func add(name: String, value: String, isSensitive: Bool = false) {
        self.fields.append(Field(name: name, value: value, isSensitive: isSensitive))
    }

    /// Removes every field with this name, then appends one.
    public mutating func replaceOrAdd(name: String, value: String, isSensitive: Bool = false) {
        self.remove(name: name)
        self.add(name: name, value: value, isSensitive: isSensitive)
    }

    /// Removes every field with this name.
    public mutating func remove(name: String) {
        self.fields.removeAll { Self.namesEqual($0.name, name) }
    }

    /// Appends to the last field's value (an obs-fold continuation line); no-op when empty.
    mutating func appendToLastValue(_ text: String) {
        guard !self.fields.isEmpty else {
            return
        }
        self.fields[self.fields.count - 1].value += text
    }

    // MARK: Lookup

    /// Every value of the fields with this name, in order.
    public subscript(name: String) -> [String] {
        self.fields.lazy.filter { Self.namesEqual($0.name, name) }.map(\.value)
    }

    /// The value of the first field with this name.
    public func first(name: String) -> String? {
        self.fields.first { Self.namesEqual($0.name, name) }?.value
    }

    /// Whether a field with this name exists.
    public func contains(name: String) -> Bool {
        self.fields.contains { Self.namesEqual($0.name, name) }
    }

    // MARK: Description

    /// The fields as `name: value` lines, with sensitive values shown as `<redacted>`.
    public var description: String {
        let rendered = self.fields.map { field in
            "\(field.name): \(field.isRedacted ? "<redacted>" : field.value)"
        }
        return "[" + rendered.joined(separator: ", ") + "]"
    }

    // MARK: Rules

    /// Header names whose values are credentials whatever the caller says.
    static let wellKnownSensitiveNames: [String] = [
        "authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "set-cookie",
    ]

    static func isWellKnownSensitiveName(_ name: String) -> Bool {
        Self.wellKnownSensitiveNames.contains { Self.namesEqual($0, name) }
    }

    /// ASCII case-insensitive comparison, without allocating lowercased copies.
    static func namesEqual(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else {
            return false
        }
        let fast = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in
                Self.asciiCaseInsensitiveEqual(left, right)
            }
        }
        if let result = fast ?? nil {
            return result
        }
        return zip(lhs.utf8, rhs.utf8).allSatisfy { Self.asciiLowercased($0) == Self.asciiLowercased($1) }
    }

    /// Whether `bytes` starts with `prefix` (given in lower case), ignoring ASCII case.
    static func hasASCIICaseInsensitivePrefix(_ string: String, _ lowercasePrefix: StaticString) -> Bool {
        let prefix = UnsafeBufferPointer(start: lowercasePrefix.utf8Start, count: lowercasePrefix.utf8CodeUnitCount)
        var index = 0
        for byte in string.utf8 {
            if index == prefix.count {
                return true
            }
            if Self.asciiLowercased(byte) != prefix[index] {
                return false
            }
            index += 1
        }
        return index == prefix.count
    }

    private static func asciiCaseInsensitiveEqual(
        _ left: UnsafeBufferPointer<UInt8>,
        _ right: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        guard left.count == right.count else {
            return false
        }
        for index in 0..<left.count where Self.asciiLowercased(left[index]) != Self.asciiLowercased(right[index]) {
            return false
        }
        return true
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// RFC 9110 `tchar`.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// A field value may not contain CR, LF or NUL (header injection), nor other control characters
    /// except horizontal tab.
    static func isValidValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == UInt8(ascii: "\t") || ($0 >= 0x20 && $0 != 0x7F) }
    }
}
