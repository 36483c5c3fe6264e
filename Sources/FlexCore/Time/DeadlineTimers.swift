public import NIOCore
internal import Synchronization

/// flexd's one deadline service: every deadline a call waits on (a flex budget, the backoff before
/// a flex retry, a call's own deadline, a connection's handshake and idle timeouts, a drain's grace
/// period) is a ``DeadlineSignal`` armed here, and one timer on an event loop fires them.
///
/// The signals sit in a min-heap by deadline; the event loop's timer is set for the earliest. A
/// waiting call costs a heap slot (a deadline and a reference), and arming or disarming is
/// `O(log n)` under one lock, where a timer of the event loop's own per signal would cost an
/// allocated task and promise each and an `O(n)` search on every cancellation, and a Dispatch
/// timer source per signal about a kilobyte. A signal leaves the heap when its deadline passes (the
/// timer pops it and tells it) or when its event comes first (it removes itself), so nothing
/// lingers until a deadline that no longer matters.
///
/// What a passed deadline does runs on ``eventLoop``: a transport that gives each event loop its
/// own timers has its connections' timeouts fire on their own thread.
public final class DeadlineTimers: Sendable {
    /// The event loop the timer runs on, and every deadline's action with it.
    public let eventLoop: any EventLoop

    private struct State {
        /// A binary min-heap by deadline; each signal's `timerSlot` is its index here.
        var heap: [Entry] = []
        /// The event loop's timer, and the deadline it is set for, if set.
        var timer: NIOScheduledCallback?
        var timerDeadline: ContinuousClock.Instant?
    }

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let signal: DeadlineSignal
    }

    private let state = Mutex(State())

    public init(on eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    deinit {
        self.state.withLock { $0.timer?.cancel() }
    }

    /// How many signals are armed.
    public var count: Int { self.state.withLock { $0.heap.count } }

    /// Returns at `deadline`, or as soon as the task is cancelled (without throwing: check
    /// `Task.isCancelled`).
    ///
    /// Not `Task.sleep`: a cancelled sleep returns at once, but its wake-up stays scheduled until the
    /// deadline, so a wait cut short by an event (flex started in time) would leave hundreds of bytes
    /// behind for minutes.
    ///
    /// - Parameter live: for tests: counts the sleep's signal until it is freed.
    public func sleep(until deadline: ContinuousClock.Instant, live: DeadlineSignal.LiveCount? = nil) async {
        let signal = DeadlineSignal(timers: self, live: live)
        await withTaskCancellationHandler {
            _ = await signal.wait(until: deadline)
        } onCancel: {
            signal.signal()
        }
    }

    /// Arms `signal` for `deadline`. The signal must not be armed already.
    func add(_ signal: DeadlineSignal, until deadline: ContinuousClock.Instant) {
        let earliest: ContinuousClock.Instant? = self.state.withLock { state in
            signal.timerSlot = state.heap.count
            state.heap.append(Entry(deadline: deadline, signal: signal))
            Self.siftUp(&state.heap, from: state.heap.count - 1)
            return Self.needsTimer(state)
        }
        if let earliest { self.setTimer(for: earliest) }
    }

    /// Disarms `signal` if it is still armed (its event came before its deadline). The timer stays
    /// set: it fires, finds nothing due, and sets itself for whatever is earliest then.
    func remove(_ signal: DeadlineSignal) {
        self.state.withLock { state in
            let slot = signal.timerSlot
            guard slot >= 0, slot < state.heap.count, state.heap[slot].signal === signal else { return }
            Self.removeAt(&state.heap, slot)
        }
    }

    /// The heap's earliest deadline when the timer is not set for it or earlier; nil when the
    /// timer needs no change.
    private static func needsTimer(_ state: State) -> ContinuousClock.Instant? {
        guard let first = state.heap.first?.deadline else { return nil }
        if let set = state.timerDeadline, set <= first { return nil }
        return first
    }

    /// Sets the event loop's timer for `deadline` (replacing a later one), outside the heap's lock:
    /// scheduling takes the event loop's own lock.
    private func setTimer(for deadline: ContinuousClock.Instant) {
        let delay = TimeAmount.nanoseconds(max(0, (deadline - .now).nanoseconds))
        let timer: NIOScheduledCallback
        do {
            timer = try self.eventLoop.scheduleCallback(in: delay, handler: Fire(timers: self, deadline: deadline))
        } catch {
            // The event loop has shut down: nothing can fire any more (the process is ending).
            return
        }
        let replaced: NIOScheduledCallback? = self.state.withLock { state in
            // Another thread may have set it for an earlier deadline meanwhile: keep the earlier.
            if let set = state.timerDeadline, set <= deadline { return timer }
            // A deadline that has passed may have fired already (before this lock), and a timer
            // recorded after its firing would be thought set for ever: no later deadline would set
            // one again. It fires (or has) and sets the timer for whatever is earliest then.
            guard deadline > .now else { return nil }
            defer {
                state.timer = timer
                state.timerDeadline = deadline
            }
            return state.timer
        }
        replaced?.cancel()
    }

    /// The event loop's callback: fires the heap.
    private struct Fire: NIOScheduledCallbackHandler, Sendable {
        weak var timers: DeadlineTimers?
        let deadline: ContinuousClock.Instant

        func handleScheduledCallback(eventLoop: some EventLoop) {
            self.timers?.fire(self.deadline)
        }
    }

    /// The timer fired: pops every signal whose deadline has come and tells it so (outside the
    /// lock), and sets the timer for the next.
    private func fire(_ deadline: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        let (due, next): ([DeadlineSignal], ContinuousClock.Instant?) = self.state.withLock { state in
            if state.timerDeadline == deadline {
                state.timer = nil
                state.timerDeadline = nil
            }
            var due: [DeadlineSignal] = []
            while let first = state.heap.first, first.deadline <= now {
                Self.removeAt(&state.heap, 0)
                due.append(first.signal)
            }
            return (due, Self.needsTimer(state))
        }
        if let next { self.setTimer(for: next) }
        for signal in due {
            signal.deadlinePassed()
        }
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
