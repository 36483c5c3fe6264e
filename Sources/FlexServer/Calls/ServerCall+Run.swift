internal import FlexCodec
internal import Logging
internal import NIOCore

extension ServerCall {
    /// Runs the call to its last frames, in its own task: the work races the call's deadline and
    /// its stop (CANCEL, a second request, the connection closing, the server shutting down);
    /// whichever ends first decides the status, and the record of anything billed always reaches
    /// the recorder and the trailers.
    ///
    /// The work runs in a child task (an `async let`) that a stop cancels. The deadline is a
    /// ``DeadlineSignal`` on the connection's event loop and the stop a transition of the call, not
    /// tasks of their own: a waiting call costs two tasks, and the async functions it waits in hold
    /// little more than the call's reference.
    @inline(never)
    func run(_ shared: ServerShared, timers: DeadlineTimers) async {
        let deadline = self.armDeadline(timers)
        await Self.perform(self, service: shared.service)
        deadline.signal()
        await self.finish(shared)
        shared.callEnded()
    }

    @inline(never)
    private func armDeadline(_ timers: DeadlineTimers) -> DeadlineSignal {
        let signal = DeadlineSignal(timers: timers)
        signal.arm(until: self.deadline) { [self] in self.stop(.deadline) }
        return signal
    }

    /// Runs the work in a child task until it ends; cancels it if the call is stopped first.
    ///
    /// An `async let`, not a task group: the child needs no group object, and its task is carved
    /// out of this task's allocator. Leaving the scope without awaiting it (a stop) cancels it and
    /// waits for it to end.
    @inline(never)
    private static func perform(_ call: ServerCall, service: any InferenceService) async {
        async let work: Void = Self.work(call, service: service)
        if await call.waitForEndOrStop() {
            return
        }
        await work
    }

    @inline(never)
    private static func work(_ call: ServerCall, service: any InferenceService) async {
        if call.streaming {
            await Self.stream(call, service: service)
        } else {
            await Self.complete(call, service: service)
        }
    }

    @inline(never)
    private static func stream(_ call: ServerCall, service: any InferenceService) async {
        do throws(CallFailure) {
            let record = try await service.stream(call.takeRequest(), context: call.context) { event in
                try await call.emit(event)
            }
            call.ended(.streamed(record))
        } catch {
            call.ended(.failed(error))
        }
    }

    @inline(never)
    private static func complete(_ call: ServerCall, service: any InferenceService) async {
        do throws(CallFailure) {
            let (response, record) = try await service.complete(call.takeRequest(), context: call.context)
            call.ended(.completed(response, record))
        } catch {
            call.ended(.failed(error))
        }
    }

    /// Once the work has ended: records what was billed, hands the last frames (a unary call's
    /// answer, the trailers) to the connection, and counts and logs the call. Every call allocates
    /// this function's frame, so the work between its suspension points is in synchronous functions.
    @inline(never)
    private func finish(_ shared: ServerShared) async {
        let ending = CallEnding(self)
        if let savings = ending.savings, let recorder = shared.recorder {
            await self.record(savings, status: ending.status, recorder: recorder, metrics: shared.metrics)
        }
        let status = await self.door.finish(self, ending)
        self.ended(status: status, savings: ending.savings, metrics: shared.metrics)
    }

    /// Hands the call's savings record to the recorder and waits until it is kept: the caller gets
    /// the final frames only after that. A failure is logged and counted, not sent to the caller.
    private func record(
        _ savings: SavingsRecord,
        status: Status,
        recorder: any SavingsRecorder,
        metrics: ServerMetrics
    ) async {
        do {
            try await recorder.record(self.finished(savings, status: status))
        } catch {
            self.recordFailed(savings, error, metrics: metrics)
        }
    }

    @inline(never)
    private func recordFailed(_ savings: SavingsRecord, _ error: any Error, metrics: ServerMetrics) {
        metrics.recordFailed()
        var metadata = self.identity()
        metadata["error"] = "\(error)"
        metadata["standard_cost_picousd"] = "\(savings.standardCostPicoUSD)"
        metadata["actual_cost_picousd"] = "\(savings.actualCostPicoUSD)"
        metadata["fee_picousd"] = "\(savings.feePicoUSD)"
        self.logger.error("the call's savings record was not recorded", metadata: metadata)
    }

    @inline(never)
    private func finished(_ savings: SavingsRecord, status: Status) -> FinishedCall {
        let duration = ContinuousClock.now - self.arrival
        let completed = WallClock.microsecondsSinceEpoch()
        return FinishedCall(
            savings: savings,
            tenant: self.context.tenant,
            status: status,
            receivedAtMicroseconds: completed - max(0, duration.microseconds),
            completedAtMicroseconds: completed,
            duration: duration
        )
    }

    /// Counts and logs a call whose last frames are out.
    @inline(never)
    private func ended(status: Status, savings: SavingsRecord?, metrics: ServerMetrics) {
        let duration = ContinuousClock.now - self.arrival
        metrics.callEnded(status: status, savings: savings, duration: duration)
        if self.logger.logLevel <= .info {
            self.log(status: status, savings: savings, duration: duration)
        }
    }

    /// One line per call: identity, routing and cost; never content, never keys.
    private func log(status: Status, savings: SavingsRecord?, duration: Duration) {
        var metadata = self.identity()
        metadata["status"] = "\(status.code)"
        metadata["duration_ms"] = "\(Double(duration.microseconds) / 1000)"
        if !status.errorCode.isEmpty { metadata["error_code"] = "\(status.errorCode)" }
        if let savings {
            metadata["provider"] = "\(savings.provider?.name ?? "")"
            metadata["api"] = "\(savings.api?.name ?? "")"
            metadata["model"] = "\(savings.model)"
            metadata["tier_requested"] = "\(savings.tierRequested?.name ?? "")"
            metadata["tier_served"] = "\(savings.tierServed?.name ?? "")"
            metadata["fell_back"] = "\(savings.fellBack)"
            if let reason = savings.fallbackReason { metadata["fallback_reason"] = "\(reason.name)" }
            metadata["flex_wait_ms"] = "\(savings.flexWaitMicroseconds / 1000)"
            metadata["saved_picousd"] = "\(savings.savedPicoUSD)"
        }
        self.logger.info("call", metadata: metadata)
    }
}
