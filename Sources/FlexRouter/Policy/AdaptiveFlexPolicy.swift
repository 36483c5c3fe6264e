public import FlexCore
internal import Synchronization

/// The adaptive flex policy: learns, per provider and model, when flex starts, and sends to
/// standard at once the calls whose budget flex is not expected to meet, or stops their wait early.
///
/// Every flex attempt feeds the learner of its provider and model: while it waits (past
/// ``Configuration/admissionGrace``), as a wait seen so far, and when it ends, as what it turned
/// out to be (``attemptSent(provider:model:)``, ``attemptEnded(_:_:)``); before an attempt, ``decide(provider:model:budget:)`` reads
/// the refusal rate and the chance that an admitted attempt starts within the call's budget. At
/// or above ``Configuration/scarceRefusalRate`` refusals the call does not try flex
/// (`flex_scarce`); below ``Configuration/threshold`` chance it does not wait for it
/// (`flex_predicted_late`); except for a share (``Configuration/exploration``) that tries flex
/// anyway, so the learner sees flex come back. A probe of scarce flex asks only whether flex
/// admits again: it is re-decided once the admission grace has passed, and stops (`flex_scarce`)
/// while flex is still scarce; a probe of late flex waits out its budget, since its wait is what
/// it teaches. A call that waits is re-decided while it waits
/// (``recheck(provider:model:waited:budget:probing:)``): once the chance that it starts in the
/// budget left falls below the threshold, it stops waiting and goes to standard (`flex_predicted_late`).
/// While the learner knows little (less than ``Configuration/minimumEvidence`` of recent
/// attempts, or of attempts seen still waiting at the call's budget), it does not decide: the call
/// waits out its budget as under the fixed policy.
///
/// Attempts sent in a scarce spell (at least ``Configuration/spellRefusalRate`` of the attempts
/// sent lately refused, over ``Configuration/recentHalfLife``) are learned apart from the others,
/// and a call in a spell is decided on what spells taught (`FlexModelHistory`): a spell's long
/// waits do not make flex look slow once it is over. The queue rule (``Configuration/queueFactor``)
/// skips flex when the attempts waiting now, at the recent start rate, take longer than the
/// budget to start (Little's law).
///
/// What it never does: send a call to a tier dearer than standard, or wait longer than the
/// caller's budget. Its state is two ``FlexStartLearner``s (a few hundred bytes each) and four
/// decaying counts per provider and model, at most ``Configuration/maximumModels`` of them (the
/// least recently used is forgotten), and a count of the attempts in flight per quarter second of
/// sending (bounded by the calls in flight), on this instance only: no shared store.
///
/// The clock and the randomness are injected, so that tests drive it without I/O.
public final class AdaptiveFlexPolicy: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Below this chance that an admitted flex attempt starts within the budget (left), a call
        /// does not wait for flex.
        public var threshold: Double
        /// At or above this share of refused attempts, flex is scarce: a call does not try it. A
        /// refusal comes at once and costs no wait, but where most attempts are refused the few
        /// admitted wait in a long queue, for little savings (at most the share admitted).
        public var scarceRefusalRate: Double
        /// The share of calls the policy would send to standard that try flex anyway (probes).
        public var exploration: Double
        /// After this long an observation weighs half as much.
        public var halfLife: Duration
        /// Below this weight of recent observations the policy does not decide (the call waits out
        /// its budget, as under the fixed policy).
        public var minimumEvidence: Double
        /// Providers and models learned at once, at most.
        public var maximumModels: Int
        /// An attempt still waiting this long after it was sent was admitted (refusals come at
        /// once): it counts as a wait seen so far, before it ends.
        public var admissionGrace: Duration
        /// A call does not wait for flex when the attempts waiting ahead of it are predicted to
        /// take longer than this many times its budget to start (the queue rule; 0 turns it off).
        public var queueFactor: Double
        /// At or above this share of refusals among the attempts sent lately, flex is in a scarce
        /// spell: attempts sent in a spell are learned apart, and a call in a spell is decided on
        /// what spells taught (1 turns spells off).
        public var spellRefusalRate: Double
        /// The half-life of the recent rates: the refusals that say a spell began or ended, and the
        /// start rate of the queue rule. Short, so that a change shows within seconds.
        public var recentHalfLife: Duration

        public init(
            threshold: Double = 0.2,
            scarceRefusalRate: Double = 0.8,
            exploration: Double = 0.1,
            halfLife: Duration = .seconds(30),
            minimumEvidence: Double = 8,
            maximumModels: Int = 1024,
            admissionGrace: Duration = .seconds(1),
            queueFactor: Double = 1,
            spellRefusalRate: Double = 0.5,
            recentHalfLife: Duration = .milliseconds(2500)
        ) {
            self.threshold = threshold
            self.scarceRefusalRate = scarceRefusalRate
            self.exploration = exploration
            self.halfLife = halfLife
            self.minimumEvidence = minimumEvidence
            self.maximumModels = maximumModels
            self.admissionGrace = admissionGrace
            self.queueFactor = queueFactor
            self.spellRefusalRate = spellRefusalRate
            self.recentHalfLife = recentHalfLife
        }

        /// Why a configuration cannot be used, or nil when it can.
        public var problem: String? {
            if !(0...1).contains(self.threshold) { return "the threshold must be between 0 and 1" }
            if !(0...1).contains(self.scarceRefusalRate) { return "the scarce refusal rate must be between 0 and 1" }
            if !(0...1).contains(self.exploration) { return "the exploration share must be between 0 and 1" }
            if self.halfLife <= .zero { return "the half-life must be positive" }
            if !(self.minimumEvidence >= 0) { return "the minimum evidence must not be negative" }
            if self.maximumModels < 1 { return "at least one model must be learned" }
            if self.admissionGrace < .zero { return "the admission grace must not be negative" }
            if !(self.queueFactor >= 0) { return "the queue factor must not be negative" }
            if !(0...1).contains(self.spellRefusalRate) { return "the spell refusal rate must be between 0 and 1" }
            if self.recentHalfLife <= .zero { return "the recent half-life must be positive" }
            return nil
        }
    }

    /// What a call does before its flex attempt.
    public enum Decision: Hashable, Sendable {
        /// Try flex, and re-decide after waiting `recheckAfter` (nil: wait out the budget).
        case wait(recheckAfter: Duration?)
        /// Try flex though it is not expected to pay, for the learner's sake, and re-decide after
        /// waiting `recheckAfter` (nil: wait out the budget). A probe of scarce flex is re-decided
        /// at the admission grace, when flex has admitted or refused it, and stops while flex is
        /// still scarce; a probe of late flex waits out its budget (its wait is what it teaches).
        case explore(recheckAfter: Duration?)
        /// Do not try flex: go to standard now, for this reason.
        case skip(FallbackReason)
    }

    /// What a waiting flex attempt does at a recheck.
    public enum WaitDecision: Hashable, Sendable {
        /// Go on waiting; re-decide after `recheckAfter` of waiting in all (nil: wait out the budget).
        case keepWaiting(recheckAfter: Duration?)
        /// Stop waiting and go to standard, for this reason (`flex_predicted_late`, or
        /// `flex_scarce` for a probe that found flex still scarce).
        case stop(FallbackReason)
    }

    struct Key: Hashable, Sendable {
        var provider: Provider
        var model: String
    }

    /// A flex attempt sent under the policy: ``attemptEnded(_:_:)`` says how it ended.
    public struct Attempt: Sendable {
        let key: Key
        /// When it was sent, in quarter seconds of the policy's clock.
        let sentQuarter: Int
        /// The regime it was sent in, whose learner its outcome feeds.
        let regime: FlexModelHistory.Regime
    }

    public let configuration: Configuration
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let random: @Sendable () -> Double
    private let origin: ContinuousClock.Instant
    private let learners = Mutex<[Key: FlexModelHistory]>([:])

    /// - Parameters:
    ///   - clock: now (tests pass a manual clock).
    ///   - random: a number in 0..<1 (tests pass a fixed sequence).
    public init(
        configuration: Configuration = Configuration(),
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.configuration = configuration
        self.clock = clock
        self.random = random
        self.origin = clock()
    }

    // MARK: Decisions

    /// Decides, before a flex attempt, whether the call waits for flex.
    /// - Parameter budget: the budget left (`start_within` less what the call has waited).
    public func decide(provider: Provider, model: String, budget: Duration) -> Decision {
        let decision = Self.decide(
            self.estimate(provider: provider, model: model),
            budget: budget.seconds,
            self.configuration
        )
        guard case .skip(let reason) = decision, self.configuration.exploration > 0,
            self.random() < self.configuration.exploration
        else { return decision }
        return .explore(recheckAfter: reason == .flexScarce ? self.configuration.admissionGrace : nil)
    }

    /// Re-decides a waiting flex attempt that has waited `waited` of its `budget` (both from its
    /// send); `probing` when it is a probe (``Decision/explore(recheckAfter:)``), which stops while
    /// flex is still scarce.
    public func recheck(
        provider: Provider,
        model: String,
        waited: Duration,
        budget: Duration,
        probing: Bool = false
    ) -> WaitDecision {
        Self.recheck(
            self.estimate(provider: provider, model: model),
            waited: waited.seconds,
            budget: budget.seconds,
            probing: probing,
            self.configuration
        )
    }

    /// A flex attempt is sent: until it ends, the estimate counts it as still waiting (once past the
    /// admission grace), so a queue that lengthens shows before its attempts end.
    public func attemptSent(provider: Provider, model: String) -> Attempt {
        let now = self.seconds()
        let key = Key(provider: provider, model: model)
        let quarter = Int((now * 4).rounded(.down))
        let configuration = self.configuration
        let regime = self.withEntry(key, now: now) { history in
            let regime = history.regime(at: now, configuration)
            history.sent(quarter: quarter, regime: regime, at: now, halfLife: configuration.recentHalfLife.seconds)
            return regime
        }
        return Attempt(key: key, sentQuarter: quarter, regime: regime)
    }

    /// A flex attempt sent with ``attemptSent(provider:model:)`` ended: `outcome` is what it
    /// taught (nil: nothing, e.g. the caller's own error).
    public func attemptEnded(_ attempt: Attempt, _ outcome: FlexAttemptOutcome?) {
        let now = self.seconds()
        let configuration = self.configuration
        self.withEntry(attempt.key, now: now) { history in
            history.ended(quarter: attempt.sentQuarter, regime: attempt.regime, outcome, at: now, configuration)
        }
    }

    /// Feeds one flex attempt's outcome to the learner of its provider and model (an attempt not
    /// sent through ``attemptSent(provider:model:)``: tests, or what another source learned). It
    /// counts as learned outside a scarce spell.
    public func observe(provider: Provider, model: String, _ outcome: FlexAttemptOutcome) {
        let now = self.seconds()
        self.withEntry(Key(provider: provider, model: model), now: now) { $0.observed(outcome, at: now) }
    }

    /// What the policy knows about a provider and model now (nil: nothing): what ended attempts
    /// of the regime it is in now taught (a scarce spell's, or the rest's), with that regime's
    /// attempts still waiting past the admission grace and its recent start rate (the queue rule's
    /// inputs).
    public func estimate(provider: Provider, model: String) -> FlexEstimate? {
        let now = self.seconds()
        let history = self.learners.withLock { $0[Key(provider: provider, model: model)] }
        guard let history else { return nil }
        return history.estimate(
            history.regime(at: now, self.configuration),
            at: now,
            grace: self.configuration.admissionGrace.seconds,
            self.configuration
        )
    }

    /// Runs `body` on the entry for `key`, made (and the least recently used one forgotten when
    /// the table is full) if need be.
    @discardableResult
    private func withEntry<Result>(_ key: Key, now: Double, _ body: (inout FlexModelHistory) -> Result) -> Result {
        let halfLife = self.configuration.halfLife.seconds
        let maximum = self.configuration.maximumModels
        return self.learners.withLock { learners in
            if learners[key] == nil, learners.count >= maximum,
                let oldest = learners.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key
            {
                learners[oldest] = nil
            }
            var history = learners[key] ?? FlexModelHistory(halfLife: halfLife, now: now)
            let result = body(&history)
            history.lastUsed = now
            learners[key] = history
            return result
        }
    }

    /// The providers and models learned now.
    public var modelsLearned: Int { self.learners.withLock { $0.count } }

    private func seconds() -> Double {
        (self.clock() - self.origin).seconds
    }

    // MARK: The rules (pure)

    /// The decision before an attempt, from an estimate (nil: nothing known), without exploration.
    public static func decide(_ estimate: FlexEstimate?, budget: Double, _ configuration: Configuration) -> Decision {
        guard let estimate, estimate.attempts >= configuration.minimumEvidence else {
            return .wait(recheckAfter: nil)
        }
        // Nearly every attempt is refused: flex is scarce.
        if Self.isScarce(estimate, configuration) { return .skip(.flexScarce) }
        // The queue rule: the attempts waiting now take longer to start than the budget allows,
        // at the rate attempts have started lately. The start-time distribution below learns a
        // lengthening queue only as its attempts end (a budget later); this sees it as it forms.
        if Self.queueTooLong(estimate, budget: budget, configuration) { return .skip(.flexPredictedLate) }
        // A refusal comes at once; what an attempt can waste is its budget, when flex admits it
        // and does not start it in time. So the wait is worth it when an admitted attempt is
        // likely enough to start within the budget, whatever the refusal rate.
        // A budget of 0 ("flex only if it starts at once") gets the first bucket's instant.
        let budget = max(budget, FlexStartLearner.bucketEdges[0])
        // Below the threshold it would not start in time: known only when enough recent attempts
        // were seen still waiting at the budget (few at risk there, with a small chance, means
        // attempts were cut before it: the estimate cannot say).
        if estimate.probabilityToStart(within: budget, afterWaiting: 0) < configuration.threshold,
            estimate.atRisk(at: budget) >= configuration.minimumEvidence
        {
            return .skip(.flexPredictedLate)
        }
        return .wait(recheckAfter: Self.nextCheck(estimate, waited: 0, budget: budget, configuration))
    }

    /// Whether nearly every attempt is refused (the estimate is known to hold enough evidence).
    static func isScarce(_ estimate: FlexEstimate, _ configuration: Configuration) -> Bool {
        estimate.attempts >= configuration.minimumEvidence && estimate.refusalRate >= configuration.scarceRefusalRate
    }

    /// Whether enough attempts are waiting now that, at the recent start rate, the queue ahead of a
    /// new attempt takes longer than ``Configuration/queueFactor`` times `budget` to move. Only
    /// once starts have been seen (enough recent ones in the start-time distribution): before the
    /// first attempts had time to start, nothing started says nothing about the queue.
    static func queueTooLong(_ estimate: FlexEstimate, budget: Double, _ configuration: Configuration) -> Bool {
        configuration.queueFactor > 0
            && estimate.waiting >= configuration.minimumEvidence
            && estimate.startedWeight >= configuration.minimumEvidence
            && estimate.queueWait > configuration.queueFactor * budget
    }

    /// The decision at a recheck, from an estimate (nil: nothing known). A probe's first question is
    /// whether flex is still scarce: a refusal comes at once, so by the admission grace the probe
    /// has told the learner what it could, and waiting on in a scarce spell only wastes the budget.
    public static func recheck(
        _ estimate: FlexEstimate?,
        waited: Double,
        budget: Double,
        probing: Bool = false,
        _ configuration: Configuration
    ) -> WaitDecision {
        guard let estimate, waited < budget else { return .keepWaiting(recheckAfter: nil) }
        if probing, Self.isScarce(estimate, configuration) { return .stop(.flexScarce) }
        if Self.shouldStop(estimate, waited: waited, budget: budget, configuration) {
            return .stop(.flexPredictedLate)
        }
        return .keepWaiting(recheckAfter: Self.nextCheck(estimate, waited: waited, budget: budget, configuration))
    }

    /// Whether an attempt that has waited `waited` is unlikely enough to start by `budget`: only
    /// when enough recent attempts were seen still waiting at the budget (the estimate knows that
    /// part of the curve: attempts cut before it say nothing of it).
    static func shouldStop(
        _ estimate: FlexEstimate,
        waited: Double,
        budget: Double,
        _ configuration: Configuration
    )
        -> Bool
    {
        estimate.atRisk(at: budget) >= configuration.minimumEvidence
            && estimate.probabilityToStart(within: budget, afterWaiting: waited) < configuration.threshold
    }

    /// When to re-decide an attempt that has waited `waited`: at the first bucket edge where the
    /// estimate would stop it, and at least at every doubling of the wait (at least a second
    /// later), so that what the learner sees meanwhile counts; nil when neither comes before the
    /// budget ends, or when the estimate knows nothing about waits as long as the budget.
    static func nextCheck(
        _ estimate: FlexEstimate,
        waited: Double,
        budget: Double,
        _ configuration: Configuration
    ) -> Duration? {
        // Nothing can stop a wait the estimate knows nothing about at its budget.
        guard estimate.atRisk(at: budget) >= configuration.minimumEvidence else { return nil }
        let periodic = max(waited * 2, waited + 1)
        for edge in FlexStartLearner.bucketEdges where edge > waited {
            guard edge < budget else { return nil }
            // (The evidence at the budget is checked above, once.)
            if edge >= periodic
                || estimate.probabilityToStart(within: budget, afterWaiting: edge) < configuration.threshold
            {
                return .seconds(edge)
            }
        }
        return nil
    }
}
