internal import Dispatch
internal import Synchronization

/// A one-shot race between a deadline and an event: ``wait(until:)`` returns when either comes,
/// and says whether the deadline came first. The deadline is a Dispatch timer that is cancelled,
/// and freed, as soon as the event comes.
///
/// The flex budget uses it so that a call racing flex against its budget needs no task for the
/// budget: the attempt's task signals its end, the timer the budget's (``Router``'s `raceFlex`).
/// ``sleep(until:)`` is the same wait with the task's cancellation as the event (the backoff
/// between flex attempts).
///
/// Not `Task.sleep`: a cancelled sleep returns at once, but its wake-up (a small task of the
/// runtime's) stays scheduled until the deadline. The budget's wait is cut short whenever flex
/// starts in time, so with 5-minute budgets every call left about 600 bytes behind for 5
/// minutes: at 1,000 calls/s, 170 MB of wake-ups for calls long finished.
final class DeadlineSignal: Sendable {
    private enum State {
        case initial
        /// The event came before anyone waited: the wait returns at once.
        case signalled
        case waiting(CheckedContinuation<Bool, Never>, Timer)
        case finished
    }

    /// Dispatch sources are thread-safe objects; Swift does not know it.
    private struct Timer: @unchecked Sendable {
        let source: any DispatchSourceTimer
    }

    /// The serial queue every timer fires on; its handlers only resume a continuation.
    private static let queue = DispatchQueue(label: "flexd.router.deadline")

    private let state = Mutex(State.initial)
    private let live: LiveCount?

    /// - Parameter live: for the tests: counts the signals not yet freed (timer, waiter and all).
    init(live: LiveCount? = nil) {
        self.live = live
        live?.add(1)
    }

    deinit {
        self.live?.add(-1)
    }

    /// Waits for the event or the deadline, whichever comes first (once per signal). Returns true
    /// when the deadline came first.
    func wait(until deadline: ContinuousClock.Instant) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let delay = deadline - .now
            let armed: Timer? = self.state.withLock { state in
                guard case .initial = state else { return nil }
                let timer = Timer(source: DispatchSource.makeTimerSource(queue: Self.queue))
                let nanoseconds = max(0, delay.components.seconds &* 1_000_000_000 &+ delay.components.attoseconds / 1_000_000_000)
                timer.source.schedule(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds)), leeway: .milliseconds(1))
                timer.source.setEventHandler { self.finish(deadlinePassed: true) }
                state = .waiting(continuation, timer)
                return timer
            }
            if let armed {
                // A `signal()` in between has cancelled it: activated, it never fires.
                armed.source.resume()
            } else {
                continuation.resume(returning: false)
            }
        }
    }

    /// The event: ends the wait (now, or at once when it begins) unless the deadline came first.
    func signal() {
        self.finish(deadlinePassed: false)
    }

    private func finish(deadlinePassed: Bool) {
        let waiting: (CheckedContinuation<Bool, Never>, Timer)? = self.state.withLock { state in
            switch state {
            case .initial:
                state = .signalled
                return nil
            case .waiting(let continuation, let timer):
                state = .finished
                return (continuation, timer)
            case .signalled, .finished:
                return nil
            }
        }
        guard let (continuation, timer) = waiting else { return }
        timer.source.cancel()
        continuation.resume(returning: deadlinePassed)
    }

    /// Returns at `deadline`, or as soon as the task is cancelled (without throwing: check
    /// `Task.isCancelled`).
    static func sleep(until deadline: ContinuousClock.Instant, live: LiveCount? = nil) async {
        let signal = DeadlineSignal(live: live)
        await withTaskCancellationHandler {
            _ = await signal.wait(until: deadline)
        } onCancel: {
            signal.signal()
        }
    }

    /// How many of the signals given it are not yet freed.
    final class LiveCount: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { self.count.load(ordering: .relaxed) }
        fileprivate func add(_ delta: Int) { self.count.add(delta, ordering: .relaxed) }
    }
}
