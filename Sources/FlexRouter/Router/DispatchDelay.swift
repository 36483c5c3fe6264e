internal import Dispatch
internal import Synchronization

/// Waits until a deadline or until the waiting task is cancelled, whichever comes first, on a
/// Dispatch timer that the cancellation removes.
///
/// `Task.sleep` is not enough for the flex budget: a cancelled sleep returns at once, but its
/// wake-up (a small task of the runtime's) stays scheduled until the deadline. The budget's wait is
/// cancelled whenever flex starts in time, so with 5-minute budgets every call left about 600 bytes
/// behind for 5 minutes: at 1,000 calls/s, 170 MB of wake-ups for calls long finished. A cancelled
/// ``wait(until:)`` frees its timer at once.
enum DispatchDelay {
    /// Returns at `deadline`, or as soon as the task is cancelled (without throwing: check
    /// `Task.isCancelled`). `live`, for the tests, counts the delays not yet freed.
    static func wait(until deadline: ContinuousClock.Instant, live: LiveCount? = nil) async {
        let delay = Delay(live: live)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                delay.arm(continuation, after: deadline - .now)
            }
        } onCancel: {
            delay.finish()
        }
    }

    /// The serial queue every delay's timer fires on; its handlers only resume a continuation.
    private static let queue = DispatchQueue(label: "flexd.router.delay")

    /// How many of the delays given it are not yet freed (their timer and waiter): the tests check
    /// that a cancelled wait holds nothing.
    final class LiveCount: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { self.count.load(ordering: .relaxed) }
        fileprivate func add(_ delta: Int) { self.count.add(delta, ordering: .relaxed) }
    }

    /// Dispatch sources are thread-safe objects; Swift does not know it.
    private struct Timer: @unchecked Sendable {
        let source: any DispatchSourceTimer
    }

    private final class Delay: Sendable {
        private enum State {
            case initial
            case waiting(CheckedContinuation<Void, Never>, Timer)
            /// Cancelled before the continuation was armed: arming returns at once.
            case cancelledEarly
            case finished
        }

        private let state = Mutex(State.initial)
        private let live: LiveCount?

        init(live: LiveCount?) {
            self.live = live
            live?.add(1)
        }

        deinit {
            self.live?.add(-1)
        }

        func arm(_ continuation: CheckedContinuation<Void, Never>, after delay: Duration) {
            let armed: Timer? = self.state.withLock { state in
                guard case .initial = state else { return nil }
                let timer = Timer(source: DispatchSource.makeTimerSource(queue: DispatchDelay.queue))
                let nanoseconds = max(0, delay.components.seconds &* 1_000_000_000 &+ delay.components.attoseconds / 1_000_000_000)
                timer.source.schedule(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds)), leeway: .milliseconds(1))
                timer.source.setEventHandler { self.finish() }
                state = .waiting(continuation, timer)
                return timer
            }
            if let armed {
                // A `finish()` in between has cancelled it: activated, it never fires.
                armed.source.resume()
            } else {
                continuation.resume()
            }
        }

        /// The deadline passed or the task was cancelled: resumes the waiter once, and cancels the
        /// timer (which releases its handler, and with it this object).
        func finish() {
            let waiting: (CheckedContinuation<Void, Never>, Timer)? = self.state.withLock { state in
                switch state {
                case .initial:
                    state = .cancelledEarly
                    return nil
                case .waiting(let continuation, let timer):
                    state = .finished
                    return (continuation, timer)
                case .cancelledEarly, .finished:
                    return nil
                }
            }
            guard let (continuation, timer) = waiting else { return }
            timer.source.cancel()
            continuation.resume()
        }
    }
}
