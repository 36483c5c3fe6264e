import Testing

/// Every store test, on both stores: a real SQLite file, and a real PostgreSQL server that this
/// suite starts for itself (see ``PostgresTestServer``). The nested suites are in the files named
/// after them.
@Suite(.postgresServer)
struct LedgerStoreTests {}
