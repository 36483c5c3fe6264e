internal import FlexCatalog
internal import FlexCore
internal import FlexHTTP
internal import Logging
internal import NIOCore

extension Router {
    // The race driver: the one place that performs the ``RaceStateMachine``'s actions. A call waits
    // in these async functions for as long as flex takes to start (`raceFlex`) and the provider
    // streams (`deliver`), so they hold little more than a reference to the ``Call``; the
    // synchronous work (records, errors, log metadata) is in ``Call``'s out-of-line methods, off
    // their frames (the FlexRouter documentation, "Memory per call").

    /// Runs a prepared call from the machine's first action to its last: `finish` answers, `fail`
    /// throws (with the savings record of anything billed).
    @inline(never)
    func run(_ call: Call, emit: EventSink?) async throws(CallFailure) -> (ByteBuffer?, SavingsRecord) {
        var action = call.start()
        while true {
            switch action {
            case .startFlex(let attempt):
                action = await self.raceFlex(call, attempt: attempt)
            case .scheduleFlexRetry(let delay):
                action = await self.backOff(call, for: delay)
            case .startAttempt(let tier):
                action = await self.attempt(call, tier: tier)
            case .scheduleRetry(let delay):
                action = await self.waitToRetry(call, for: delay)
            case .commit(let commitment):
                action = await self.deliver(call, commitment, emit: emit)
            case .finish:
                return try self.finish(call, streaming: emit != nil)
            case .fail(let error):
                throw self.failure(of: call, error)
            }
        }
    }

    /// Runs a flex attempt against its budget. If the budget runs out first, the attempt's transfer
    /// is cancelled and the call goes on to standard.
    ///
    /// The attempt runs in the call's own task, not a child: the budget is a ``DeadlineSignal``
    /// whose end cancels the transfer through its cancellation handle, and the attempt's end
    /// (started, refused, failed) disarms it. A waiting call so costs no task and no task group for
    /// its flex attempt.
    @inline(never)
    private func raceFlex(_ call: Call, attempt: Int) async -> RaceStateMachine.Action {
        if let stop = call.stopIfCancelled() { return stop }
        guard let deadline = call.machine.flexBudgetEnds else {
            return call.machine.abort(RouterError(.internalError, "a flex attempt without a budget"))
        }
        if case .adaptive(let policy) = self.configuration.flexPolicy {
            return await self.raceFlex(call, attempt: attempt, until: deadline, policy: policy)
        }
        let began = call.flexAttemptStarting(attempt)
        let budget = DeadlineSignal(timers: self.timers)
        let cancellation = Self.arm(budget, until: deadline)
        let outcome = await self.runAttempt(
            call.prepared,
            tier: .flex,
            stream: true,
            flexBudget: max(.zero, deadline - .now),
            cancellation: cancellation,
            logger: call.logger
        )
        // True when the budget ran out first: its timer has cancelled the transfer (an attempt that
        // started in the same instant is cancelled too, and the call falls back).
        let expired = budget.signal()
        return call.flexAttemptEnded(outcome, ending: expired ? .budgetExpired : .attemptEnded, began: began)
    }

    /// Runs a flex attempt under the adaptive policy: it decides whether the attempt is sent at
    /// all, and may stop its wait before the budget runs out (``AdaptiveFlexWait``); the attempt's
    /// outcome feeds its learner.
    @inline(never)
    private func raceFlex(
        _ call: Call,
        attempt: Int,
        until deadline: ContinuousClock.Instant,
        policy: AdaptiveFlexPolicy
    ) async -> RaceStateMachine.Action {
        let provider = call.prepared.provider
        let model = call.model.id
        let recheckAfter: Duration?
        var probing = false
        switch policy.decide(provider: provider, model: model, budget: max(.zero, deadline - .now)) {
        case .skip(let reason):
            return call.flexSkipped(reason, attempt: attempt)
        case .explore(let after):
            recheckAfter = after
            probing = true
        case .wait(let after):
            recheckAfter = after
        }
        let began = call.flexAttemptStarting(attempt)
        let sent = policy.attemptSent(provider: provider, model: model)
        let wait = AdaptiveFlexWait(
            policy: policy,
            timers: self.timers,
            provider: provider,
            model: model,
            began: began,
            budgetEnds: deadline,
            probing: probing
        )
        wait.start(recheckAfter: recheckAfter)
        let outcome = await self.runAttempt(
            call.prepared,
            tier: .flex,
            stream: true,
            flexBudget: max(.zero, deadline - .now),
            cancellation: wait.cancellation,
            logger: call.logger
        )
        let ending = wait.finish()
        policy.attemptEnded(sent, call.learned(from: outcome, ending: ending, began: began))
        return call.flexAttemptEnded(outcome, ending: ending, began: began)
    }

    /// Arms the flex budget's timer: at its end, it cancels the attempt's transfer.
    @inline(never)
    private static func arm(_ budget: DeadlineSignal, until deadline: ContinuousClock.Instant) -> HTTPCancellationHandle
    {
        let cancellation = HTTPCancellationHandle()
        budget.arm(until: deadline) { cancellation.cancel() }
        return cancellation
    }

    /// Waits before the next flex attempt, after a capacity refusal.
    @inline(never)
    private func backOff(_ call: Call, for delay: Duration) async -> RaceStateMachine.Action {
        await self.timers.sleep(until: .now + delay)
        return call.retryTimerFired()
    }

    /// Waits before re-sending to the settled tier, on the deadline service (a cancelled call stops
    /// waiting at once).
    @inline(never)
    private func waitToRetry(_ call: Call, for delay: Duration) async -> RaceStateMachine.Action {
        await self.timers.sleep(until: .now + delay)
        return call.settledRetryTimerFired()
    }

    /// Runs a standard (or single-tier) attempt until it starts, answers or fails.
    @inline(never)
    private func attempt(_ call: Call, tier: Tier) async -> RaceStateMachine.Action {
        if let stop = call.stopIfCancelled() { return stop }
        call.attemptStarting(tier)
        let outcome = await self.runAttempt(
            call.prepared,
            tier: tier,
            stream: call.streaming,
            flexBudget: nil,
            logger: call.logger
        )
        return call.attemptEnded(outcome)
    }

    /// Forwards (or collects) the committed attempt to the end of the provider's stream.
    @inline(never)
    private func deliver(
        _ call: Call,
        _ commitment: RaceStateMachine.Commitment,
        emit: EventSink?
    ) async -> RaceStateMachine.Action {
        guard var events = call.committed(commitment) else {
            // A non-streamed answer, complete already.
            return call.machine.committedEnded(terminal: true)
        }
        do {
            if let emit {
                for event in call.eventsBeforeDelivery() { try await emit(event) }
            }
            reading: while let event = try await events.next() {
                switch call.consume(event) {
                case .forward:
                    if let emit { try await emit(.native(event)) }
                case .skip:
                    continue
                case .stop:
                    break reading
                }
            }
        } catch {
            call.cutOff(by: error)
        }
        return call.deliveryEnded()
    }

    /// The call succeeded: prices it, and for a unary caller of a streamed attempt reassembles the
    /// provider's non-streamed answer.
    @inline(never)
    private func finish(_ call: Call, streaming: Bool) throws(CallFailure) -> (ByteBuffer?, SavingsRecord) {
        let priced = try self.price(call)
        if let answer = call.answer {
            return (answer.body, priced)
        }
        guard !streaming, let live = call.live else {
            return (nil, priced)
        }
        do {
            return (try live.reader.assembleResponse(), priced)
        } catch {
            throw error.failure(savings: priced)
        }
    }

    /// The call failed. Once committed, the provider bills what it produced: the failure carries
    /// the price of what its usage said.
    @inline(never)
    private func failure(of call: Call, _ error: RouterError) -> CallFailure {
        guard call.hasCommitted else {
            call.logger.debug(
                "call failed before starting",
                metadata: ["request_id": "\(call.prepared.request.requestID)", "error_code": "\(error.errorCode)"]
            )
            return error.failure()
        }
        call.logger.debug(
            "committed call failed",
            metadata: ["request_id": "\(call.prepared.request.requestID)", "error_code": "\(error.errorCode)"]
        )
        do {
            return error.failure(savings: try self.price(call))
        } catch {
            return error
        }
    }

    /// The committed attempt's savings record: its tokens at the prices of the tier the provider
    /// reported serving.
    @inline(never)
    private func price(_ call: Call) throws(CallFailure) -> SavingsRecord {
        let (result, startedAt, estimated) = call.billed()
        call.record.timeToStartMicroseconds = (startedAt - call.arrival).unsignedMicroseconds
        call.record.tokensEstimated = estimated
        do {
            return try self.pricing.price(
                call.record,
                model: call.model,
                result: result,
                attemptTier: call.attemptTier,
                on: call.date
            )
        } catch {
            throw error.failure(savings: call.record)
        }
    }
}
