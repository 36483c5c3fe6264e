public import Logging
internal import NIOConcurrencyHelpers

/// The savings ledger: durable, exactly-once records of billed calls, written with group commit.
///
/// ```swift
/// let ledger = try await Ledger.open(try LedgerLocation(parsing: "sqlite:/var/lib/flexd/ledger.sqlite"))
/// let outcome = try await ledger.append(record)   // durable when it returns
/// await ledger.close()
/// ```
///
/// **Durability**: ``append(_:)`` returns only after the transaction that holds the record has
/// committed (SQLite: WAL with `synchronous=FULL`, the WAL fsync'd; PostgreSQL:
/// `synchronous_commit=on`, the server's WAL flushed). A crash at any point loses only records
/// whose append had not returned.
///
/// **Group commit**: one batch is written at a time. Records appended while it commits wait in a
/// bounded queue and go together in the next transaction (up to
/// ``GroupCommitConfiguration/maximumBatchSize``), so many calls share one fsync. An append to an
/// idle ledger is written at once, alone: there is no timer and no added wait.
///
/// **Failures**: when a batch fails, its records are retried one per transaction, so one bad
/// record cannot fail its neighbours; a record that still fails gets the error. When the store is
/// unreachable (`store_unavailable`: PostgreSQL's pool gives up after about a minute) or closed,
/// the whole batch fails at once. A failed append may still have committed (a connection lost
/// during COMMIT): appending the record again is safe, it is then a duplicate.
///
/// Appends are not cancellable: a call that cost money is recorded even if its caller has gone.
public final class Ledger: Sendable {
    /// The store records go to.
    public let store: any LedgerStore
    private let logger: Logger
    private let machine: NIOLockedValueBox<GroupCommitStateMachine<Pending, CheckedContinuation<Void, Never>>>

    private struct Pending: Sendable {
        var record: LedgerRecord
        var continuation: CheckedContinuation<Result<AppendOutcome, LedgerError>, Never>
    }

    /// A ledger writing to `store`.
    public init(
        store: any LedgerStore,
        configuration: GroupCommitConfiguration = .defaults,
        logger: Logger = Logger(label: "flexd.ledger", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.store = store
        self.logger = logger
        self.machine = NIOLockedValueBox(GroupCommitStateMachine(configuration: configuration))
    }

    /// Opens the store at `location` (creating and migrating it as needed) and a ledger on it.
    public static func open(
        _ location: LedgerLocation,
        configuration: GroupCommitConfiguration = .defaults,
        logger: Logger = Logger(label: "flexd.ledger", factory: { _ in SwiftLogNoOpLogHandler() })
    )
        async throws(LedgerError) -> Ledger
    {
        let store = try await location.openStore(logger: logger)
        return Ledger(store: store, configuration: configuration, logger: logger)
    }

    /// Stores `record` and returns once it is durable.
    ///
    /// - Returns: ``AppendOutcome/recorded``, ``AppendOutcome/duplicate`` (the same record was
    ///   already stored) or ``AppendOutcome/conflict(differingFields:)`` (another record holds
    ///   this tenant and request id; it is kept, this one is set apart and counted).
    /// - Throws: ``LedgerError``: `invalid_record` before anything is queued; `closed`,
    ///   `overloaded` (only with ``GroupCommitConfiguration/FullQueuePolicy/reject``), or the
    ///   store's error when the record could not be committed.
    public func append(_ record: LedgerRecord) async throws(LedgerError) -> AppendOutcome {
        try record.validate()
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<AppendOutcome, LedgerError>, Never>) in
            let action = self.machine.withLockedValue { $0.append(Pending(record: record, continuation: continuation)) }
            switch action {
            case .startWriter(let batch):
                Task { await self.runWriter(first: batch) }
            case .none:
                break
            case .reject(let pending, let error):
                pending.continuation.resume(returning: .failure(error))
            }
        }
        return try result.get()
    }

    /// Writes what is queued, refuses new appends, then closes the store.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            switch self.machine.withLockedValue({ $0.close(continuation) }) {
            case .resume(let waiter): waiter.resume()
            case .wait: break
            }
        }
        await self.store.close()
    }

    /// The monthly fee report (``ReportQuery``), straight from the store.
    public func report(_ query: ReportQuery = ReportQuery()) async throws(LedgerError) -> [MonthlyTotals] {
        try await self.store.monthlyTotals(query)
    }

    /// What the group-commit writer has done so far.
    public var statistics: Statistics {
        self.machine.withLockedValue {
            Statistics(batches: $0.batchesStarted, records: $0.recordsStarted, waiting: $0.waiting)
        }
    }

    /// Counters of the group-commit writer.
    public struct Statistics: Sendable, Hashable {
        /// Transactions started.
        public var batches: Int
        /// Records in them.
        public var records: Int
        /// Records waiting for a batch now.
        public var waiting: Int

        public init(batches: Int, records: Int, waiting: Int) {
            self.batches = batches
            self.records = records
            self.waiting = waiting
        }
    }

    // MARK: - The writer

    private func runWriter(first: [Pending]) async {
        var batch = first
        while true {
            let results = await self.write(batch.map(\.record))
            for (pending, result) in zip(batch, results) {
                pending.continuation.resume(returning: result)
            }
            switch self.machine.withLockedValue({ $0.batchFinished() }) {
            case .writeNext(let next):
                batch = next
            case .stop:
                return
            case .stopAndResumeCloseWaiters(let waiters):
                for waiter in waiters { waiter.resume() }
                return
            }
        }
    }

    /// Writes a batch; if it fails, writes its records one per transaction.
    private func write(_ records: [LedgerRecord]) async -> [Result<AppendOutcome, LedgerError>] {
        do {
            let outcomes = try await self.store.write(records)
            for (record, outcome) in zip(records, outcomes) {
                if case .conflict(let fields) = outcome {
                    self.logger.warning(
                        "ledger conflict: a different record already holds this request id",
                        metadata: [
                            "tenant": "\(record.tenant)", "request_id": "\(record.requestID)",
                            "differing_fields": "\(fields.joined(separator: ","))",
                        ]
                    )
                }
            }
            return outcomes.map { .success($0) }
        } catch {
            self.logger.error("ledger batch failed", metadata: ["records": "\(records.count)", "error": "\(error)"])
            // Retrying one by one isolates a bad record; it cannot help when the store is
            // unreachable or closed, and would only multiply the wait.
            guard records.count > 1, error.code != .unavailable, error.code != .closed else {
                return records.map { _ in .failure(error) }
            }
            var results: [Result<AppendOutcome, LedgerError>] = []
            for record in records {
                do {
                    results.append(.success(try await self.store.write([record])[0]))
                } catch {
                    results.append(.failure(error))
                }
            }
            return results
        }
    }
}
