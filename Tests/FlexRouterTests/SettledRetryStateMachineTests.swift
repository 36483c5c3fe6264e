import FlexCore
import Testing

@testable import FlexRouter

/// Retries on the settled tier, without I/O: which failures are re-sent, the waits, the deadline,
/// and that the flex leg of a race is never re-sent.
@Suite("RaceStateMachine: retries on the settled tier")
struct SettledRetryStateMachineTests {
    let t0 = ContinuousClock.now
    static let upstream500 = RouterError(
        .upstreamUnavailable,
        "500",
        upstream: UpstreamError(httpStatus: 500)
    )

    func machine(
        _ count: UInt32,
        _ backoff: RetryOption.Backoff = .exponential,
        jitter: Bool = false,
        deadline: ContinuousClock.Instant? = nil,
        draw: Double = 0.5
    ) -> RaceStateMachine {
        RaceStateMachine(
            settled: .init(
                RetryOption(count: count, backoff: backoff, jitter: jitter),
                base: .milliseconds(500),
                deadline: deadline
            ),
            jitter: { draw }
        )
    }

    static func rateLimited(retryAfter: Duration?) -> RouterError {
        var upstream = UpstreamError(httpStatus: 429)
        upstream.retryAfter = retryAfter
        return RouterError(.upstreamRateLimited, "429", upstream: upstream)
    }

    @Test func a5xxIsRetriedWithExponentialBackoffAndTheCountReachesTheCommitment() {
        var race = machine(3)
        _ = race.start(.single(.standard), now: t0)
        let failure = RaceStateMachine.AttemptFailure.retryable(Self.upstream500, beforeAnyByte: false)
        #expect(race.attemptFailed(failure, now: t0) == .scheduleRetry(delay: .milliseconds(500)))
        #expect(race.settledRetryTimerFired() == .startAttempt(tier: .standard))
        #expect(race.attemptFailed(failure, now: t0) == .scheduleRetry(delay: .seconds(1)))
        #expect(race.settledRetryTimerFired() == .startAttempt(tier: .standard))
        #expect(race.retries == 2)
        guard case .commit(let commitment) = race.attemptStarted() else {
            Issue.record("expected a commit")
            return
        }
        #expect(commitment.retries == 2 && commitment.tier == .standard && !commitment.fellBack)
    }

    @Test func linearBackoffAddsTheBaseAndJitterDrawsBelowIt() {
        var linear = machine(3, .linear)
        _ = linear.start(.single(.priority), now: t0)
        let failure = RaceStateMachine.AttemptFailure.retryable(Self.upstream500, beforeAnyByte: false)
        #expect(linear.attemptFailed(failure, now: t0) == .scheduleRetry(delay: .milliseconds(500)))
        _ = linear.settledRetryTimerFired()
        #expect(linear.attemptFailed(failure, now: t0) == .scheduleRetry(delay: .seconds(1)))
        _ = linear.settledRetryTimerFired()
        #expect(linear.attemptFailed(failure, now: t0) == .scheduleRetry(delay: .milliseconds(1500)))

        var jittered = machine(1, jitter: true, draw: 0.25)
        _ = jittered.start(.single(.standard), now: t0)
        #expect(jittered.attemptFailed(failure, now: t0) == .scheduleRetry(delay: .milliseconds(125)))
    }

    @Test func retryAfterIsHonouredAndCapped() {
        var race = machine(2, jitter: true, draw: 0)
        _ = race.start(.single(.standard), now: t0)
        let after2s = RaceStateMachine.AttemptFailure.fatal(Self.rateLimited(retryAfter: .seconds(2)))
        #expect(race.attemptFailed(after2s, now: t0) == .scheduleRetry(delay: .seconds(2)))
        _ = race.settledRetryTimerFired()
        let after1h = RaceStateMachine.AttemptFailure.fatal(Self.rateLimited(retryAfter: .seconds(3600)))
        #expect(race.attemptFailed(after1h, now: t0) == .scheduleRetry(delay: .seconds(60)))
    }

    @Test func exhaustedRetriesEndWithTheLastErrorAndTheirCount() {
        var race = machine(1)
        _ = race.start(.single(.standard), now: t0)
        let failure = RaceStateMachine.AttemptFailure.retryable(Self.upstream500, beforeAnyByte: false)
        _ = race.attemptFailed(failure, now: t0)
        _ = race.settledRetryTimerFired()
        guard case .fail(let error) = race.attemptFailed(failure, now: t0) else {
            Issue.record("expected the call to fail")
            return
        }
        #expect(error.errorCode == "upstream_unavailable")
        #expect(error.status.details["retries"] == "1" && error.status.details["tier"] == "standard")
    }

    @Test func noWaitEndsPastTheDeadline() {
        var race = machine(3, deadline: t0 + .milliseconds(400))
        _ = race.start(.single(.standard), now: t0)
        let failure = RaceStateMachine.AttemptFailure.retryable(Self.upstream500, beforeAnyByte: false)
        guard case .fail(let error) = race.attemptFailed(failure, now: t0) else {
            Issue.record("a retry was scheduled past the deadline")
            return
        }
        #expect(error == Self.upstream500, "no retry was made: the error is the attempt's own")
    }

    @Test func timeoutsAndTheCallersErrorsAreNotRetried() {
        for error in [
            RouterError(.upstreamTimeout, "timeout"),
            RouterError(.upstreamInvalidRequest, "400", upstream: UpstreamError(httpStatus: 400)),
            RouterError(.upstreamUnavailable, "408", upstream: UpstreamError(httpStatus: 408)),
            RouterError(.upstreamStreamTruncated, "cut before the start", status: .unavailable),
        ] {
            var race = machine(5)
            _ = race.start(.single(.standard), now: t0)
            #expect(race.attemptFailed(.retryable(error, beforeAnyByte: false), now: t0) == .fail(error))
        }
        for code in [ErrorCode.upstreamRateLimited, .upstreamOverloaded, .upstreamUnreachable] {
            var race = machine(1)
            _ = race.start(.single(.standard), now: t0)
            #expect(
                race.attemptFailed(.retryable(RouterError(code, "x"), beforeAnyByte: false), now: t0)
                    == .scheduleRetry(delay: .milliseconds(500)),
                "\(code.name)"
            )
        }
    }

    @Test func theFlexLegIsNeverRetriedOnlyTheStandardItFellBackTo() {
        var race = machine(2)
        _ = race.start(.flexRace(budget: .seconds(30)), now: t0)
        let failure = RaceStateMachine.AttemptFailure.retryable(Self.upstream500, beforeAnyByte: false)
        // Flex failed: the race falls back at once, as without retries.
        #expect(race.flexFailed(failure, now: t0) == .startAttempt(tier: .standard))
        var settled = machine(2)
        _ = settled.start(.flexRace(budget: .seconds(30)), now: t0)
        _ = settled.flexFailed(.capacity, now: t0)
        #expect(settled.attemptFailed(failure, now: t0) == .scheduleRetry(delay: .milliseconds(500)))
        #expect(settled.settledRetryTimerFired() == .startAttempt(tier: .standard))
        guard case .commit(let commitment) = settled.attemptStarted() else {
            Issue.record("expected a commit")
            return
        }
        #expect(commitment.retries == 1 && commitment.fellBack && commitment.flexAttempts == 1)
    }
}
