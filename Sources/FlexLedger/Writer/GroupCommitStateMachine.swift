/// The group-commit writer's state, with no I/O: ``Ledger`` executes the actions it returns.
///
/// At most one batch is being written at a time. While it is, new records queue; when it ends,
/// everything queued (up to the batch size) becomes the next batch, so under load each
/// transaction (each fsync) carries many calls' records, and when idle a record is written at
/// once, alone. Transitions:
///
/// - `idle` → `writing` on the first append (``AppendAction/startWriter(_:)``).
/// - `writing` → `writing` when a batch ends with records queued (``BatchFinishedAction/writeNext(_:)``),
///   → `idle` when nothing is queued.
/// - `writing` → `draining` on close: no new appends; the queue is still written.
/// - `draining` → `closed` when the queue is empty; `idle` → `closed` on close.
///
/// `Element` is a queued record with its caller's continuation, `Waiter` a caller of close.
struct GroupCommitStateMachine<Element: Sendable, Waiter: Sendable>: Sendable {
    private enum State: Sendable {
        case idle
        case writing(Queue)
        case draining(Queue, closeWaiters: [Waiter])
        case closed
    }

    /// The records waiting for the next batch, and the callers parked because it was full.
    private struct Queue: Sendable {
        var queued: [Element] = []
        var parked: [Element] = []
    }

    enum AppendAction {
        /// Start the writer with this batch (the writer was idle).
        case startWriter([Element])
        /// Nothing to do: the element waits for a batch the running writer will take.
        case none
        /// Fail the element's caller with this error.
        case reject(Element, LedgerError)
    }

    enum BatchFinishedAction {
        /// Write this batch next.
        case writeNext([Element])
        /// Nothing is queued: the writer ends.
        case stop
        /// The ledger is closed and drained: the writer ends and these close callers resume.
        case stopAndResumeCloseWaiters([Waiter])
    }

    enum CloseAction {
        /// Closed already (or idle, and now closed): resume the caller.
        case resume(Waiter)
        /// A batch is being written: the caller resumes once the queue has drained.
        case wait
    }

    let configuration: GroupCommitConfiguration
    private var state: State = .idle
    /// Batches handed to the writer so far (for statistics).
    private(set) var batchesStarted = 0
    /// Records in those batches.
    private(set) var recordsStarted = 0

    init(configuration: GroupCommitConfiguration) {
        self.configuration = configuration
    }

    /// Records waiting for a batch, parked callers included.
    var waiting: Int {
        switch self.state {
        case .idle, .closed: 0
        case .writing(let queue), .draining(let queue, _): queue.queued.count + queue.parked.count
        }
    }

    mutating func append(_ element: Element) -> AppendAction {
        switch self.state {
        case .idle:
            self.state = .writing(Queue())
            return .startWriter(self.started([element]))
        case .writing(var queue):
            if queue.queued.count < self.configuration.queueCapacity {
                queue.queued.append(element)
            } else if self.configuration.whenFull == .reject {
                return .reject(
                    element,
                    LedgerError(
                        .overloaded,
                        "the ledger's queue is full (\(self.configuration.queueCapacity) records waiting)"
                    )
                )
            } else {
                queue.parked.append(element)
            }
            self.state = .writing(queue)
            return .none
        case .draining, .closed:
            return .reject(element, LedgerError(.closed, "the ledger is closed"))
        }
    }

    mutating func batchFinished() -> BatchFinishedAction {
        switch self.state {
        case .writing(var queue):
            guard let batch = self.takeBatch(&queue) else {
                self.state = .idle
                return .stop
            }
            self.state = .writing(queue)
            return .writeNext(batch)
        case .draining(var queue, let waiters):
            guard let batch = self.takeBatch(&queue) else {
                self.state = .closed
                return .stopAndResumeCloseWaiters(waiters)
            }
            self.state = .draining(queue, closeWaiters: waiters)
            return .writeNext(batch)
        case .idle, .closed:
            assertionFailure("a batch finished while no writer was running")
            return .stop
        }
    }

    mutating func close(_ waiter: Waiter) -> CloseAction {
        switch self.state {
        case .idle:
            self.state = .closed
            return .resume(waiter)
        case .writing(let queue):
            self.state = .draining(queue, closeWaiters: [waiter])
            return .wait
        case .draining(let queue, var waiters):
            waiters.append(waiter)
            self.state = .draining(queue, closeWaiters: waiters)
            return .wait
        case .closed:
            return .resume(waiter)
        }
    }

    /// Takes the next batch off the queue and moves parked callers into the space it frees.
    private mutating func takeBatch(_ queue: inout Queue) -> [Element]? {
        guard !queue.queued.isEmpty else { return nil }
        let count = min(self.configuration.maximumBatchSize, queue.queued.count)
        let batch = Array(queue.queued.prefix(count))
        queue.queued.removeFirst(count)
        let room = self.configuration.queueCapacity - queue.queued.count
        if room > 0, !queue.parked.isEmpty {
            let moved = min(room, queue.parked.count)
            queue.queued.append(contentsOf: queue.parked.prefix(moved))
            queue.parked.removeFirst(moved)
        }
        return self.started(batch)
    }

    private mutating func started(_ batch: [Element]) -> [Element] {
        self.batchesStarted += 1
        self.recordsStarted += batch.count
        return batch
    }
}
