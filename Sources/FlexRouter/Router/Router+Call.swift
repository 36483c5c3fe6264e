internal import FlexCatalog
internal import FlexCodec
internal import Logging
internal import NIOCore

extension Router {
    /// One call from preparation to its end: what preparation decided and what the race has
    /// recorded so far, and the race's decisions turned into the steps that wait.
    ///
    /// A class, used only by the call's own task, so that the async functions a call waits in
    /// (``Router/race(_:)``, ``Router/deliver(_:emit:)``) hold one reference instead of these values.
    /// Every method here is synchronous and not inlined into them: an async function's frame keeps
    /// each stack temporary of its body (and of whatever is inlined into it) for as long as the
    /// function runs, so the work that builds records, errors and log metadata stays on the thread's
    /// stack (README, "FlexRouter", "Memory per call").
    final class Call {
        let prepared: PreparedCall
        let plan: TierPlan
        let model: ModelEntry
        let date: CalendarDate
        let arrival: ContinuousClock.Instant
        let streaming: Bool
        let logger: Logger
        var record: SavingsRecord
        var machine: RaceStateMachine
        var flexWait: Duration = .zero
        var attemptTier = Tier.standard
        /// The provider's terminal event has been read.
        var sawTerminal = false
        /// What the call committed to and how it ended, allocated at the commit: a call waiting
        /// for flex holds one nil reference instead of room for all three (450 bytes).
        private var storedOutcome: Outcome?

        final class Outcome {
            var live: LiveAttempt?
            var answer: UnaryAnswer?
            var failure: RouterError?
        }

        /// The attempt the call committed to, once it has: a streamed one ...
        var live: LiveAttempt? { self.storedOutcome?.live }
        /// ... or a non-streamed answer.
        var answer: UnaryAnswer? { self.storedOutcome?.answer }
        /// Why the committed attempt failed, if it did.
        var failure: RouterError? { self.storedOutcome?.failure }

        private var outcome: Outcome {
            if let outcome = self.storedOutcome { return outcome }
            let outcome = Outcome()
            self.storedOutcome = outcome
            return outcome
        }

        init(
            prepared: PreparedCall,
            plan: TierPlan,
            model: ModelEntry,
            date: CalendarDate,
            arrival: ContinuousClock.Instant,
            streaming: Bool,
            retryPolicy: RaceStateMachine.RetryPolicy,
            logger: Logger
        ) {
            self.prepared = prepared
            self.plan = plan
            self.model = model
            self.date = date
            self.arrival = arrival
            self.streaming = streaming
            self.logger = logger
            let request = prepared.request
            self.record = SavingsRecord(
                requestID: request.requestID, provider: prepared.provider, api: prepared.adapter.api, model: request.model,
                startWithin: request.startWithin, tierRequested: plan.requestedTier
            )
            self.machine = RaceStateMachine(policy: retryPolicy)
        }

        /// What the call does next: the race's actions that wait for something. The others (commit,
        /// fail) are carried out by ``step(_:)`` itself.
        enum Step {
            case flex(attempt: Int, budgetEnds: ContinuousClock.Instant)
            case backoff(Duration)
            case attempt(Tier)
            case committed
        }

        // MARK: The race's events

        @inline(never)
        func start() throws(RouterFailure) -> Step {
            try self.step(self.machine.start(self.plan, now: self.arrival))
        }

        @inline(never)
        func retryTimerFired() throws(RouterFailure) -> Step {
            try self.step(self.machine.retryTimerFired(now: .now))
        }

        @inline(never)
        func flexAttemptStarting(_ attempt: Int) -> ContinuousClock.Instant {
            self.logger.debug("flex attempt", metadata: ["request_id": "\(self.prepared.request.requestID)", "attempt": "\(attempt)"])
            return .now
        }

        /// A flex attempt's race against its budget is over (``Router``'s `raceFlex`): `expired` when the
        /// budget ran out first, and its timer cancelled the transfer.
        @inline(never)
        func flexAttemptEnded(_ outcome: AttemptOutcome, expired: Bool, began: ContinuousClock.Instant) throws(RouterFailure) -> Step {
            self.flexWait += ContinuousClock.now - began
            let action: RaceStateMachine.Action
            switch outcome {
            case _ where expired:
                // Cancelled before it started (or, to the instant, as it started: a transfer the
                // timer has cancelled cannot be delivered, so the call falls back all the same).
                action = self.machine.budgetExpired().last ?? .fail(RouterError(.internal, "internal_error", "budget expired twice"))
            case .started(let live):
                self.attemptTier = .flex
                self.outcome.live = live
                action = self.machine.flexStarted()
            case .answered:
                action = self.machine.abort(RouterError(.internal, "internal_error", "a flex attempt answered without streaming"))
            case .failed(let failure):
                action = self.machine.flexFailed(failure, now: .now)
            }
            return try self.step(action)
        }

        @inline(never)
        func attemptStarting(_ tier: Tier) {
            self.attemptTier = tier
            self.logger.debug("attempt", metadata: ["request_id": "\(self.prepared.request.requestID)", "tier": "\(tier)"])
        }

        /// A standard (or single-tier) attempt has started, answered or failed.
        @inline(never)
        func attemptEnded(_ outcome: AttemptOutcome) throws(RouterFailure) -> Step {
            let action: RaceStateMachine.Action
            switch outcome {
            case .started(let live):
                self.outcome.live = live
                action = self.machine.attemptStarted()
            case .answered(let answer):
                self.outcome.answer = answer
                action = self.machine.attemptStarted()
            case .failed(let failure):
                if Task.isCancelled { throw RouterFailure(RouterFailure.cancelled) }
                action = self.machine.attemptFailed(failure)
            }
            return try self.step(action)
        }

        /// Carries out `action` until one that waits: returns it as a step, or throws the call's
        /// failure. A cancelled task stops here.
        private func step(_ action: RaceStateMachine.Action) throws(RouterFailure) -> Step {
            var action = action
            while true {
                if Task.isCancelled { throw RouterFailure(RouterFailure.cancelled) }
                switch action {
                case .startFlex(let attempt):
                    guard let budgetEnds = self.machine.flexBudgetEnds else {
                        action = .fail(RouterError(.internal, "internal_error", "flex attempt without a budget"))
                        continue
                    }
                    return .flex(attempt: attempt, budgetEnds: budgetEnds)
                case .scheduleFlexRetry(let delay):
                    return .backoff(delay)
                case .cancelFlex:
                    // Only ever returned before .startAttempt by budgetExpired(), which raceFlex has done.
                    action = .fail(RouterError(.internal, "internal_error", "unexpected cancelFlex"))
                case .startAttempt(let tier):
                    return .attempt(tier)
                case .commit(let commitment):
                    self.record.fellBack = commitment.fellBack
                    self.record.fallbackReason = commitment.fallbackReason
                    self.record.flexAttempts = UInt32(commitment.flexAttempts)
                    self.record.flexWaitMicroseconds = Router.microseconds(self.flexWait)
                    return .committed
                case .fail(let error):
                    self.logger.debug("call failed before starting",
                                      metadata: ["request_id": "\(self.prepared.request.requestID)", "error_code": "\(error.errorCode)"])
                    throw RouterFailure(error)
                case .finish:
                    throw RouterFailure(RouterError(.internal, "internal_error", "the race finished before committing"))
                }
            }
        }

        // MARK: Delivery

        /// What to do with one event of the committed attempt.
        enum Delivery {
            /// Forward it to a streaming caller.
            case forward
            /// Read it, nothing to forward.
            case skip
            /// The attempt failed: stop reading (``failure`` says why).
            case stop
        }

        /// The committed attempt's events, to read to the end; nil if it answered unstreamed.
        @inline(never)
        func beginDelivery() -> EventIterator? {
            guard let live = self.live else { return nil }
            self.sawTerminal = live.sawTerminal
            return live.events
        }

        /// For a streaming caller, what comes before the provider's next events: the `route` event,
        /// then the events held back until the commit.
        @inline(never)
        func eventsBeforeDelivery() -> [StreamEvent] {
            guard let commitment = self.machine.commitment, let live = self.live else { return [] }
            let route = StreamEvent.route(RouteDecision(
                tier: commitment.tier, fellBack: commitment.fellBack, fallbackReason: commitment.fallbackReason,
                flexWaitMicroseconds: self.record.flexWaitMicroseconds))
            return [route] + live.held.map { .native($0) }
        }

        /// Reads one event of the committed attempt.
        @inline(never)
        func consume(_ event: NativeEvent) -> Delivery {
            switch self.storedOutcome?.live?.reader.consume(event) {
            case .preamble?, .started?, .content?:
                return .forward
            case .terminal?:
                self.sawTerminal = true
                return .forward
            case .internalOnly?, nil:
                return .skip
            case .error(let attemptFailure)?:
                self.outcome.failure = Router.error(of: attemptFailure)
                return .stop
            }
        }

        /// The committed transfer failed after the start.
        @inline(never)
        func cutOff(by error: any Error) {
            // After the start, a transfer that fails (cut connection, idle timeout, oversized event)
            // leaves the caller an incomplete answer: that is data loss, never a clean end.
            if Task.isCancelled {
                self.outcome.failure = RouterFailure.cancelled
                return
            }
            let provider = self.record.provider
            let cause = Router.error(of: Router.transportFailure(error, provider ?? .openAI, receivedAnything: true))
            self.outcome.failure = RouterError(.dataLoss, "upstream_stream_truncated",
                                       "\(provider?.name ?? "the provider")'s answer was cut off after it started: \(cause.status.message)")
        }
    }
}
