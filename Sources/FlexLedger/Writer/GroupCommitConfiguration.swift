/// How a ``Ledger`` batches appends into transactions.
public struct GroupCommitConfiguration: Sendable, Hashable {
    /// What ``Ledger/append(_:)`` does when ``queueCapacity`` records already wait for a batch.
    public enum FullQueuePolicy: Sendable, Hashable {
        /// The caller waits (suspended, holding no thread) until its record fits: backpressure.
        case wait
        /// The caller gets ``LedgerError/Code/overloaded`` at once.
        case reject
    }

    /// The most records one transaction (one fsync) carries.
    public var maximumBatchSize: Int
    /// The most records waiting for the next batch while one is being written.
    public var queueCapacity: Int
    public var whenFull: FullQueuePolicy

    /// - Parameters:
    ///   - maximumBatchSize: At least 1; 1 turns group commit off (one transaction per record).
    ///   - queueCapacity: At least 1.
    ///   - whenFull: ``FullQueuePolicy/wait`` by default.
    public init(maximumBatchSize: Int = 256, queueCapacity: Int = 4096, whenFull: FullQueuePolicy = .wait) {
        self.maximumBatchSize = max(1, maximumBatchSize)
        self.queueCapacity = max(1, queueCapacity)
        self.whenFull = whenFull
    }

    /// The defaults: up to 256 records per transaction, 4,096 waiting, callers wait when full.
    public static let defaults = GroupCommitConfiguration()

    /// One transaction per record: for comparison in the benchmark.
    public static let unbatched = GroupCommitConfiguration(maximumBatchSize: 1)
}
