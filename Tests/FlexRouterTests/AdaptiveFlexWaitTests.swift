import FlexCore
import FlexHTTP
import NIOPosix
import Testing

@testable import FlexRouter

/// The adaptive policy's timer chain on a real event loop: rechecks that keep waiting re-arm, a
/// recheck that stops cancels the transfer, the budget's end cancels it, and an attempt that ends
/// first disarms everything.
@Suite("AdaptiveFlexWait")
struct AdaptiveFlexWaitTests {
    static let timers = DeadlineTimers(on: MultiThreadedEventLoopGroup.singleton.next())

    func wait(_ policy: AdaptiveFlexPolicy, budget: Duration, probing: Bool = false) -> AdaptiveFlexWait {
        let now = ContinuousClock.now
        return AdaptiveFlexWait(
            policy: policy,
            timers: Self.timers,
            provider: .openAI,
            model: "m",
            began: now,
            budgetEnds: now + budget,
            probing: probing
        )
    }

    /// Polls (bounded) until the transfer is cancelled.
    func cancelled(_ wait: AdaptiveFlexWait) async throws -> Bool {
        for _ in 0..<400 where !wait.cancellation.isCancelled {
            try await Task.sleep(for: .milliseconds(25))
        }
        return wait.cancellation.isCancelled
    }

    /// A third of the attempts start at once, a third after 2 s, a third after minutes: a 30 s
    /// budget is worth waiting for until the 2 s third has had its chance, and no longer. The first
    /// recheck (after a second) keeps waiting; a later one stops.
    @Test func rechecksKeepWaitingThenStop() async throws {
        let policy = AdaptiveFlexPolicy(configuration: .init(exploration: 0, minimumEvidence: 4))
        for _ in 0..<10 {
            for start in [0.08, 2, 300] { policy.observe(provider: .openAI, model: "m", .started(after: start)) }
        }
        guard case .wait(let first?) = policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) else {
            Issue.record("expected a wait with a recheck")
            return
        }
        #expect(first > .seconds(1) && first < .seconds(2), "the first recheck is a periodic one: \(first)")
        #expect(
            policy.recheck(provider: .openAI, model: "m", waited: first, budget: .seconds(30))
                != .stop(.flexPredictedLate)
        )
        let wait = self.wait(policy, budget: .seconds(30))
        wait.start(recheckAfter: first)
        #expect(try await self.cancelled(wait))
        #expect(wait.finish() == .stoppedByPolicy(.flexPredictedLate))
    }

    /// A probe sent while flex is refused stops at its recheck, as scarce, long before its budget.
    @Test func aProbeStopsAsScarceAtItsRecheck() async throws {
        let policy = AdaptiveFlexPolicy(configuration: .init(exploration: 1, admissionGrace: .milliseconds(50)))
        for _ in 0..<20 { policy.observe(provider: .openAI, model: "m", .refused) }
        guard case .explore(let recheck?) = policy.decide(provider: .openAI, model: "m", budget: .seconds(30)) else {
            Issue.record("expected a probe with a recheck")
            return
        }
        let wait = self.wait(policy, budget: .seconds(30), probing: true)
        wait.start(recheckAfter: recheck)
        #expect(try await self.cancelled(wait))
        #expect(wait.finish() == .stoppedByPolicy(.flexScarce))
    }

    @Test func theBudgetsEndStopsTheWait() async throws {
        let wait = self.wait(AdaptiveFlexPolicy(), budget: .milliseconds(100))
        wait.start(recheckAfter: nil)
        #expect(try await self.cancelled(wait))
        #expect(wait.finish() == .budgetExpired)
    }

    @Test func anAttemptThatEndsFirstDisarmsTheTimers() async throws {
        let wait = self.wait(AdaptiveFlexPolicy(), budget: .milliseconds(200))
        wait.start(recheckAfter: .milliseconds(100))
        #expect(wait.finish() == .attemptEnded)
        try await Task.sleep(for: .milliseconds(400))
        #expect(!wait.cancellation.isCancelled)
        #expect(wait.finish() == .attemptEnded)
    }
}
