/// What ``Ledger/append(_:)`` did with a record. Every outcome is durable when it is returned.
public enum AppendOutcome: Sendable, Hashable {
    /// The record was new and is now stored.
    case recorded
    /// The same record (equal in every field) was already stored: nothing changed. This is how a
    /// retried append, after a crash or a lost acknowledgement, stays exactly-once.
    case duplicate
    /// A *different* record with the same (tenant, request id) was already stored. The first
    /// record stays as it was (the ledger never merges or overwrites); the second is kept apart in
    /// the `ledger_conflicts` table and counted in the report's `conflicts` column, for a person
    /// to look at. It usually means a caller reused a request id for another call.
    case conflict(differingFields: [String])
}
