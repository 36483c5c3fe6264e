/// A ledger failure: a stable code for programs and logs, and a message for people.
///
/// Messages never carry a secret: store errors are described by the database's own message and
/// SQLSTATE, and ledger locations by ``LedgerLocation/description``, which hides passwords.
public struct LedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a stable snake_case code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case invalidLocation = "invalid_location"
            case invalidRecord = "invalid_record"
            case corruptRecord = "corrupt_record"
            case notFound = "ledger_not_found"
            case schemaTooNew = "schema_too_new"
            case schemaMismatch = "schema_mismatch"
            case notDurable = "not_durable"
            case storeFailed = "store_failed"
            case unavailable = "store_unavailable"
            case overloaded = "overloaded"
            case closed = "closed"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The `--ledger` value is not `sqlite:PATH` or a `postgres://` URL.
        public static let invalidLocation = Self(.invalidLocation)
        /// The record cannot be stored (empty identity, a count out of range, money out of rule).
        public static let invalidRecord = Self(.invalidRecord)
        /// A stored row cannot be read by this version.
        public static let corruptRecord = Self(.corruptRecord)
        /// The ledger to read does not exist (reports never create one).
        public static let notFound = Self(.notFound)
        /// The ledger's schema is newer than this flexd knows: upgrade flexd.
        public static let schemaTooNew = Self(.schemaTooNew)
        /// The ledger's applied migrations differ from this flexd's.
        public static let schemaMismatch = Self(.schemaMismatch)
        /// The store is configured so that a commit would not be durable.
        public static let notDurable = Self(.notDurable)
        /// The database failed the operation (I/O error, disk full, a constraint).
        public static let storeFailed = Self(.storeFailed)
        /// The database cannot be reached (no connection, or the connection was lost).
        public static let unavailable = Self(.unavailable)
        /// The group-commit queue is full and the ledger is set to refuse rather than wait.
        public static let overloaded = Self(.overloaded)
        /// The ledger was closed.
        public static let closed = Self(.closed)

        public var description: String { self.value.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code): \(self.message)" }
}
