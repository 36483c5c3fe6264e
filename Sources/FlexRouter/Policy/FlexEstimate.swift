/// A snapshot of a ``FlexStartLearner``: the decayed weights of refused attempts, and of admitted
/// attempts by when they started (or were last seen waiting).
public struct FlexEstimate: Sendable, Hashable {
    /// Weight of attempts that started, per bucket of ``FlexStartLearner/bucketEdges``.
    public let started: [Double]
    /// Weight of attempts still waiting when the call stopped waiting, or still waiting now, per
    /// bucket.
    public internal(set) var censored: [Double]
    /// Weight of refused attempts.
    public let refused: Double
    /// Attempts in flight now and past the admission grace: admitted, not started yet (the queue
    /// this instance has ahead of a new attempt, in the regime the estimate is for). 0 in a
    /// learner's own estimate.
    public internal(set) var waiting: Double = 0
    /// Attempts that started per second, lately (over a short half-life). 0 in a learner's own
    /// estimate.
    public internal(set) var startRate: Double = 0

    public init(started: [Double], censored: [Double], refused: Double, waiting: Double = 0, startRate: Double = 0) {
        self.started = started
        self.censored = censored
        self.refused = refused
        self.waiting = waiting
        self.startRate = startRate
    }

    /// How long the attempts waiting now take to start at the recent start rate (Little's law: the
    /// queue ahead of a new attempt, over the rate it moves at): 0 with nothing waiting, infinity
    /// when something waits and nothing has started lately.
    public var queueWait: Double {
        guard self.waiting > 0 else { return 0 }
        return self.startRate > 0 ? self.waiting / self.startRate : .infinity
    }

    /// Adds attempts that are still waiting now, `waits` seconds after they were sent (weight 1
    /// each: they are the latest news). They were admitted (refusals come at once; the caller only
    /// passes waits past the admission grace) and have not started yet: censored at their wait.
    func addingWaiting(_ waits: some Sequence<(seconds: Double, count: Int)>) -> FlexEstimate {
        var estimate = self
        for wait in waits {
            estimate.censored[FlexStartLearner.bucket(of: wait.seconds)] += Double(wait.count)
            estimate.waiting += Double(wait.count)
        }
        return estimate
    }

    /// This estimate and `other` as one: every observation of both, their waiting attempts and
    /// their start rates added up.
    func merging(_ other: FlexEstimate) -> FlexEstimate {
        FlexEstimate(
            started: zip(self.started, other.started).map(+),
            censored: zip(self.censored, other.censored).map(+),
            refused: self.refused + other.refused,
            waiting: self.waiting + other.waiting,
            startRate: self.startRate + other.startRate
        )
    }

    /// The weight of every attempt (how much the estimate knows).
    public var attempts: Double { self.admitted + self.refused }

    /// The weight of attempts that started.
    public var startedWeight: Double { self.started.reduce(0, +) }

    /// The weight of admitted attempts (started or still waiting).
    public var admitted: Double { self.started.reduce(0, +) + self.censored.reduce(0, +) }

    /// The share of attempts flex refused (0 when nothing is known).
    public var refusalRate: Double {
        let attempts = self.attempts
        return attempts > 0 ? self.refused / attempts : 0
    }

    /// The chance that an admitted attempt has not started after `seconds`: the actuarial life
    /// table over the buckets (an attempt censored in a bucket counts as at risk for half of it),
    /// linear within a bucket.
    public func survival(at seconds: Double) -> Double {
        guard seconds > 0 else { return 1 }
        let edges = FlexStartLearner.bucketEdges
        var atRisk = self.admitted
        var survival = 1.0
        for index in self.started.indices {
            let low = index == 0 ? 0 : edges[index - 1]
            let high = index < edges.count ? edges[index] : low * 1.5
            let exposed = atRisk - self.censored[index] / 2
            let hazard = exposed > 0 ? min(1, self.started[index] / exposed) : 0
            if seconds < high {
                return survival * (1 - hazard * (seconds - low) / (high - low))
            }
            survival *= 1 - hazard
            atRisk -= self.started[index] + self.censored[index]
        }
        return survival
    }

    /// The weight of admitted attempts that were still waiting after `seconds` (the evidence behind
    /// what the estimate says about later starts).
    public func atRisk(at seconds: Double) -> Double {
        let edges = FlexStartLearner.bucketEdges
        var atRisk = self.admitted
        for index in self.started.indices {
            let high = index < edges.count ? edges[index] : .infinity
            if seconds < high { break }
            atRisk -= self.started[index] + self.censored[index]
        }
        return max(0, atRisk)
    }

    /// The chance that a new attempt starts within `budget` seconds: admitted, and started by then.
    public func probabilityToStart(within budget: Double) -> Double {
        (1 - self.refusalRate) * (1 - self.survival(at: budget))
    }

    /// The chance that an attempt which has waited `waited` seconds starts by `budget` seconds
    /// (from its send): refusals come at once, so only the start time matters by then. 0 when no
    /// admitted attempt ever waited that long.
    public func probabilityToStart(within budget: Double, afterWaiting waited: Double) -> Double {
        let waiting = self.survival(at: waited)
        guard waiting > 0 else { return 0 }
        return max(0, waiting - self.survival(at: budget)) / waiting
    }
}
