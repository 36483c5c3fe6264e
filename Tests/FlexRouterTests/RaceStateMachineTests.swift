import FlexCore
import Testing

@testable import FlexRouter

/// The race without I/O: each test is a script of events and the actions they must produce.
@Suite("RaceStateMachine")
struct RaceStateMachineTests {
    let t0 = ContinuousClock.now
    let upstream500 = RouterError(.upstreamUnavailable, "500")
    let badRequest = RouterError(.upstreamInvalidRequest, "400")

    func machine(_ policy: RaceStateMachine.RetryPolicy = .none) -> RaceStateMachine {
        RaceStateMachine(policy: policy, jitter: { 1.0 })
    }

    func commitment(
        _ tier: Tier,
        fellBack: Bool = false,
        _ reason: FallbackReason? = nil,
        flexAttempts: Int
    ) -> RaceStateMachine.Action {
        .commit(.init(tier: tier, fellBack: fellBack, fallbackReason: reason, flexAttempts: flexAttempts))
    }

    @Test func flexStartsInTime() {
        var race = machine()
        #expect(race.start(.flexRace(budget: .seconds(30)), now: t0) == .startFlex(attempt: 1))
        #expect(race.flexBudgetEnds == t0 + .seconds(30))
        #expect(race.commitment == nil)
        #expect(race.flexStarted() == commitment(.flex, flexAttempts: 1))
        #expect(race.flexBudgetEnds == nil)
        #expect(race.budgetExpired() == nil, "a late timer changes nothing once committed")
        #expect(race.committedEnded(terminal: true) == .finish)
        #expect(race.isDone)
    }

    @Test func flexTooSlowIsCancelledAndStandardRuns() {
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(5)), now: t0)
        #expect(race.budgetExpired() == .startAttempt(tier: .standard), "the budget's timer has cancelled the transfer")
        #expect(race.commitment == nil, "nothing may be forwarded before standard starts")
        #expect(race.attemptStarted() == commitment(.standard, fellBack: true, .flexStartTimeout, flexAttempts: 1))
        #expect(race.committedEnded(terminal: true) == .finish)
    }

    @Test func adaptivePolicySkipsFlexBeforeSending() {
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        #expect(race.flexSkipped(.flexScarce) == .startAttempt(tier: .standard))
        #expect(race.attemptStarted() == commitment(.standard, fellBack: true, .flexScarce, flexAttempts: 0))
    }

    @Test func adaptivePolicyStopsAWaitEarly() {
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        #expect(race.flexStoppedEarly() == .startAttempt(tier: .standard))
        #expect(race.budgetExpired() == nil, "the budget's late timer finds the race decided")
        #expect(race.attemptStarted() == commitment(.standard, fellBack: true, .flexPredictedLate, flexAttempts: 1))
    }

    /// A probe that found flex still scarce falls back as scarce, having made its attempt.
    @Test func aProbeStoppedAsScarceSaysSo() {
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        #expect(race.flexStoppedEarly(.flexScarce) == .startAttempt(tier: .standard))
        #expect(race.attemptStarted() == commitment(.standard, fellBack: true, .flexScarce, flexAttempts: 1))
    }

    @Test func capacityRefusalFallsBackAtOnceWithoutRetries() {
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        #expect(race.flexFailed(.capacity, now: t0 + .milliseconds(20)) == .startAttempt(tier: .standard))
        #expect(race.attemptStarted() == commitment(.standard, fellBack: true, .flexCapacity, flexAttempts: 1))
    }

    @Test func capacityRefusalIsRetriedWhileBudgetLasts() {
        let policy = RaceStateMachine.RetryPolicy(
            maxFlexAttempts: 3,
            initialBackoff: .seconds(1),
            maxBackoff: .seconds(8),
            minimumBudgetForRetry: .seconds(1)
        )
        var race = machine(policy)
        _ = race.start(.flexRace(budget: .seconds(10)), now: t0)
        #expect(race.flexFailed(.capacity, now: t0) == .scheduleFlexRetry(delay: .seconds(1)))
        #expect(race.retryTimerFired(now: t0 + .seconds(1)) == .startFlex(attempt: 2))
        #expect(race.flexFailed(.capacity, now: t0 + .seconds(1)) == .scheduleFlexRetry(delay: .seconds(2)))
        #expect(race.retryTimerFired(now: t0 + .seconds(3)) == .startFlex(attempt: 3))
        // The third refusal uses up the attempts.
        #expect(race.flexFailed(.capacity, now: t0 + .seconds(3)) == .startAttempt(tier: .standard))
        #expect(race.attemptStarted() == commitment(.standard, fellBack: true, .flexCapacity, flexAttempts: 3))
    }

    @Test func noRetryWhenTheBackoffWouldEatTheBudget() {
        let policy = RaceStateMachine.RetryPolicy(
            maxFlexAttempts: 5,
            initialBackoff: .seconds(2),
            minimumBudgetForRetry: .seconds(1)
        )
        var race = machine(policy)
        _ = race.start(.flexRace(budget: .seconds(3)), now: t0)
        // 2 s backoff + 1 s minimum = 3 s: just fits at t0...
        #expect(race.flexFailed(.capacity, now: t0) == .scheduleFlexRetry(delay: .seconds(2)))
        _ = race.retryTimerFired(now: t0 + .seconds(2))
        // ...but not a second time.
        #expect(race.flexFailed(.capacity, now: t0 + .seconds(2)) == .startAttempt(tier: .standard))
    }

    @Test func budgetRunningOutDuringBackoffFallsBackForCapacity() {
        let policy = RaceStateMachine.RetryPolicy(
            maxFlexAttempts: 3,
            initialBackoff: .milliseconds(100),
            minimumBudgetForRetry: .zero
        )
        var race = machine(policy)
        _ = race.start(.flexRace(budget: .seconds(1)), now: t0)
        #expect(
            race.flexFailed(.capacity, now: t0 + .milliseconds(850)) == .scheduleFlexRetry(delay: .milliseconds(100))
        )
        #expect(race.budgetExpired() == .startAttempt(tier: .standard), "no flex in flight")
        #expect(race.attemptStarted() == commitment(.standard, fellBack: true, .flexCapacity, flexAttempts: 1))
    }

    @Test func retryableFlexFailureFallsBack() {
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        #expect(
            race.flexFailed(.retryable(upstream500, beforeAnyByte: false), now: t0) == .startAttempt(tier: .standard)
        )
        #expect(race.attemptStarted() == commitment(.standard, fellBack: true, .flexUpstreamError, flexAttempts: 1))
    }

    @Test func callersErrorOnFlexIsReturnedAsIs() {
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        #expect(race.flexFailed(.fatal(badRequest), now: t0) == .fail(badRequest))
        #expect(race.isDone)
    }

    @Test func singleTierAttempts() {
        for tier in [Tier.priority, .standard, .auto] {
            var race = machine()
            #expect(race.start(.single(tier), now: t0) == .startAttempt(tier: tier))
            #expect(race.flexBudgetEnds == nil)
            #expect(race.attemptStarted() == commitment(tier, flexAttempts: 0))
            #expect(race.committedEnded(terminal: true) == .finish)
        }
    }

    @Test func connectionFailureBeforeAnyByteIsRetriedOnce() {
        var race = machine()
        _ = race.start(.single(.standard), now: t0)
        #expect(
            race.attemptFailed(.retryable(upstream500, beforeAnyByte: true), now: t0) == .startAttempt(tier: .standard)
        )
        #expect(race.attemptFailed(.retryable(upstream500, beforeAnyByte: true), now: t0) == .fail(upstream500))
    }

    @Test func failureAfterBytesIsNotRetried() {
        var race = machine()
        _ = race.start(.single(.standard), now: t0)
        #expect(race.attemptFailed(.retryable(upstream500, beforeAnyByte: false), now: t0) == .fail(upstream500))
        var fatal = machine()
        _ = fatal.start(.single(.priority), now: t0)
        #expect(fatal.attemptFailed(.fatal(badRequest), now: t0) == .fail(badRequest))
    }

    @Test func aStreamWithoutItsTerminalEventIsAnError() {
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        _ = race.flexStarted()
        guard case .fail(let error) = race.committedEnded(terminal: false) else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.status.code == .dataLoss)
        #expect(error.errorCode == "upstream_stream_truncated")
    }

    @Test func abortStopsAtAnyPoint() {
        let cancelled = RouterError(.cancelled, "cancelled by the client")
        var race = machine()
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        #expect(race.abort(cancelled) == .fail(cancelled))
        #expect(race.isDone)
        #expect(race.budgetExpired() == nil)
    }
}
