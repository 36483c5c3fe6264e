/// Where ledger records live: SQLite (``SQLiteLedgerStore``) or PostgreSQL (``PostgresLedgerStore``).
///
/// Stores do no batching of their own: ``Ledger`` hands them batches (group commit) and a store
/// writes each batch in one transaction.
public protocol LedgerStore: Sendable {
    /// Writes `records` in one transaction and returns once it has committed durably (the WAL is
    /// fsync'd), with one outcome per record, in order. The records are valid
    /// (``LedgerRecord/validate()``). A record whose (tenant, request id) is already stored, or
    /// appears earlier in the same batch, is a ``AppendOutcome/duplicate`` when equal and a
    /// ``AppendOutcome/conflict(differingFields:)`` otherwise. When this throws, nothing of the
    /// batch was committed.
    func write(_ records: [LedgerRecord]) async throws(LedgerError) -> [AppendOutcome]

    /// Totals per tenant and billing month, ordered by tenant then month.
    func monthlyTotals(_ query: ReportQuery) async throws(LedgerError) -> [MonthlyTotals]

    /// The stored record with this identity, if any.
    func record(tenant: String, requestID: String) async throws(LedgerError) -> LedgerRecord?

    /// How many records are stored (for one tenant, or all).
    func recordCount(tenant: String?) async throws(LedgerError) -> Int

    /// The schema version the store is at.
    func schemaVersion() async throws(LedgerError) -> Int

    /// Closes the connections. Calls after it fail with ``LedgerError/Code/closed``.
    func close() async
}
