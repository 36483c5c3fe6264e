internal import FlexCore
internal import FlexHTTP
internal import Synchronization

/// A flex attempt's wait under the adaptive policy: a chain of timers, each a recheck of
/// ``AdaptiveFlexPolicy`` or the budget's end, any of which may stop the wait by cancelling the
/// attempt's transfer.
///
/// The fixed policy's wait is one ``DeadlineSignal`` (the budget); this is one signal at a time,
/// the next armed by the previous one's action (on the timers' event loop) when the policy says
/// to keep waiting. ``finish()`` (the attempt ended: started, refused, failed, or cancelled by one
/// of these timers) disarms whatever is armed and says how the wait ended.
///
/// Lock order: this wait's lock, then a signal's, then the timers' heap; the policy's lock is
/// taken alone. A timer's action runs outside the signal's and the heap's locks.
final class AdaptiveFlexWait: Sendable {
    /// How the wait ended.
    enum Ending: Equatable, Sendable {
        /// The attempt ended on its own (started, refused, failed): no timer stopped it.
        case attemptEnded
        /// The budget ran out; its timer cancelled the transfer.
        case budgetExpired
        /// The policy stopped the wait, for this reason; the transfer was cancelled.
        case stoppedByPolicy(FallbackReason)
    }

    private enum State {
        case waiting(DeadlineSignal?)
        case ended(Ending)
    }

    let cancellation = HTTPCancellationHandle()
    private let state = Mutex(State.waiting(nil))
    private let policy: AdaptiveFlexPolicy
    private let timers: DeadlineTimers
    private let provider: Provider
    private let model: String
    private let began: ContinuousClock.Instant
    private let budgetEnds: ContinuousClock.Instant
    /// A probe (``AdaptiveFlexPolicy/Decision/explore(recheckAfter:)``): its rechecks stop it
    /// while flex is still scarce.
    private let probing: Bool

    init(
        policy: AdaptiveFlexPolicy,
        timers: DeadlineTimers,
        provider: Provider,
        model: String,
        began: ContinuousClock.Instant,
        budgetEnds: ContinuousClock.Instant,
        probing: Bool = false
    ) {
        self.policy = policy
        self.timers = timers
        self.provider = provider
        self.model = model
        self.began = began
        self.budgetEnds = budgetEnds
        self.probing = probing
    }

    /// Arms the first timer: the first recheck, or the budget's end.
    func start(recheckAfter: Duration?) {
        self.state.withLock { state in
            guard case .waiting = state else { return }
            state = .waiting(self.arm(recheckAfter))
        }
    }

    /// The attempt is over: disarms the timer, and says whether one of them stopped it.
    func finish() -> Ending {
        let (armed, ending): (DeadlineSignal?, Ending) = self.state.withLock { state in
            switch state {
            case .waiting(let signal):
                state = .ended(.attemptEnded)
                return (signal, .attemptEnded)
            case .ended(let ending):
                return (nil, ending)
            }
        }
        armed?.signal()
        return ending
    }

    /// A signal armed for the recheck after `recheckAfter` of waiting, or for the budget's end when
    /// that comes first (or there is no recheck). Under the state's lock.
    private func arm(_ recheckAfter: Duration?) -> DeadlineSignal {
        let recheck = recheckAfter.map { self.began + $0 } ?? self.budgetEnds
        let isBudget = recheck >= self.budgetEnds
        let signal = DeadlineSignal(timers: self.timers)
        // The closure holds this wait until the signal fires or is signalled (``finish()``).
        signal.arm(until: min(recheck, self.budgetEnds)) { [self] in
            self.fired(budget: isBudget)
        }
        return signal
    }

    /// A timer fired: at the budget's end, stop; at a recheck, ask the policy.
    private func fired(budget: Bool) {
        let decision: AdaptiveFlexPolicy.WaitDecision =
            budget
            ? .stop(.flexPredictedLate)
            : self.policy.recheck(
                provider: self.provider,
                model: self.model,
                waited: .now - self.began,
                budget: self.budgetEnds - self.began,
                probing: self.probing
            )
        let stopped: Bool = self.state.withLock { state in
            // The attempt may have ended meanwhile: then there is nothing to stop.
            guard case .waiting = state else { return false }
            switch decision {
            case .stop(let reason):
                state = .ended(budget ? .budgetExpired : .stoppedByPolicy(reason))
                return true
            case .keepWaiting(let recheckAfter):
                state = .waiting(self.arm(recheckAfter))
                return false
            }
        }
        if stopped { self.cancellation.cancel() }
    }
}
