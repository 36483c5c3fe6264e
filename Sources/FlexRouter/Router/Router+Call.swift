internal import FlexCatalog
internal import FlexCore
internal import Logging
internal import NIOCore

extension Router {
    /// One call from preparation to its end: what preparation decided, the race's state machine,
    /// and what the race has recorded so far. Its methods feed the machine what happened and return
    /// the machine's next action to the driver (``Router``'s `run`).
    ///
    /// A class, used only by the call's own task, so that the async functions a call waits in
    /// (the driver's `raceFlex` and `deliver`) hold one reference instead of these values. Every
    /// method here is synchronous and not inlined into them: an async function's frame keeps each
    /// stack temporary of its body (and of whatever is inlined into it) for as long as the function
    /// runs, so the work that builds records, errors and log metadata stays on the thread's stack
    /// (the FlexRouter documentation, "Memory per call").
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
            settled: RaceStateMachine.SettledRetries,
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
                requestID: request.requestID,
                provider: prepared.provider,
                api: prepared.adapter.api,
                model: request.model,
                startWithin: request.startWithin,
                tierRequested: plan.requestedTier
            )
            self.machine = RaceStateMachine(policy: retryPolicy, settled: settled)
        }

        // MARK: The race's events

        /// The machine's first action.
        @inline(never)
        func start() -> RaceStateMachine.Action {
            self.machine.start(self.plan, now: self.arrival)
        }

        /// Before new upstream work: a cancelled task stops here (nothing has started, so nothing
        /// is billed).
        @inline(never)
        func stopIfCancelled() -> RaceStateMachine.Action? {
            Task.isCancelled ? self.machine.abort(RouterError.cancelled) : nil
        }

        @inline(never)
        func retryTimerFired() -> RaceStateMachine.Action {
            self.stopIfCancelled() ?? self.machine.retryTimerFired(now: .now)
        }

        @inline(never)
        func flexAttemptStarting(_ attempt: Int) -> ContinuousClock.Instant {
            self.logger.debug(
                "flex attempt",
                metadata: ["request_id": "\(self.prepared.request.requestID)", "attempt": "\(attempt)"]
            )
            return .now
        }

        /// A flex attempt's race against its budget is over (the driver's `raceFlex`): `ending` says
        /// whether a timer stopped it (the budget ran out, or the adaptive policy stopped the wait)
        /// and cancelled its transfer.
        @inline(never)
        func flexAttemptEnded(
            _ outcome: AttemptOutcome,
            ending: AdaptiveFlexWait.Ending,
            began: ContinuousClock.Instant
        ) -> RaceStateMachine.Action {
            self.flexWait += ContinuousClock.now - began
            switch (ending, outcome) {
            case (.budgetExpired, _):
                // Cancelled before it started (or, to the instant, as it started: a transfer the
                // timer has cancelled cannot be delivered, so the call falls back all the same).
                return self.machine.budgetExpired()
                    ?? self.machine.abort(RouterError(.internalError, "the flex budget expired twice"))
            case (.stoppedByPolicy(let reason), _):
                self.logger.debug(
                    "flex wait stopped early",
                    metadata: ["request_id": "\(self.prepared.request.requestID)", "reason": "\(reason.name)"]
                )
                return self.machine.flexStoppedEarly(reason)
            case (.attemptEnded, .started(let live)):
                self.attemptTier = .flex
                self.outcome.live = live
                return self.machine.flexStarted()
            case (.attemptEnded, .answered):
                return self.machine.abort(RouterError(.internalError, "a flex attempt answered without streaming"))
            case (.attemptEnded, .failed(let failure)):
                return self.machine.flexFailed(failure, now: .now)
            }
        }

        /// The adaptive policy did not send flex attempt `attempt`.
        @inline(never)
        func flexSkipped(_ reason: FallbackReason, attempt: Int) -> RaceStateMachine.Action {
            self.logger.debug(
                "flex skipped",
                metadata: [
                    "request_id": "\(self.prepared.request.requestID)", "attempt": "\(attempt)",
                    "reason": "\(reason.name)",
                ]
            )
            return self.machine.flexSkipped(reason)
        }

        /// What a flex attempt teaches the adaptive policy (nil: nothing, e.g. the caller's own
        /// error or cancellation).
        @inline(never)
        func learned(
            from outcome: AttemptOutcome,
            ending: AdaptiveFlexWait.Ending,
            began: ContinuousClock.Instant
        ) -> FlexAttemptOutcome? {
            let waited = (ContinuousClock.now - began).seconds
            switch (outcome, ending) {
            case (_, .budgetExpired), (_, .stoppedByPolicy):
                return .stillWaiting(after: waited)
            case (.started(let live), .attemptEnded):
                return .started(after: (live.startedAt - began).seconds)
            case (.failed(.capacity), .attemptEnded), (.failed(.retryable), .attemptEnded):
                return Task.isCancelled ? nil : .refused
            case (.failed(.fatal), .attemptEnded), (.answered, .attemptEnded):
                return nil
            }
        }

        @inline(never)
        func attemptStarting(_ tier: Tier) {
            self.attemptTier = tier
            self.logger.debug(
                "attempt",
                metadata: ["request_id": "\(self.prepared.request.requestID)", "tier": "\(tier)"]
            )
        }

        /// A standard (or single-tier) attempt has started, answered or failed.
        @inline(never)
        func attemptEnded(_ outcome: AttemptOutcome) -> RaceStateMachine.Action {
            switch outcome {
            case .started(let live):
                self.outcome.live = live
                return self.machine.attemptStarted()
            case .answered(let answer):
                self.outcome.answer = answer
                return self.machine.attemptStarted()
            case .failed(let failure):
                return self.stopIfCancelled() ?? self.machine.attemptFailed(failure, now: .now)
            }
        }

        /// The wait before a retry of the settled tier is over (or the call was cancelled in it).
        @inline(never)
        func settledRetryTimerFired() -> RaceStateMachine.Action {
            if let stop = self.stopIfCancelled() { return stop }
            self.logger.debug(
                "retry",
                metadata: [
                    "request_id": "\(self.prepared.request.requestID)", "tier": "\(self.attemptTier)",
                    "retry": "\(self.machine.retries + 1)",
                ]
            )
            return self.machine.settledRetryTimerFired()
        }

        /// The call has committed to its attempt: the record says how, and the attempt's events
        /// are returned to be read to the end (nil when it answered unstreamed).
        @inline(never)
        func committed(_ commitment: RaceStateMachine.Commitment) -> EventIterator? {
            self.record.fellBack = commitment.fellBack
            self.record.fallbackReason = commitment.fallbackReason
            self.record.flexAttempts = UInt32(commitment.flexAttempts)
            self.record.retries = UInt32(commitment.retries)
            self.record.flexWaitMicroseconds = self.flexWait.unsignedMicroseconds
            guard let live = self.live else { return nil }
            self.sawTerminal = live.sawTerminal
            // A streaming caller gets the provider's events as they are: nothing is assembled.
            if self.streaming { self.storedOutcome?.live?.reader.relayOnly() }
            return live.events
        }

        /// Whether the call committed to an attempt (the provider bills it).
        var hasCommitted: Bool {
            self.storedOutcome.map { $0.live != nil || $0.answer != nil } ?? false
        }

        /// What the provider's answer said about billing, and when it started.
        ///
        /// A committed stream that ended without its terminal event (cut, failed after the start, or
        /// stopped by the caller's deadline or CANCEL) has been billed for what the provider
        /// produced, but its final usage may never have arrived: the tokens it did not report are
        /// flexd's own count (``TokenEstimate``), and `estimated` says so. Input: the usage an
        /// earlier event reported (Anthropic `message_start`, Gemini chunks' `usageMetadata`), else
        /// the request body's text. Output: the larger of what was reported and one token per
        /// event that carried output.
        @inline(never)
        func billed() -> (UpstreamResult, ContinuousClock.Instant, estimated: Bool) {
            if let answer = self.answer {
                return (answer.result, answer.answeredAt, false)
            }
            let live = self.live
            var result =
                live?.reader.result ?? UpstreamResult(usage: TokenUsage(), servedTier: nil, servedTierReported: "")
            var estimated = false
            if let live, !self.sawTerminal {
                if result.usage.inputTokens == 0 {
                    result.usage.inputTokens = TokenEstimate.inputTokens(self.prepared.body, self.prepared.passed)
                    estimated = true
                }
                let counted = UInt64(live.reader.outputEvents)
                if counted > result.usage.outputTokens {
                    result.usage.outputTokens = counted
                    estimated = true
                }
            }
            return (result, live?.startedAt ?? self.arrival, estimated)
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

        /// For a streaming caller, what comes before the provider's next events: the `route` event,
        /// then the events held back until the commit.
        @inline(never)
        func eventsBeforeDelivery() -> [StreamEvent] {
            guard let commitment = self.machine.commitment, let live = self.live else { return [] }
            let route = StreamEvent.route(
                RouteDecision(
                    tier: commitment.tier,
                    fellBack: commitment.fellBack,
                    fallbackReason: commitment.fallbackReason,
                    flexWaitMicroseconds: self.record.flexWaitMicroseconds
                )
            )
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

        /// The committed transfer failed after the start (or the caller stopped taking events).
        @inline(never)
        func cutOff(by error: any Error) {
            // After the start, a transfer that fails (cut connection, idle timeout, oversized event)
            // leaves the caller an incomplete answer: that is data loss, never a clean end.
            if Task.isCancelled {
                self.outcome.failure = RouterError.cancelled
                return
            }
            let provider = self.record.provider
            let cause = Router.error(of: Router.transportFailure(error, provider ?? .openAI, receivedAnything: true))
            self.outcome.failure = RouterError(
                .upstreamStreamTruncated,
                "\(provider?.name ?? "the provider")'s answer was cut off after it started: \(cause.status.message)"
            )
        }

        /// The committed attempt's stream has been read to its end, or to its failure.
        @inline(never)
        func deliveryEnded() -> RaceStateMachine.Action {
            if let failure = self.failure {
                return self.machine.committedFailed(failure)
            }
            return self.machine.committedEnded(terminal: self.sawTerminal)
        }
    }
}
