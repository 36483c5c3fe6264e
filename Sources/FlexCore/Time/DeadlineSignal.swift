internal import Synchronization

/// A one-shot race between a deadline and an event: whichever comes first wins. The deadline is a
/// slot in a ``DeadlineTimers`` heap, given up as soon as the event comes.
///
/// Two ways to wait: ``arm(until:onDeadline:)`` runs an action (on the timers' event loop) at the
/// deadline unless the event (``signal()``) comes first, and ``wait(until:)`` suspends the task until
/// either comes. The router's flex budget uses the first (the attempt runs in the call's own task,
/// and the budget's end cancels its transfer; the attempt's end is the event); a server's call
/// deadline and a connection's timeouts too (their action stops the call or closes the
/// connection). A drain waits with the second (the event: the last connection closed).
public final class DeadlineSignal: Sendable {
    private enum State {
        case initial
        /// The event came before anything was armed: a wait returns at once, an action never runs.
        case signalled
        case armed(Waiter)
        case finished(deadlinePassed: Bool)
    }

    private enum Waiter {
        case task(CheckedContinuation<Bool, Never>)
        case action(@Sendable () -> Void)
    }

    private let state = Mutex(State.initial)
    private let live: LiveCount?
    private let timers: DeadlineTimers

    /// This signal's place in ``DeadlineTimers``' heap (-1 when not in it): read and written only
    /// under that heap's lock.
    nonisolated(unsafe) var timerSlot = -1

    /// - Parameters:
    ///   - timers: the heap and event-loop timer it arms in.
    ///   - live: for tests: counts the signals not yet freed (timer, waiter and all).
    public init(timers: DeadlineTimers, live: LiveCount? = nil) {
        self.live = live
        self.timers = timers
        live?.add(1)
    }

    deinit {
        self.live?.add(-1)
    }

    /// Runs `action` (on the timers' event loop) at `deadline`, unless ``signal()`` comes first. Once
    /// per signal, and not together with ``wait(until:)``.
    public func arm(until deadline: ContinuousClock.Instant, onDeadline action: @escaping @Sendable () -> Void) {
        _ = self.arm(.action(action), until: deadline)
    }

    /// Waits for the event or the deadline, whichever comes first (once per signal). Returns true
    /// when the deadline came first.
    public func wait(until deadline: ContinuousClock.Instant) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            if !self.arm(.task(continuation), until: deadline) {
                continuation.resume(returning: false)
            }
        }
    }

    /// Arms the timer for `waiter`; false if the event came first (nothing armed).
    private func arm(_ waiter: Waiter, until deadline: ContinuousClock.Instant) -> Bool {
        self.state.withLock { state in
            guard case .initial = state else { return false }
            state = .armed(waiter)
            // Under this signal's lock, so that an event cannot come between the two steps and
            // find nothing to disarm (lock order: a signal's, then the heap's).
            self.timers.add(self, until: deadline)
            return true
        }
    }

    /// The event: ends the wait (now, or at once when it begins), or keeps the action from running,
    /// unless the deadline came first. Returns true if it did: the action has run or is running, the
    /// wait has returned true.
    @discardableResult
    public func signal() -> Bool {
        self.finish(deadlinePassed: false)
    }

    /// The deadline came (its ``DeadlineTimers`` has already taken the signal out of its heap).
    func deadlinePassed() {
        self.finish(deadlinePassed: true)
    }

    @discardableResult
    private func finish(deadlinePassed: Bool) -> Bool {
        let (waiter, passed): (Waiter?, Bool) = self.state.withLock { state in
            switch state {
            case .initial:
                state = .signalled
                return (nil, false)
            case .armed(let waiter):
                state = .finished(deadlinePassed: deadlinePassed)
                return (waiter, deadlinePassed)
            case .signalled:
                return (nil, false)
            case .finished(let passed):
                return (nil, passed)
            }
        }
        guard let waiter else { return passed }
        if !deadlinePassed {
            // The event came first: leave the heap now rather than at the deadline.
            self.timers.remove(self)
        }
        switch waiter {
        case .task(let continuation):
            continuation.resume(returning: deadlinePassed)
        case .action(let action):
            if deadlinePassed { action() }
        }
        return passed
    }

    /// How many of the signals given it are not yet freed.
    public final class LiveCount: Sendable {
        private let count = Atomic<Int>(0)
        public var value: Int { self.count.load(ordering: .relaxed) }
        public init() {}
        fileprivate func add(_ delta: Int) { self.count.add(delta, ordering: .relaxed) }
    }
}
