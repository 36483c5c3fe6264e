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
    /// The work runs in a child task that a stop cancels. The deadline is a timer on the
    /// connection's event loop and the stop a transition of the ``ServerCall``, not tasks of their
    /// own: a waiting call costs two tasks, and the async functions it waits in hold little more
    /// than the call's reference.
    func runCall(_ call: ServerCall) async {
        let timer = self.channel.channel.eventLoop.scheduleTask(in: TimeAmount(call.deadline - .now)) {
            call.stop(.deadline)
        }
        await Self.perform(call, service: self.shared.service)
        timer.cancel()
        await self.finish(call)
        self.callFinished(call.id)
    }

    /// Runs the work in a child task until it ends; cancels it if the call is stopped first.
    @inline(never)
    private static func perform(_ call: ServerCall, service: any InferenceService) async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                if call.streaming {
                    await Self.stream(call, service: service)
                } else {
                    await Self.complete(call, service: service)
                }
            }
            if await call.waitForEndOrStop() {
                group.cancelAll()
            }
        }
    }

    @inline(never)
    private static func stream(_ call: ServerCall, service: any InferenceService) async {
        do throws(RouterFailure) {
            let record = try await service.stream(call.request, context: call.context) { event in try await call.emit(event) }
            call.ended(.streamed(record))
        } catch {
            call.ended(.failed(error))
        }
    }

    @inline(never)
    private static func complete(_ call: ServerCall, service: any InferenceService) async {
        do throws(RouterFailure) {
            let (response, record) = try await service.complete(call.request, context: call.context)
            call.ended(.completed(response, record))
        } catch {
            call.ended(.failed(error))
        }
    }

    /// Once the work has ended: records what was billed, sends a unary call's answer and the
    /// trailers, and counts and logs the call.
    @inline(never)
    private func finish(_ call: ServerCall) async {
        let (work, stop) = call.outcome()
        let id = call.id
        let writer = call.writer
        let logger = call.logger
        var status = Status.ok
        var savings: SavingsRecord?
        var response: InferenceResponse?
        switch work {
        case .completed(let answer, let record):
            response = answer
            savings = record
        case .streamed(let record):
            savings = record
        case .failed(let failure):
            status = failure.error.status
            savings = failure.savings
        }
        switch stop {
        case .deadline?:
            status = Status(code: .deadlineExceeded, message: "the call's deadline passed", errorCode: "deadline_exceeded")
            response = nil
        case .stopped(let reason)?:
            status = reason
            response = nil
        case nil:
            break
        }

        if let savings, let recorder = self.shared.recorder {
            await self.record(savings, tenant: call.context.tenant, status: status, arrival: call.arrival, recorder: recorder, logger: logger)
        }

        do {
            // A unary call's last frames (HEADERS, MESSAGE, TRAILERS) leave in one write.
            var frames = ByteBuffer()
            if let response {
                let bytes: ByteBuffer
                do {
                    bytes = try writer.encodeMessage(response, stream: id)
                } catch {
                    status = Status(code: .resourceExhausted, message: "the answer is larger than the client accepts: \(error.message)",
                                    errorCode: "response_too_large")
                    bytes = ByteBuffer()
                }
                if bytes.readableBytes > 0 {
                    frames = try writer.encode(.responseHeaders(id, ResponseHeaders()))
                    if try !call.window.tryReserve(bytes.readableBytes - FrameHeader.size) {
                        // The client's window is closed: send the headers now, the answer when it opens.
                        try await writer.write(frames)
                        frames.clear()
                        try await call.window.reserve(bytes.readableBytes - FrameHeader.size)
                    }
                    frames.writeImmutableBuffer(bytes)
                }
            }
            self.closing(id)
            var trailers = try writer.encode(.trailers(id, Trailers(status: status, savings: savings)))
            frames.writeBuffer(&trailers)
            try await writer.write(frames)
        } catch {
            logger.debug("could not send the call's last frames", metadata: ["error": "\(error)"])
        }
        self.shared.metrics.callEnded(status: status, savings: savings, duration: ContinuousClock.now - call.arrival)
        Self.log(logger, status: status, savings: savings, duration: ContinuousClock.now - call.arrival)
    }

    /// Hands the call's savings record to the recorder and waits until it is kept: the caller gets
    /// the final frames only after that. A failure is logged and counted, not sent to the caller.
    private func record(_ savings: SavingsRecord, tenant: Tenant, status: Status, arrival: ContinuousClock.Instant,
                        recorder: any SavingsRecorder, logger: Logger) async {
        let duration = ContinuousClock.now - arrival
        let completed = WallClock.microsecondsSinceEpoch()
        let call = FinishedCall(savings: savings, tenant: tenant, status: status,
                                receivedAtMicroseconds: completed - WallClock.microseconds(duration),
                                completedAtMicroseconds: completed, duration: duration)
        do {
            try await recorder.record(call)
        } catch {
            self.shared.metrics.recordFailed()
            logger.error("the call's savings record was not recorded", metadata: [
                "error": "\(error)", "standard_cost_picousd": "\(savings.standardCostPicoUSD)",
                "actual_cost_picousd": "\(savings.actualCostPicoUSD)", "fee_picousd": "\(savings.feePicoUSD)",
            ])
        }
    }

    /// One line per call: identity, routing and cost; never content, never keys.
    private static func log(_ logger: Logger, status: Status, savings: SavingsRecord?, duration: Duration) {
        var metadata: Logger.Metadata = [
            "status": "\(status.code)",
            "duration_ms": "\(Double(duration.components.attoseconds / 1_000_000_000_000 + duration.components.seconds * 1_000_000) / 1000)",
        ]
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
        logger.info("call", metadata: metadata)
    }
}
