internal import FlexCodec
internal import FlexRouter
internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore

extension ServerConnection {
    /// How a call's work ended.
    private enum Work: Sendable {
        case completed(InferenceResponse, SavingsRecord)
        case streamed(SavingsRecord)
        case failed(RouterFailure)
    }

    /// What stopped a call before its work ended.
    private enum Stop: Sendable {
        case deadline
        case stopped(Status)
    }

    private enum Leg: Sendable {
        case work(Work)
        case stop(Stop)
        case ignored
    }

    /// Runs one call to its trailers: the work races the call's deadline and its stop signal
    /// (CANCEL, a second request, the server shutting down); whichever ends first decides the
    /// status, and the record of anything billed always reaches the trailers.
    func runCall(
        _ id: StreamID,
        headers: RequestHeaders,
        request: InferenceRequest,
        tenant: Tenant,
        control: CallControl,
        writer: ConnectionWriter,
        arrival: ContinuousClock.Instant
    ) async {
        var logger = self.logger
        logger[metadataKey: "request_id"] = "\(request.requestID)"
        logger[metadataKey: "tenant"] = "\(tenant.id)"
        logger[metadataKey: "stream"] = "\(id)"
        let context = CallContext(tenant: tenant, streamID: id, metadata: headers.metadata, logger: logger)
        let maximum = self.shared.configuration.maxCallDuration
        let deadline = arrival + min(headers.timeout ?? maximum, maximum)
        let streaming = headers.method == RequestHeaders.Method.stream
        let headersSent = NIOLockedValueBox(false)
        let service = self.shared.service

        let (work, stop) = await withTaskGroup(of: Leg.self) { group -> (Work, Stop?) in
            group.addTask {
                if streaming {
                    do throws(RouterFailure) {
                        let record = try await service.stream(request, context: context) { event in
                            if headersSent.withLockedValue({ sent in defer { sent = true }; return !sent }) {
                                try await writer.send(.responseHeaders(id, ResponseHeaders()))
                            }
                            let bytes = try writer.encodeMessage(event, stream: id)
                            try await control.window.reserve(bytes.readableBytes - FrameHeader.size)
                            try await writer.write(bytes)
                        }
                        return .work(.streamed(record))
                    } catch {
                        return .work(.failed(error))
                    }
                }
                do throws(RouterFailure) {
                    let (response, record) = try await service.complete(request, context: context)
                    return .work(.completed(response, record))
                } catch {
                    return .work(.failed(error))
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return Task.isCancelled ? .ignored : .stop(.deadline)
            }
            group.addTask {
                guard let status = await control.stop.wait() else { return .ignored }
                return .stop(.stopped(status))
            }
            var work: Work?
            var stop: Stop?
            for await leg in group {
                switch leg {
                case .work(let result):
                    work = result
                    group.cancelAll()
                case .stop(let reason):
                    if work == nil, stop == nil { stop = reason }
                    group.cancelAll()
                case .ignored:
                    break
                }
            }
            // The work leg always returns, cancelled or not.
            return (work ?? .failed(RouterFailure(RouterError(.internal, "internal_error", "the call ended without a result"))), stop)
        }

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
            await self.record(savings, tenant: tenant, status: status, arrival: arrival, recorder: recorder, logger: logger)
        }

        do {
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
                    try await writer.send(.responseHeaders(id, ResponseHeaders()))
                    try await control.window.reserve(bytes.readableBytes - FrameHeader.size)
                    try await writer.write(bytes)
                }
            }
            self.closing(id)
            try await writer.send(.trailers(id, Trailers(status: status, savings: savings)))
        } catch {
            logger.debug("could not send the call's last frames", metadata: ["error": "\(error)"])
        }
        self.shared.metrics.callEnded(status: status, savings: savings, duration: ContinuousClock.now - arrival)
        Self.log(logger, status: status, savings: savings, duration: ContinuousClock.now - arrival)
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
