import FlexCore
import Testing

@testable import FlexRouter

/// The learner without I/O: observations at chosen times, estimates read back.
@Suite("FlexStartLearner")
struct FlexStartLearnerTests {
    @Test func knowsNothingAtFirst() {
        let estimate = FlexStartLearner(halfLife: 60, now: 0).estimate(at: 0)
        #expect(estimate.attempts == 0)
        #expect(estimate.refusalRate == 0)
        #expect(estimate.survival(at: 10) == 1)
    }

    @Test func refusalRateIsTheShareOfRefusedAttempts() {
        var learner = FlexStartLearner(halfLife: 60, now: 0)
        for _ in 0..<3 { learner.record(.refused, at: 0) }
        learner.record(.started(after: 1), at: 0)
        let estimate = learner.estimate(at: 0)
        #expect(estimate.attempts == 4)
        #expect(estimate.refusalRate == 0.75)
    }

    @Test func startTimesGiveTheChanceToStartWithinABudget() {
        var learner = FlexStartLearner(halfLife: 60, now: 0)
        // Half the attempts start in about 1 s, half in about 20 s.
        for _ in 0..<10 {
            learner.record(.started(after: 1), at: 0)
            learner.record(.started(after: 20), at: 0)
        }
        let estimate = learner.estimate(at: 0)
        #expect(abs(estimate.probabilityToStart(within: 5) - 0.5) < 1e-9)
        #expect(estimate.probabilityToStart(within: 60) > 0.999)
        #expect(estimate.probabilityToStart(within: 0.5) < 0.2)
        // Having waited 5 s, the fast half is gone: the rest start at 20 s.
        #expect(estimate.probabilityToStart(within: 10, afterWaiting: 5) < 1e-9)
        #expect(estimate.probabilityToStart(within: 60, afterWaiting: 5) > 0.999)
    }

    @Test func refusalsLowerTheChanceButNotAfterAWait() {
        var learner = FlexStartLearner(halfLife: 60, now: 0)
        for _ in 0..<10 {
            learner.record(.refused, at: 0)
            learner.record(.started(after: 1), at: 0)
        }
        let estimate = learner.estimate(at: 0)
        #expect(abs(estimate.probabilityToStart(within: 60) - 0.5) < 1e-9)
        // An attempt that has waited was admitted: refusals come at once.
        #expect(estimate.probabilityToStart(within: 60, afterWaiting: 0.5) > 0.999)
    }

    /// Attempts cut by a short budget say "later than that", not "never": the life table keeps them
    /// from making flex look slower (or faster) than the attempts that waited long enough show.
    @Test func censoredAttemptsDoNotCountAsNeverStarting() {
        var learner = FlexStartLearner(halfLife: 60, now: 0)
        for _ in 0..<10 { learner.record(.started(after: 10), at: 0) }
        for _ in 0..<10 { learner.record(.stillWaiting(after: 2), at: 0) }
        let estimate = learner.estimate(at: 0)
        // Every attempt that waited past 2 s started by 10 s: the censored ones would have too.
        #expect(estimate.probabilityToStart(within: 30) > 0.999)
        #expect(estimate.atRisk(at: 5) == 10)
    }

    @Test func oldObservationsFade() {
        var learner = FlexStartLearner(halfLife: 60, now: 0)
        for _ in 0..<8 { learner.record(.refused, at: 0) }
        #expect(abs(learner.weight(at: 60) - 4) < 1e-9)
        #expect(abs(learner.weight(at: 120) - 2) < 1e-9)
        // New starts outweigh the faded refusals.
        for _ in 0..<8 { learner.record(.started(after: 1), at: 120) }
        #expect(abs(learner.estimate(at: 120).refusalRate - 0.2) < 1e-9)
    }

    @Test func bucketsCoverEveryWait() {
        #expect(FlexStartLearner.bucket(of: 0) == 0)
        #expect(FlexStartLearner.bucket(of: 0.049) == 0)
        #expect(FlexStartLearner.bucket(of: 0.05) == 1)
        #expect(FlexStartLearner.bucket(of: 86_400) == FlexStartLearner.bucketEdges.count)
        #expect(FlexStartLearner.bucketEdges.count < 40)
    }
}
