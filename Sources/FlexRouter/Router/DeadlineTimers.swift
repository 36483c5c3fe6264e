internal import Dispatch
internal import Synchronization

/// The one Dispatch timer behind every armed ``DeadlineSignal``: the signals sit in a min-heap by
/// deadline, and the timer is set for the earliest.
///
/// One Dispatch timer source per signal cost about a kilobyte for each waiting flex call (the
/// source, its handler, its registration), and a creation and a cancellation per attempt. A slot in
/// this heap costs a deadline and a reference; arming and disarming are `O(log n)` under one lock.
///
/// A signal leaves the heap when its deadline passes (the timer pops it and calls its
/// `deadlinePassed()`) or when its event comes first (it removes itself), so nothing lingers until
/// a deadline that no longer matters.
final class DeadlineTimers: Sendable {
    static let shared = DeadlineTimers()

    private struct State {
        /// A binary min-heap by deadline; each signal's `timerSlot` is its index here.
        var heap: [Entry] = []
        /// The deadline the Dispatch timer is set for, if any.
        var timerDeadline: ContinuousClock.Instant?
    }

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let signal: DeadlineSignal
    }

    /// Dispatch sources are thread-safe objects; Swift does not know it.
    private struct Source: @unchecked Sendable {
        let timer: any DispatchSourceTimer
    }

    private let state = Mutex(State())
    private let source: Source

    /// The serial queue the timer fires on; what it runs only resumes a continuation or cancels a
    /// transfer.
    private static let queue = DispatchQueue(label: "flexd.router.deadline")

    init() {
        self.source = Source(timer: DispatchSource.makeTimerSource(queue: Self.queue))
        self.source.timer.setEventHandler { [weak self] in self?.fire() }
        self.source.timer.activate()
    }

    deinit {
        self.source.timer.cancel()
    }

    /// How many signals are armed (for tests).
    var count: Int { self.state.withLock { $0.heap.count } }

    /// Arms `signal` for `deadline`. The signal must not be armed already.
    func add(_ signal: DeadlineSignal, until deadline: ContinuousClock.Instant) {
        self.state.withLock { state in
            signal.timerSlot = state.heap.count
            state.heap.append(Entry(deadline: deadline, signal: signal))
            Self.siftUp(&state.heap, from: state.heap.count - 1)
            self.reschedule(&state)
        }
    }

    /// Disarms `signal` if it is still armed (its event came before its deadline).
    func remove(_ signal: DeadlineSignal) {
        self.state.withLock { state in
            let slot = signal.timerSlot
            guard slot >= 0, slot < state.heap.count, state.heap[slot].signal === signal else { return }
            Self.removeAt(&state.heap, slot)
            self.reschedule(&state)
        }
    }

    /// The timer fired: pops every signal whose deadline has come and tells it so (outside the lock).
    private func fire() {
        let now = ContinuousClock.now
        let due: [DeadlineSignal] = self.state.withLock { state in
            state.timerDeadline = nil
            var due: [DeadlineSignal] = []
            while let first = state.heap.first, first.deadline <= now {
                Self.removeAt(&state.heap, 0)
                due.append(first.signal)
            }
            self.reschedule(&state)
            return due
        }
        for signal in due {
            signal.deadlinePassed()
        }
    }

    /// Sets the Dispatch timer for the heap's earliest deadline, unless it is set for it already.
    private func reschedule(_ state: inout State) {
        guard let first = state.heap.first else {
            // Nothing armed: leave the timer set (it fires, finds nothing due, and stays idle).
            return
        }
        let deadline = first.deadline
        if let current = state.timerDeadline, current <= deadline {
            return
        }
        state.timerDeadline = deadline
        let delay = deadline - .now
        let nanoseconds = max(0, delay.components.seconds &* 1_000_000_000 &+ delay.components.attoseconds / 1_000_000_000)
        self.source.timer.schedule(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds)), leeway: .milliseconds(1))
    }

    // MARK: - The heap

    private static func removeAt(_ heap: inout [Entry], _ slot: Int) {
        heap[slot].signal.timerSlot = -1
        let last = heap.removeLast()
        guard slot < heap.count else { return }
        heap[slot] = last
        last.signal.timerSlot = slot
        if slot > 0, last.deadline < heap[(slot - 1) / 2].deadline {
            self.siftUp(&heap, from: slot)
        } else {
            self.siftDown(&heap, from: slot)
        }
    }

    private static func siftUp(_ heap: inout [Entry], from start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            self.swapAt(&heap, child, parent)
            child = parent
        }
    }

    private static func siftDown(_ heap: inout [Entry], from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            let right = left + 1
            let child = right < heap.count && heap[right].deadline < heap[left].deadline ? right : left
            guard heap[child].deadline < heap[parent].deadline else { return }
            self.swapAt(&heap, child, parent)
            parent = child
        }
    }

    private static func swapAt(_ heap: inout [Entry], _ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].signal.timerSlot = a
        heap[b].signal.timerSlot = b
    }
}
