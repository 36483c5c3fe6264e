internal import Foundation

/// What recent flex attempts on one provider and model say about the next one: how often flex
/// refuses, and how long an admitted attempt takes to start.
///
/// A pure value: time is a number of seconds on any monotonic axis, passed in, and nothing here
/// reads a clock. Every observation's weight halves every ``halfLife`` seconds, so recent
/// behaviour counts more and old behaviour fades out. Start times go into fixed buckets (0.05 s to
/// one hour, each 1.5 times the last), so the state is a few hundred bytes whatever the traffic.
///
/// Attempts that were still waiting when the call stopped waiting (a budget ran out, the policy
/// stopped it) are censored observations: they say the start was later than that, not when it
/// was. The start-time distribution is their life table (the actuarial Kaplan-Meier estimate), so
/// short budgets do not make flex look faster than it is.
public struct FlexStartLearner: Sendable, Hashable {
    /// The upper edges of the start-time buckets, in seconds; a last bucket holds everything longer.
    public static let bucketEdges: [Double] = {
        var edges: [Double] = []
        var edge = 0.05
        while edge < 3600 {
            edges.append(edge)
            edge *= 1.5
        }
        edges.append(3600)
        return edges
    }()

    /// Seconds after which an observation weighs half as much.
    public let halfLife: Double
    private var started: [Double]
    private var censored: [Double]
    private var refused: Double = 0
    /// The time the weights are expressed at.
    private var updatedAt: Double

    public init(halfLife: Double, now: Double) {
        precondition(halfLife > 0, "halfLife must be positive")
        self.halfLife = halfLife
        self.started = Array(repeating: 0, count: Self.bucketEdges.count + 1)
        self.censored = Array(repeating: 0, count: Self.bucketEdges.count + 1)
        self.updatedAt = now
    }

    /// Adds one attempt's outcome, observed at `now`.
    public mutating func record(_ outcome: FlexAttemptOutcome, at now: Double) {
        self.decay(to: now)
        switch outcome {
        case .started(let seconds):
            self.started[Self.bucket(of: seconds)] += 1
        case .stillWaiting(let seconds):
            self.censored[Self.bucket(of: seconds)] += 1
        case .refused:
            self.refused += 1
        }
    }

    /// What the observations say at `now`.
    public func estimate(at now: Double) -> FlexEstimate {
        var copy = self
        copy.decay(to: now)
        return FlexEstimate(started: copy.started, censored: copy.censored, refused: copy.refused)
    }

    /// The weight of every observation, at `now` (0 once everything has faded).
    public func weight(at now: Double) -> Double {
        self.estimate(at: now).attempts
    }

    private mutating func decay(to now: Double) {
        let elapsed = now - self.updatedAt
        guard elapsed > 0 else { return }
        self.updatedAt = now
        let factor = Self.halfWeight(after: elapsed, halfLife: self.halfLife)
        for index in self.started.indices {
            self.started[index] *= factor
            self.censored[index] *= factor
        }
        self.refused *= factor
    }

    /// 2^(-elapsed / halfLife).
    static func halfWeight(after elapsed: Double, halfLife: Double) -> Double {
        Foundation.exp2(-elapsed / halfLife)
    }

    /// The bucket `seconds` falls in.
    static func bucket(of seconds: Double) -> Int {
        let edges = Self.bucketEdges
        var low = 0
        var high = edges.count
        // The first edge above `seconds` (binary search); edges.count when none is.
        while low < high {
            let middle = (low + high) / 2
            if edges[middle] > seconds { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
