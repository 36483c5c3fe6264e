internal import FlexCore

/// What the adaptive policy holds for one provider and model: what flex attempts taught, apart for
/// attempts sent in a scarce spell and the others, the attempts still waiting, and the recent
/// rates the spells and the queue rule read.
///
/// A scarce spell is a time when flex refuses most attempts (at or above
/// ``AdaptiveFlexPolicy/Configuration/spellRefusalRate`` of the attempts sent lately, over
/// ``AdaptiveFlexPolicy/Configuration/recentHalfLife``). Refusals come at once, so a spell shows
/// within seconds of its start; whether the attempts flex admits in a spell also start later is
/// what the spell's own start-time distribution learns. Kept apart, a spell's long waits do not make
/// flex look slow after it ends, and the normal times do not make it look fast during the next.
///
/// A pure value: times are seconds on the policy's clock, passed in.
struct FlexModelHistory: Sendable {
    enum Regime: Sendable, Hashable {
        case normal
        case scarceSpell
    }

    /// One regime's learner, its attempts sent and not ended (by send time in quarter seconds),
    /// and its recent starts.
    struct Tally: Sendable {
        var learner: FlexStartLearner
        var waiting: [Int: Int] = [:]
        var recentStarts: DecayingCount
    }

    private var normal: Tally
    private var spell: Tally
    private var recentSent: DecayingCount
    private var recentRefused: DecayingCount
    /// When this history began counting.
    private let createdAt: Double
    var lastUsed: Double

    init(halfLife: Double, now: Double) {
        self.normal = Tally(
            learner: FlexStartLearner(halfLife: halfLife, now: now),
            recentStarts: DecayingCount(at: now)
        )
        self.spell = Tally(
            learner: FlexStartLearner(halfLife: halfLife, now: now),
            recentStarts: DecayingCount(at: now)
        )
        self.recentSent = DecayingCount(at: now)
        self.recentRefused = DecayingCount(at: now)
        self.createdAt = now
        self.lastUsed = now
    }

    /// The regime now: a scarce spell when enough attempts were sent lately and flex refused at
    /// least `configuration.spellRefusalRate` of them.
    func regime(at now: Double, _ configuration: AdaptiveFlexPolicy.Configuration) -> Regime {
        let halfLife = configuration.recentHalfLife.seconds
        let sent = self.recentSent.value(at: now, halfLife: halfLife)
        guard configuration.spellRefusalRate < 1, sent >= configuration.minimumEvidence else { return .normal }
        let refused = self.recentRefused.value(at: now, halfLife: halfLife)
        return refused / sent >= configuration.spellRefusalRate ? .scarceSpell : .normal
    }

    /// An attempt is sent at `now`, in the regime of that time (which the caller read).
    mutating func sent(quarter: Int, regime: Regime, at now: Double, halfLife: Double) {
        self.recentSent.add(at: now, halfLife: halfLife)
        self.withTally(regime) { $0.waiting[quarter, default: 0] += 1 }
    }

    /// An attempt sent at `quarter` in `regime` ended at `now`, having taught `outcome`. A refusal
    /// comes at once: it is learned in the regime it leaves the history in (the refusal that makes
    /// a spell is the spell's first lesson); any other outcome in the regime it was sent in.
    mutating func ended(
        quarter: Int,
        regime: Regime,
        _ outcome: FlexAttemptOutcome?,
        at now: Double,
        _ configuration: AdaptiveFlexPolicy.Configuration
    ) {
        let halfLife = configuration.recentHalfLife.seconds
        self.withTally(regime) { tally in
            if let count = tally.waiting[quarter] { tally.waiting[quarter] = count > 1 ? count - 1 : nil }
        }
        guard let outcome else { return }
        var learnedIn = regime
        if case .refused = outcome {
            self.recentRefused.add(at: now, halfLife: halfLife)
            learnedIn = self.regime(at: now, configuration)
        }
        self.withTally(learnedIn) { tally in
            tally.learner.record(outcome, at: now)
            if case .started = outcome { tally.recentStarts.add(at: now, halfLife: halfLife) }
        }
    }

    /// An outcome learned elsewhere (no send, no regime): the normal learner takes it.
    mutating func observed(_ outcome: FlexAttemptOutcome, at now: Double) {
        self.normal.learner.record(outcome, at: now)
    }

    /// What `regime`'s attempts taught, with that regime's attempts waiting past `grace` as waits
    /// seen so far (``FlexEstimate/waiting`` counts them) and its recent start rate: a spell's
    /// stragglers do not read as a queue once it is over. While the spells' learner knows less
    /// than the minimum evidence, a spell is decided on both learners together, as it was before
    /// spells were learned apart.
    func estimate(
        _ regime: Regime,
        at now: Double,
        grace: Double,
        _ configuration: AdaptiveFlexPolicy.Configuration
    ) -> FlexEstimate {
        if regime == .scarceSpell {
            let spell = self.estimate(of: self.spell, at: now, grace: grace, configuration)
            if spell.attempts >= configuration.minimumEvidence { return spell }
            return spell.merging(self.estimate(of: self.normal, at: now, grace: grace, configuration))
        }
        return self.estimate(of: self.normal, at: now, grace: grace, configuration)
    }

    private func estimate(
        of tally: Tally,
        at now: Double,
        grace: Double,
        _ configuration: AdaptiveFlexPolicy.Configuration
    ) -> FlexEstimate {
        let waits = tally.waiting.lazy
            .map { (seconds: now - Double($0.key) / 4, count: $0.value) }
            .filter { $0.seconds >= grace }
        var estimate = tally.learner.estimate(at: now).addingWaiting(waits)
        estimate.startRate = self.startRate(of: tally, at: now, halfLife: configuration.recentHalfLife.seconds)
        return estimate
    }

    /// Attempts started per second lately: the decayed count over the weight a steady rate of one a
    /// second would have built since the history began (h / ln 2 in the long run), so that a young
    /// history's rate is not read low.
    private func startRate(of tally: Tally, at now: Double, halfLife: Double) -> Double {
        let counted = tally.recentStarts.value(at: now, halfLife: halfLife)
        guard counted > 0 else { return 0 }
        let steady = DecayingCount.steadyWeight(over: now - self.createdAt, halfLife: halfLife)
        return steady > 0 ? counted / steady : .infinity
    }

    private mutating func withTally(_ regime: Regime, _ body: (inout Tally) -> Void) {
        switch regime {
        case .normal: body(&self.normal)
        case .scarceSpell: body(&self.spell)
        }
    }
}

/// A count whose every unit weighs half as much every half-life.
struct DecayingCount: Sendable, Hashable {
    private var count: Double = 0
    private var updatedAt: Double

    init(at now: Double) {
        self.updatedAt = now
    }

    func value(at now: Double, halfLife: Double) -> Double {
        self.count * FlexStartLearner.halfWeight(after: max(0, now - self.updatedAt), halfLife: halfLife)
    }

    mutating func add(_ amount: Double = 1, at now: Double, halfLife: Double) {
        self.count = self.value(at: now, halfLife: halfLife) + amount
        self.updatedAt = max(self.updatedAt, now)
    }

    /// The weight one unit a second for `span` seconds adds up to now: (h / ln 2)(1 - 2^(-span/h)).
    static func steadyWeight(over span: Double, halfLife: Double) -> Double {
        guard span > 0 else { return 0 }
        return halfLife / 0.693_147_180_559_945_3 * (1 - FlexStartLearner.halfWeight(after: span, halfLife: halfLife))
    }
}
