/// A value as stored in one ledger column: the common ground of SQLite's and PostgreSQL's types.
enum LedgerValue: Sendable, Hashable {
    case text(String)
    case int(Int64)
    case bool(Bool)
    case null
}

/// The SQL type of a ledger column.
enum LedgerColumnType: Sendable {
    case text
    case optionalText
    case int
    case bool
}
