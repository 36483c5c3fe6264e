public import FlexCore

/// The flex→standard deadline race for one call, as a pure state machine.
///
/// The driver (``Router``'s `run`, the one place that switches on its actions) feeds it what
/// happened (an attempt started, was refused, failed; the budget ran out; the committed stream
/// ended) and performs the ``Action`` it returns: every action is one the driver can perform. It
/// does no I/O and reads no clock: times are passed in, so every transition is unit-tested.
///
/// ```
///                      start(.flexRace)                      start(.single)
///                            |                                     |
///                            v                                     v
///   retryTimerFired --> [flexAttempt] --flexStarted--> [committed(flex)]
///        ^                |   |   |                               ^
///        |   capacity,    |   |   +--budgetExpired / flex failed--+--> [standardAttempt] --started--> [committed(standard)]
///        +--[flexBackoff]<+   |       (flex cancelled, start standard)       |
///             budget left     +--caller's error (4xx)--> [failed]            +--failed--> [failed] (or retry the
///                                                                                connection failure once)
///   [standardAttempt] --429 / 5xx / connection failure, retries left, deadline allows-->
///       [standardBackoff] --settledRetryTimerFired--> [standardAttempt] (same tier, retries + 1)
///   [flexAttempt] --flexSkipped (adaptive policy, before sending) / flexStoppedEarly (while
///       waiting)--> [standardAttempt] (flex_scarce / flex_predicted_late)
///   [committed] --ended with terminal event--> [finished]
///   [committed] --ended without it / failed--> [failed] (DATA_LOSS / upstream error)
/// ```
///
/// Rules it enforces:
/// - nothing is forwarded before ``Action/commit(_:)``; events of an abandoned attempt never reach
///   the caller;
/// - a flex attempt is abandoned when the budget runs out before it started (the budget's timer has
///   cancelled its transfer by then), or at once on a capacity refusal (unless a retry fits in the
///   budget left);
/// - a refused flex attempt is not billed, so retrying it cannot double-bill; no attempt is ever
///   retried after it started;
/// - the call's retry option (``SettledRetries``) re-sends only to the tier the call settled on
///   (standard after a fallback, or the single planned tier), never the flex leg of a race, only
///   after a 429, a 5xx (Anthropic's 529 included) or a connection failure, never after a timeout,
///   and never when the wait would end past the call's deadline;
/// - a committed stream that ends without the provider's terminal event is an error.
public struct RaceStateMachine: Sendable {
    /// How an attempt ended before it started.
    public enum AttemptFailure: Hashable, Sendable {
        /// Flex capacity refusal (OpenAI 429 "Resource Unavailable", Gemini 503): not billed.
        case capacity
        /// A failure worth trying elsewhere: 5xx, overload, a connection failure. `beforeAnyByte`
        /// is true when nothing at all was received (the request may not have reached the provider).
        case retryable(RouterError, beforeAnyByte: Bool)
        /// The caller's request is at fault (4xx other than capacity); every tier would refuse it.
        case fatal(RouterError)
    }

    /// The attempt a call committed to.
    public struct Commitment: Hashable, Sendable {
        public var tier: Tier
        public var fellBack: Bool
        public var fallbackReason: FallbackReason?
        /// Flex attempts made (0 when flex was not tried).
        public var flexAttempts: Int
        /// Re-sends of the settled tier's request before it started.
        public var retries: Int = 0
    }

    public enum Action: Hashable, Sendable {
        /// Send the flex attempt number `attempt` (1-based), streaming upstream, with a timer that
        /// cancels its transfer when the budget (``flexBudgetEnds``) runs out.
        case startFlex(attempt: Int)
        /// Wait `delay`, then call ``retryTimerFired(now:)``.
        case scheduleFlexRetry(delay: Duration)
        /// Send the call on `tier` (standard after a fallback, or the single planned tier).
        case startAttempt(tier: Tier)
        /// The settled tier failed and will be tried again: wait `delay`, then call
        /// ``settledRetryTimerFired()``.
        case scheduleRetry(delay: Duration)
        /// Forward this attempt's output to the caller from now on, to its end; then call
        /// ``committedEnded(terminal:)`` or ``committedFailed(_:)``.
        case commit(Commitment)
        /// The call succeeded: price it and answer.
        case finish
        /// The call failed with this error. Indirect: the driver's async frame holds an action for as
        /// long as the call waits, and an error is as large as its status.
        indirect case fail(RouterError)
    }

    public struct RetryPolicy: Hashable, Sendable {
        /// Flex attempts at most (1 = no retry).
        public var maxFlexAttempts: Int
        /// The first backoff after a capacity refusal; doubled after each further refusal.
        public var initialBackoff: Duration
        public var maxBackoff: Duration
        /// A retry is scheduled only if, after its backoff, at least this much budget is left.
        public var minimumBudgetForRetry: Duration
        /// Connection failures before any byte of a standard attempt are retried this many times.
        public var standardConnectRetries: Int

        public init(
            maxFlexAttempts: Int = 1,
            initialBackoff: Duration = .milliseconds(250),
            maxBackoff: Duration = .seconds(4),
            minimumBudgetForRetry: Duration = .milliseconds(500),
            standardConnectRetries: Int = 1
        ) {
            self.maxFlexAttempts = maxFlexAttempts
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.minimumBudgetForRetry = minimumBudgetForRetry
            self.standardConnectRetries = standardConnectRetries
        }

        /// No flex retries (the default until the savings benchmark shows retries pay).
        public static let none = RetryPolicy()
    }

    /// Re-sends to the tier the call settled on: the call's retry option (or the server's
    /// default), and the call's deadline, past which no wait may end.
    public struct SettledRetries: Hashable, Sendable {
        public var option: RetryOption
        /// The first wait: exponential doubles it each time, linear adds it.
        public var base: Duration
        /// The longest a provider's `Retry-After` is honoured for.
        public var retryAfterCap: Duration
        /// When the call ends whatever happens (the transport's deadline); nil for none.
        public var deadline: ContinuousClock.Instant?

        public init(
            _ option: RetryOption,
            base: Duration = .milliseconds(500),
            retryAfterCap: Duration = .seconds(60),
            deadline: ContinuousClock.Instant? = nil
        ) {
            self.option = option
            self.base = base
            self.retryAfterCap = retryAfterCap
            self.deadline = deadline
        }

        /// No re-sends.
        public static let none = SettledRetries(RetryOption(count: 0))
    }

    private enum State: Sendable {
        case idle
        case flexAttempt(Flex)
        case flexBackoff(Flex)
        case standardAttempt(Standard)
        case standardBackoff(Standard)
        case committed(Commitment)
        case finished
        case failed
    }

    private struct Flex: Sendable {
        var attempt: Int
        var budgetEnds: ContinuousClock.Instant
    }

    private struct Standard: Sendable {
        var tier: Tier
        var fallbackReason: FallbackReason?
        var flexAttempts: Int
        var connectRetriesLeft: Int
        /// Re-sends made on this tier (the retry option's).
        var retries: Int = 0
    }

    private var state: State = .idle
    private let policy: RetryPolicy
    private let settled: SettledRetries
    /// Picks the jitter for a backoff, in 0...1 (tests pass a fixed one).
    private let jitter: @Sendable () -> Double

    public init(
        policy: RetryPolicy = .none,
        settled: SettledRetries = .none,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.policy = policy
        self.settled = settled
        self.jitter = jitter
    }

    // MARK: Events

    /// Starts the call.
    public mutating func start(_ plan: TierPlan, now: ContinuousClock.Instant) -> Action {
        guard case .idle = self.state else { return self.unexpected("start") }
        switch plan {
        case .single(let tier):
            self.state = .standardAttempt(
                Standard(
                    tier: tier,
                    fallbackReason: nil,
                    flexAttempts: 0,
                    connectRetriesLeft: self.policy.standardConnectRetries
                )
            )
            return .startAttempt(tier: tier)
        case .flexRace(let budget):
            self.state = .flexAttempt(Flex(attempt: 1, budgetEnds: now + budget))
            return .startFlex(attempt: 1)
        }
    }

    /// The instant the flex budget runs out, while the race is on (the driver arms its timer).
    public var flexBudgetEnds: ContinuousClock.Instant? {
        switch self.state {
        case .flexAttempt(let flex), .flexBackoff(let flex): flex.budgetEnds
        default: nil
        }
    }

    /// The flex attempt produced its first output event: it has started and will be billed.
    public mutating func flexStarted() -> Action {
        guard case .flexAttempt(let flex) = self.state else { return self.unexpected("flexStarted") }
        let commitment = Commitment(tier: .flex, fellBack: false, fallbackReason: nil, flexAttempts: flex.attempt)
        self.state = .committed(commitment)
        return .commit(commitment)
    }

    /// The flex attempt ended before it started.
    public mutating func flexFailed(_ failure: AttemptFailure, now: ContinuousClock.Instant) -> Action {
        guard case .flexAttempt(let flex) = self.state else { return self.unexpected("flexFailed") }
        switch failure {
        case .fatal(let error):
            self.state = .failed
            return .fail(error)
        case .capacity:
            if flex.attempt < self.policy.maxFlexAttempts {
                let delay = self.backoff(afterAttempt: flex.attempt)
                if now + delay + self.policy.minimumBudgetForRetry <= flex.budgetEnds {
                    self.state = .flexBackoff(flex)
                    return .scheduleFlexRetry(delay: delay)
                }
            }
            return self.fallBack(.flexCapacity, flexAttempts: flex.attempt)
        case .retryable:
            return self.fallBack(.flexUpstreamError, flexAttempts: flex.attempt)
        }
    }

    /// The backoff after a capacity refusal is over.
    public mutating func retryTimerFired(now: ContinuousClock.Instant) -> Action {
        guard case .flexBackoff(var flex) = self.state else { return self.unexpected("retryTimerFired") }
        guard now < flex.budgetEnds else { return self.fallBack(.flexCapacity, flexAttempts: flex.attempt) }
        flex.attempt += 1
        self.state = .flexAttempt(flex)
        return .startFlex(attempt: flex.attempt)
    }

    /// The flex budget ran out; its timer has already cancelled the flex attempt's transfer. Nil
    /// when the race is already decided (a late timer): nothing to do.
    public mutating func budgetExpired() -> Action? {
        switch self.state {
        case .flexAttempt(let flex):
            return self.fallBack(.flexStartTimeout, flexAttempts: flex.attempt)
        case .flexBackoff(let flex):
            // Waiting to retry after a refusal: the refusal is why flex did not serve the call.
            return self.fallBack(.flexCapacity, flexAttempts: flex.attempt)
        default:
            return nil
        }
    }

    /// The adaptive flex policy decided not to send this flex attempt (flex is scarce, or predicted
    /// to start too late): the call goes to standard now, having made the attempts before this one.
    public mutating func flexSkipped(_ reason: FallbackReason) -> Action {
        guard case .flexAttempt(let flex) = self.state, reason.isPredicted else {
            return self.unexpected("flexSkipped")
        }
        return self.fallBack(reason, flexAttempts: flex.attempt - 1)
    }

    /// The adaptive flex policy stopped the wait for a flex attempt that had not started (its
    /// timer has already cancelled the attempt's transfer), before the budget ran out, for
    /// `reason` (flex predicted to start too late, or a probe that found flex still scarce).
    public mutating func flexStoppedEarly(_ reason: FallbackReason = .flexPredictedLate) -> Action {
        guard case .flexAttempt(let flex) = self.state, reason.isPredicted else {
            return self.unexpected("flexStoppedEarly")
        }
        return self.fallBack(reason, flexAttempts: flex.attempt)
    }

    /// The standard (or single-tier) attempt produced its first output event.
    public mutating func attemptStarted() -> Action {
        guard case .standardAttempt(let standard) = self.state else { return self.unexpected("attemptStarted") }
        let commitment = Commitment(
            tier: standard.tier,
            fellBack: standard.fallbackReason != nil,
            fallbackReason: standard.fallbackReason,
            flexAttempts: standard.flexAttempts,
            retries: standard.retries
        )
        self.state = .committed(commitment)
        return .commit(commitment)
    }

    /// The standard (or single-tier) attempt ended before it started.
    public mutating func attemptFailed(_ failure: AttemptFailure, now: ContinuousClock.Instant) -> Action {
        guard case .standardAttempt(var standard) = self.state else { return self.unexpected("attemptFailed") }
        let error: RouterError
        switch failure {
        case .retryable(_, beforeAnyByte: true) where standard.connectRetriesLeft > 0:
            standard.connectRetriesLeft -= 1
            self.state = .standardAttempt(standard)
            return .startAttempt(tier: standard.tier)
        case .retryable(let failed, _), .fatal(let failed):
            error = failed
        case .capacity:
            // Only flex refuses for capacity; on another tier it is the provider's overload.
            error = RouterError(
                .upstreamOverloaded,
                "the provider has no capacity for this call right now; retry later"
            )
        }
        if standard.retries < Int(self.settled.option.count), Self.isWorthRetrying(error) {
            let delay = self.retryDelay(afterRetries: standard.retries, upstream: error.status.upstream)
            // The next attempt must start before the deadline; otherwise the call ends now.
            if self.settled.deadline.map({ now + delay < $0 }) ?? true {
                self.state = .standardBackoff(standard)
                return .scheduleRetry(delay: delay)
            }
        }
        self.state = .failed
        return .fail(Self.withRetries(error, standard))
    }

    /// The wait before a retry of the settled tier is over: send it again.
    public mutating func settledRetryTimerFired() -> Action {
        guard case .standardBackoff(var standard) = self.state else {
            return self.unexpected("settledRetryTimerFired")
        }
        standard.retries += 1
        self.state = .standardAttempt(standard)
        return .startAttempt(tier: standard.tier)
    }

    /// Re-sends made on the settled tier so far.
    public var retries: Int {
        switch self.state {
        case .standardAttempt(let standard), .standardBackoff(let standard): standard.retries
        case .committed(let commitment): commitment.retries
        default: 0
        }
    }

    /// The committed attempt's stream ended. `terminal`: it ended with the provider's terminal event.
    public mutating func committedEnded(terminal: Bool) -> Action {
        guard case .committed = self.state else { return self.unexpected("committedEnded") }
        if terminal {
            self.state = .finished
            return .finish
        }
        self.state = .failed
        return .fail(
            RouterError(
                .upstreamStreamTruncated,
                "the provider's answer ended before its final event; the output is incomplete"
            )
        )
    }

    /// The committed attempt failed (cut connection, idle timeout, provider error event).
    public mutating func committedFailed(_ error: RouterError) -> Action {
        guard case .committed = self.state else { return self.unexpected("committedFailed") }
        self.state = .failed
        return .fail(error)
    }

    /// The caller cancelled or the call's deadline passed: stop everything.
    public mutating func abort(_ error: RouterError) -> Action {
        self.state = .failed
        return .fail(error)
    }

    /// Whether the call has committed to an attempt (its output may be forwarded).
    public var commitment: Commitment? {
        if case .committed(let commitment) = self.state { return commitment }
        return nil
    }

    public var isDone: Bool {
        switch self.state {
        case .finished, .failed: true
        default: false
        }
    }

    // MARK: Helpers

    private mutating func fallBack(_ reason: FallbackReason, flexAttempts: Int) -> Action {
        self.state = .standardAttempt(
            Standard(
                tier: .standard,
                fallbackReason: reason,
                flexAttempts: flexAttempts,
                connectRetriesLeft: self.policy.standardConnectRetries
            )
        )
        return .startAttempt(tier: .standard)
    }

    /// Exponential backoff with full jitter over its upper half: `base * 2^(n-1)` capped, times
    /// 0.5...1.
    private func backoff(afterAttempt attempt: Int) -> Duration {
        var delay = self.policy.initialBackoff
        for _ in 1..<max(1, attempt) { delay = min(delay * 2, self.policy.maxBackoff) }
        return delay * (0.5 + 0.5 * min(1, max(0, self.jitter())))
    }

    /// A failure the settled tier is tried again after: 429, a 5xx (Anthropic's 529 and the in-stream
    /// overloads that stand for one included) or a connection failure. Never a timeout, and never
    /// the caller's own error.
    static func isWorthRetrying(_ error: RouterError) -> Bool {
        switch error.status.error {
        case .upstreamRateLimited?, .upstreamOverloaded?, .upstreamUnreachable?: true
        case .upstreamUnavailable?: error.status.upstream?.httpStatus != 408
        default: false
        }
    }

    /// The wait before retry `retries + 1`: the provider's `Retry-After` when it sent one (capped),
    /// else the backoff (exponential: base × 2^retries; linear: base × (retries + 1)), with full
    /// jitter (uniform between zero and the backoff) when on.
    private func retryDelay(afterRetries retries: Int, upstream: UpstreamError?) -> Duration {
        if let retryAfter = upstream?.retryAfter {
            return min(max(.zero, retryAfter), self.settled.retryAfterCap)
        }
        let backoff: Duration
        switch self.settled.option.backoff {
        case .exponential: backoff = self.settled.base * (1 << min(retries, 20))
        case .linear: backoff = self.settled.base * (retries + 1)
        }
        guard self.settled.option.jitter else { return backoff }
        return backoff * min(1, max(0, self.jitter()))
    }

    /// The error a call ends with after its retries: the last attempt's, saying how many re-sends
    /// were made (`details.retries`) and on which tier.
    private static func withRetries(_ error: RouterError, _ standard: Standard) -> RouterError {
        guard standard.retries > 0 else { return error }
        var error = error
        error.status.details["retries"] = String(standard.retries)
        error.status.details["tier"] = standard.tier.name
        return error
    }

    /// An event that cannot happen in this state: a driver bug. Fail the call rather than trap.
    private mutating func unexpected(_ event: String) -> Action {
        assertionFailure("RaceStateMachine: \(event) in state \(self.state)")
        self.state = .failed
        return .fail(RouterError(.internalError, "the router reached an impossible state (\(event)); this is a bug"))
    }
}
