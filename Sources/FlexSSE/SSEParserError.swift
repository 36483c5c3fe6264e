/// An error thrown by ``SSEParser``.
///
/// A struct wrapping a private code, so that new cases can be added without breaking callers that
/// switch over ``Code``.
public struct SSEParserError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case eventTooLarge
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// One event (all its lines, comments included, plus a line still being received) grew past
        /// the parser's maximum event size.
        public static let eventTooLarge = Self(.eventTooLarge)

        public var description: String {
            switch self.value {
            case .eventTooLarge:
                return "eventTooLarge"
            }
        }
    }

    /// What went wrong.
    public var code: Code

    /// The limit that was in force, in bytes.
    public var maximumEventSize: Int

    /// Creates an error.
    public init(code: Code, maximumEventSize: Int) {
        self.code = code
        self.maximumEventSize = maximumEventSize
    }

    public var description: String {
        "SSEParserError.\(self.code): an event exceeded the maximum event size of \(self.maximumEventSize) bytes"
    }
}
