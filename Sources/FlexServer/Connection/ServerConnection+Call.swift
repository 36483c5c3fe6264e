internal import FlexCodec
internal import FlexRouter
internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore

extension ServerConnection {
    /// Runs one call to its trailers: the work races the call's deadline and its stop signal
    /// (CANCEL, a second request, the server shutting down); whichever ends first decides the
    /// status, and the record of anything billed always reaches the trailers.
    ///
    /// The work runs in a child task (an `async let`) that a stop cancels. The deadline is a timer
    /// on the connection's event loop and the stop a transition of the ``ServerCall``, not tasks of
    /// their own: a waiting call costs two tasks, and the async functions it waits in hold little
    /// more than the call's reference.
    @inline(never)
    func runCall(_ call: ServerCall) async {
        let timer = self.armDeadline(of: call)
        await Self.perform(call, service: self.shared.service)
        timer.cancel()
        await self.finish(call)
        self.callFinished(call.id)
    }

    @inline(never)
    private func armDeadline(of call: ServerCall) -> Scheduled<Void> {
        self.channel.channel.eventLoop.scheduleTask(in: TimeAmount(call.deadline - .now)) {
            call.stop(.deadline)
        }
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
        do throws(RouterFailure) {
            let record = try await service.stream(call.takeRequest(), context: call.context) { event in try await call.emit(event) }
            call.ended(.streamed(record))
        } catch {
            call.ended(.failed(error))
        }
    }

    @inline(never)
    private static func complete(_ call: ServerCall, service: any InferenceService) async {
        do throws(RouterFailure) {
            let (response, record) = try await service.complete(call.takeRequest(), context: call.context)
            call.ended(.completed(response, record))
        } catch {
            call.ended(.failed(error))
        }
    }

    /// Once the work has ended: records what was billed, sends a unary call's answer and the
    /// trailers, and counts and logs the call. Every call allocates this function's frame, so the
    /// work between its suspension points is in synchronous functions (``CallEnding``).
    @inline(never)
    private func finish(_ call: ServerCall) async {
        var ending = CallEnding(call)
        if let savings = ending.savings, let recorder = self.shared.recorder {
            await self.record(savings, of: call, status: ending.status, recorder: recorder)
        }
        do {
            // A unary call's last frames (HEADERS, MESSAGE, TRAILERS) leave in one write.
            var (frames, held) = try ending.answerFrames(call)
            if let held {
                // The client's window is closed: send the headers now, the answer when it opens.
                try await call.writer.write(frames)
                try await call.window.reserve(held.readableBytes - FrameHeader.size)
                frames = held
            }
            self.closing(call.id)
            try ending.appendTrailers(to: &frames, call)
            try await call.writer.write(frames)
        } catch {
            Self.lastFramesFailed(call, error)
        }
        self.ended(call, ending)
    }

    @inline(never)
    private static func lastFramesFailed(_ call: ServerCall, _ error: any Error) {
        call.logger.debug("could not send the call's last frames", metadata: ["error": "\(error)"])
    }

    /// Counts and logs a call whose last frames are out.
    @inline(never)
    private func ended(_ call: ServerCall, _ ending: CallEnding) {
        let duration = ContinuousClock.now - call.arrival
        self.shared.metrics.callEnded(status: ending.status, savings: ending.savings, duration: duration)
        if call.logger.logLevel <= .info {
            Self.log(call, status: ending.status, savings: ending.savings, duration: duration)
        }
    }

    /// Hands the call's savings record to the recorder and waits until it is kept: the caller gets
    /// the final frames only after that. A failure is logged and counted, not sent to the caller.
    private func record(_ savings: SavingsRecord, of call: ServerCall, status: Status, recorder: any SavingsRecorder) async {
        do {
            try await recorder.record(Self.finished(savings, of: call, status: status))
        } catch {
            self.recordFailed(savings, of: call, error)
        }
    }

    @inline(never)
    private func recordFailed(_ savings: SavingsRecord, of call: ServerCall, _ error: any Error) {
        self.shared.metrics.recordFailed()
        var metadata = call.identity()
        metadata["error"] = "\(error)"
        metadata["standard_cost_picousd"] = "\(savings.standardCostPicoUSD)"
        metadata["actual_cost_picousd"] = "\(savings.actualCostPicoUSD)"
        metadata["fee_picousd"] = "\(savings.feePicoUSD)"
        call.logger.error("the call's savings record was not recorded", metadata: metadata)
    }

    @inline(never)
    private static func finished(_ savings: SavingsRecord, of call: ServerCall, status: Status) -> FinishedCall {
        let duration = ContinuousClock.now - call.arrival
        let completed = WallClock.microsecondsSinceEpoch()
        return FinishedCall(savings: savings, tenant: call.context.tenant, status: status,
                            receivedAtMicroseconds: completed - WallClock.microseconds(duration),
                            completedAtMicroseconds: completed, duration: duration)
    }

    /// One line per call: identity, routing and cost; never content, never keys.
    private static func log(_ call: ServerCall, status: Status, savings: SavingsRecord?, duration: Duration) {
        var metadata = call.identity()
        metadata["status"] = "\(status.code)"
        metadata["duration_ms"] = "\(Double(duration.components.attoseconds / 1_000_000_000_000 + duration.components.seconds * 1_000_000) / 1000)"
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
        call.logger.info("call", metadata: metadata)
    }
}
