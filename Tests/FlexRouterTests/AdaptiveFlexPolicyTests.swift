import FlexCore
import Synchronization
import Testing

@testable import FlexRouter

/// The adaptive policy's decisions without I/O: a manual clock and a fixed random sequence.
@Suite("AdaptiveFlexPolicy")
struct AdaptiveFlexPolicyTests {
    final class ManualClock: Sendable {
        let origin = ContinuousClock.now
        private let offset = Mutex(Duration.zero)
        func advance(by duration: Duration) { self.offset.withLock { $0 += duration } }
        var now: ContinuousClock.Instant { self.origin + self.offset.withLock { $0 } }
    }

    let clock = ManualClock()

    func policy(
        _ configuration: AdaptiveFlexPolicy.Configuration = .init(exploration: 0),
        random: Double = 0.5
    ) -> AdaptiveFlexPolicy {
        let clock = self.clock
        return AdaptiveFlexPolicy(configuration: configuration, clock: { clock.now }, random: { random })
    }

    func feed(_ policy: AdaptiveFlexPolicy, _ outcome: FlexAttemptOutcome, times: Int, model: String = "m") {
        for _ in 0..<times { policy.observe(provider: .openAI, model: model, outcome) }
    }

    @Test func knowingLittleItWaitsOutTheBudget() {
        let policy = policy()
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .wait(recheckAfter: nil))
        feed(policy, .refused, times: 7)
        // 7 refusals are less than the minimum evidence (8): still no decision.
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .wait(recheckAfter: nil))
    }

    @Test func refusedFlexIsScarce() {
        let policy = policy()
        feed(policy, .refused, times: 20)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .skip(.flexScarce))
        // Another model knows nothing yet.
        #expect(policy.decide(provider: .openAI, model: "other", budget: .seconds(30)) == .wait(recheckAfter: nil))
    }

    @Test func slowFlexIsPredictedLateForShortBudgetsOnly() {
        let policy = policy()
        feed(policy, .started(after: 40), times: 20)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .skip(.flexPredictedLate))
        guard case .wait = policy.decide(provider: .openAI, model: "m", budget: .seconds(120)) else {
            Issue.record("a budget longer than every start must wait")
            return
        }
    }

    /// Refusals cost no wait: below the scarce rate (0.8), a call still tries flex; at it, where the
    /// few admitted attempts wait in a long queue for little savings, it does not.
    @Test func frequentRefusalsSkipFlexOnlyAtTheScarceRate() {
        let tries = policy()
        feed(tries, .refused, times: 14)
        feed(tries, .started(after: 0.5), times: 6)
        guard case .wait = tries.decide(provider: .openAI, model: "m", budget: .seconds(30)) else {
            Issue.record("70% refusals: the attempt is cheap, try it")
            return
        }
        let skips = policy()
        feed(skips, .refused, times: 17)
        feed(skips, .started(after: 0.5), times: 3)
        #expect(skips.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .skip(.flexScarce))
    }

    @Test func explorationSendsAShareOfSkippedCallsToFlex() {
        let explorer = policy(.init(exploration: 0.1), random: 0.05)
        feed(explorer, .refused, times: 20)
        #expect(
            explorer.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .explore(recheckAfter: .seconds(1))
        )
        let other = policy(.init(exploration: 0.1), random: 0.5)
        feed(other, .refused, times: 20)
        #expect(other.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .skip(.flexScarce))
    }

    /// A probe of scarce flex asks whether flex admits again: re-decided at the admission grace, it
    /// stops while flex is still refused, and waits on once flex admits again. A probe of late flex
    /// waits out its budget (its wait is what it teaches); a call that is not a probe is not
    /// stopped for refusals others met.
    @Test func aProbeOfScarceFlexStopsWhileFlexIsStillScarce() {
        let grace = Duration.milliseconds(500)
        let explorer = policy(.init(exploration: 0.1, admissionGrace: grace), random: 0.05)
        feed(explorer, .refused, times: 20)
        #expect(explorer.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .explore(recheckAfter: grace))
        #expect(
            explorer.recheck(provider: .openAI, model: "m", waited: grace, budget: .seconds(30), probing: true)
                == .stop(.flexScarce)
        )
        guard case .keepWaiting = explorer.recheck(provider: .openAI, model: "m", waited: grace, budget: .seconds(30))
        else {
            Issue.record("a call that is not a probe waits on: its own attempt was admitted")
            return
        }
        // Flex admits again: the probe waits on.
        feed(explorer, .started(after: 0.5), times: 20)
        guard
            case .keepWaiting = explorer.recheck(
                provider: .openAI,
                model: "m",
                waited: grace,
                budget: .seconds(30),
                probing: true
            )
        else {
            Issue.record("flex admits again: the probe must wait on")
            return
        }

        let late = policy(.init(exploration: 0.1), random: 0.05)
        feed(late, .started(after: 40), times: 20)
        #expect(late.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .explore(recheckAfter: nil))
    }

    /// Flex good, then scarce, then good again: the policy follows, with the half-life's lag.
    @Test func followsFlexComingBack() {
        let policy = policy(.init(exploration: 0, halfLife: .seconds(10)))
        feed(policy, .started(after: 0.5), times: 20)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) != .skip(.flexScarce))
        clock.advance(by: .seconds(60))
        feed(policy, .refused, times: 20)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .skip(.flexScarce))
        // Probes see flex again: a few minutes of half-lives later it is tried again.
        clock.advance(by: .seconds(30))
        feed(policy, .started(after: 0.5), times: 10)
        guard case .wait = policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) else {
            Issue.record("flex came back, the policy must try it again")
            return
        }
    }

    /// Without probes the evidence fades below the minimum, and the calls try flex again.
    @Test func fadedEvidenceMeansTryingAgain() {
        let policy = policy(.init(exploration: 0, halfLife: .seconds(10)))
        feed(policy, .refused, times: 20)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .skip(.flexScarce))
        clock.advance(by: .seconds(20))  // 20 -> 5, below 8
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .wait(recheckAfter: nil))
    }

    @Test func aWaitStopsWhenTheRestOfTheBudgetCannotPay() {
        let policy = policy()
        // Half start at once, half after about a minute: a 30 s budget is worth a try at first,
        // and not after the fast half's time has passed.
        feed(policy, .started(after: 0.2), times: 10)
        feed(policy, .started(after: 60), times: 10)
        guard case .wait(let recheck?) = policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) else {
            Issue.record("expected a wait with a recheck")
            return
        }
        #expect(recheck <= .seconds(1))
        #expect(
            policy.recheck(provider: .openAI, model: "m", waited: recheck, budget: .seconds(30))
                == .stop(.flexPredictedLate)
        )
        // With a budget past the slow half it keeps waiting.
        guard
            case .keepWaiting = policy.recheck(provider: .openAI, model: "m", waited: .seconds(1), budget: .seconds(90))
        else {
            Issue.record("a budget past the slow half must keep waiting")
            return
        }
    }

    /// Attempts cut at 1 s say flex does not start within 1 s, and nothing of 10 s.
    @Test func waitsCutShortSayNothingOfLongerBudgets() {
        let policy = policy()
        feed(policy, .stillWaiting(after: 1.01), times: 10)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(1)) == .skip(.flexPredictedLate))
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .wait(recheckAfter: nil))
    }

    /// Attempts still waiting count before they end: a queue that lengthens shows at once, and a
    /// refusal rate is not inflated by the admitted attempts that have not ended yet.
    @Test func attemptsStillWaitingCountBeforeTheyEnd() {
        let policy = policy()
        let sent = (0..<10).map { _ in policy.attemptSent(provider: .openAI, model: "m") }
        // Within the admission grace they may still be refused: not counted yet.
        clock.advance(by: .milliseconds(500))
        #expect(policy.estimate(provider: .openAI, model: "m")?.attempts == 0)
        clock.advance(by: .milliseconds(4500))
        let estimate = policy.estimate(provider: .openAI, model: "m")
        #expect(estimate?.admitted == 10 && estimate?.atRisk(at: 4) == 10)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(3)) == .skip(.flexPredictedLate))
        // Refusals meanwhile: the waiting attempts keep the rate honest (10 of 20, not 10 of 10).
        feed(policy, .refused, times: 10)
        #expect(abs((policy.estimate(provider: .openAI, model: "m")?.refusalRate ?? 0) - 0.5) < 0.01)
        // Ended, they leave the waiting set and count once, as what they turned out to be.
        for attempt in sent { policy.attemptEnded(attempt, .started(after: 5)) }
        let ended = policy.estimate(provider: .openAI, model: "m")
        #expect(ended.map { $0.started.reduce(0, +) } == 10 && ended.map { $0.censored.reduce(0, +) } == 0)
    }

    /// Past what the learner has seen waiting, it does not stop a wait.
    @Test func aWaitLongerThanAnySeenIsNotStopped() {
        let policy = policy()
        feed(policy, .started(after: 0.2), times: 20)
        #expect(
            policy.recheck(provider: .openAI, model: "m", waited: .seconds(5), budget: .seconds(30))
                == .keepWaiting(recheckAfter: nil)
        )
    }

    @Test func stateIsBoundedByModel() {
        let policy = policy(.init(exploration: 0, maximumModels: 3))
        for index in 0..<10 {
            clock.advance(by: .seconds(1))
            policy.observe(provider: .openAI, model: "m\(index)", .refused)
        }
        #expect(policy.modelsLearned == 3)
        #expect(policy.estimate(provider: .openAI, model: "m9") != nil)
        #expect(policy.estimate(provider: .openAI, model: "m0") == nil)
    }

    /// The queue rule (Little's law): many attempts waiting and few starting lately means a new
    /// attempt waits long, seen before any of the waiting attempts ends.
    @Test func aQueueThatStopsMovingIsSeenBeforeItsAttemptsEnd() {
        let policy = policy(.init(exploration: 0, queueFactor: 1))
        // Flex started quickly for a while: 20 starts in 4 seconds.
        for _ in 0..<20 {
            let attempt = policy.attemptSent(provider: .openAI, model: "m")
            clock.advance(by: .milliseconds(200))
            policy.attemptEnded(attempt, .started(after: 0.2))
        }
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .wait(recheckAfter: nil))
        // Then 60 attempts are sent and none starts: 20 seconds later, 60 wait and the start rate
        // has faded to about 0.1 a second, so the queue ahead takes minutes.
        let waiting = (0..<60).map { _ in policy.attemptSent(provider: .openAI, model: "m") }
        clock.advance(by: .seconds(20))
        let estimate = policy.estimate(provider: .openAI, model: "m")
        #expect(estimate?.waiting == 60)
        #expect((estimate?.queueWait ?? 0) > 60)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(45)) == .skip(.flexPredictedLate))
        // Turned off, the rule says nothing (the start-time distribution alone knows no wait that
        // long: the waiting attempts have waited 20 s, less than the budget).
        #expect(AdaptiveFlexPolicy.decide(estimate, budget: 45, .init(queueFactor: 0)) == .wait(recheckAfter: nil))
        // The queue moves again: they start.
        for attempt in waiting { policy.attemptEnded(attempt, .started(after: 20)) }
        #expect(policy.estimate(provider: .openAI, model: "m")?.waiting == 0)
        guard case .wait = policy.decide(provider: .openAI, model: "m", budget: .seconds(45)) else {
            Issue.record("a queue that emptied must not skip flex")
            return
        }
    }

    /// Before the first attempts had time to start, nothing started says nothing of the queue.
    @Test func theQueueRuleWaitsForStartsToBeSeen() {
        let policy = policy(.init(exploration: 0, queueFactor: 1))
        _ = (0..<40).map { _ in policy.attemptSent(provider: .openAI, model: "m") }
        clock.advance(by: .seconds(2))
        let estimate = policy.estimate(provider: .openAI, model: "m")
        #expect(estimate?.waiting == 40 && estimate?.queueWait == .infinity)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .wait(recheckAfter: nil))
    }

    /// Little's law on a snapshot: the waiting attempts over the start rate.
    @Test func queueWaitIsWaitingOverStartRate() {
        let none = [Double](repeating: 0, count: FlexStartLearner.bucketEdges.count + 1)
        var started = none
        started[10] = 10
        let estimate = FlexEstimate(started: started, censored: none, refused: 0, waiting: 30, startRate: 2)
        #expect(estimate.queueWait == 15)
        #expect(AdaptiveFlexPolicy.queueTooLong(estimate, budget: 10, .init(queueFactor: 1)))
        #expect(!AdaptiveFlexPolicy.queueTooLong(estimate, budget: 10, .init(queueFactor: 2)))
        #expect(!AdaptiveFlexPolicy.queueTooLong(estimate, budget: 20, .init(queueFactor: 1)))
        #expect(FlexEstimate(started: none, censored: none, refused: 0).queueWait == 0)
        // A steady rate of one a second reads as one a second, however young the count.
        var count = DecayingCount(at: 0)
        for second in 1...3 { count.add(at: Double(second), halfLife: 5) }
        let rate = count.value(at: 3, halfLife: 5) / DecayingCount.steadyWeight(over: 3, halfLife: 5)
        #expect(abs(rate - 1) < 0.2)
    }

    /// A scarce spell (most recent attempts refused) is learned apart: its long waits make calls in
    /// the next spell skip flex, and do not make flex look slow once the spell is over.
    @Test func scarceSpellsAreLearnedApart() {
        // The spell's start times are what is tested: its refusals alone must not skip flex.
        let policy = policy(.init(scarceRefusalRate: 0.95, exploration: 0, queueFactor: 0, spellRefusalRate: 0.5))
        func send(_ count: Int, _ outcome: FlexAttemptOutcome?) {
            for _ in 0..<count {
                let attempt = policy.attemptSent(provider: .openAI, model: "m")
                clock.advance(by: .milliseconds(100))
                if let outcome { policy.attemptEnded(attempt, outcome) }
            }
        }
        // Normal times: flex starts within a second.
        send(30, .started(after: 0.5))
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .wait(recheckAfter: nil))
        // A spell: refusals, and the few admitted attempts wait a minute.
        send(30, .refused)
        for _ in 0..<4 {
            send(3, .refused)
            send(1, .stillWaiting(after: 60))
        }
        send(10, .refused)
        // Once in the spell, calls learn from spells only: a 10 s budget is not worth the wait.
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .wait(recheckAfter: nil))
        for _ in 0..<6 {
            send(2, .refused)
            send(1, .started(after: 60))
        }
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .skip(.flexPredictedLate))
        // The spell ends: starts again, refusals fade within seconds, and the normal times' fast
        // starts decide, not the spell's waits.
        clock.advance(by: .seconds(20))
        send(20, .started(after: 0.5))
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .wait(recheckAfter: nil))
    }

    /// The attempts a spell left waiting are the spell's: once it is over they do not read as a
    /// queue ahead of the normal times' calls.
    @Test func aSpellsStragglersAreNotTheNormalQueue() {
        let policy = policy(.init(exploration: 0, queueFactor: 1, spellRefusalRate: 0.5))
        func send(_ count: Int, _ outcome: FlexAttemptOutcome?) -> [AdaptiveFlexPolicy.Attempt] {
            (0..<count).map { _ in
                let attempt = policy.attemptSent(provider: .openAI, model: "m")
                clock.advance(by: .milliseconds(100))
                if let outcome { policy.attemptEnded(attempt, outcome) }
                return attempt
            }
        }
        _ = send(20, .started(after: 0.1))
        _ = send(30, .refused)
        // In the spell: 20 admitted attempts wait, and none starts.
        var stragglers: [AdaptiveFlexPolicy.Attempt] = []
        for _ in 0..<20 {
            _ = send(2, .refused)
            stragglers += send(1, nil)
        }
        clock.advance(by: .seconds(2))
        #expect(policy.estimate(provider: .openAI, model: "m")?.waiting == 20)
        // The spell ends; its attempts still wait, and the normal times' attempts start quickly.
        clock.advance(by: .seconds(20))
        _ = send(20, .started(after: 0.1))
        let normal = policy.estimate(provider: .openAI, model: "m")
        #expect(normal?.waiting == 0 && (normal?.startRate ?? 0) > 1)
        #expect(policy.decide(provider: .openAI, model: "m", budget: .seconds(10)) == .wait(recheckAfter: nil))
        for attempt in stragglers { policy.attemptEnded(attempt, .stillWaiting(after: 30)) }
    }

    @Test func configurationsOutOfRangeAreNamed() {
        #expect(AdaptiveFlexPolicy.Configuration(threshold: 1.5).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(scarceRefusalRate: 2).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(exploration: -0.1).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(halfLife: .zero).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(maximumModels: 0).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(queueFactor: -1).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(spellRefusalRate: 1.5).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(recentHalfLife: .zero).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration().problem == nil)
    }
}
