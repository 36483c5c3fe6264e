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

    /// Refusals cost no wait: short of near-certain refusal, a call still tries flex.
    @Test func frequentRefusalsAloneDoNotSkipFlex() {
        let policy = policy()
        feed(policy, .refused, times: 16)
        feed(policy, .started(after: 0.5), times: 4)
        guard case .wait = policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) else {
            Issue.record("80% refusals: the attempt is cheap, try it")
            return
        }
    }

    @Test func explorationSendsAShareOfSkippedCallsToFlex() {
        let explorer = policy(.init(exploration: 0.1), random: 0.05)
        feed(explorer, .refused, times: 20)
        #expect(explorer.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .explore)
        let other = policy(.init(exploration: 0.1), random: 0.5)
        feed(other, .refused, times: 20)
        #expect(other.decide(provider: .openAI, model: "m", budget: .seconds(30)) == .skip(.flexScarce))
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
        #expect(policy.recheck(provider: .openAI, model: "m", waited: recheck, budget: .seconds(30)) == .stop)
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

    @Test func configurationsOutOfRangeAreNamed() {
        #expect(AdaptiveFlexPolicy.Configuration(threshold: 1.5).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(scarceRefusalRate: 2).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(exploration: -0.1).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(halfLife: .zero).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration(maximumModels: 0).problem != nil)
        #expect(AdaptiveFlexPolicy.Configuration().problem == nil)
    }
}
