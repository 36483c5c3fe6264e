internal import FlexCodec
internal import FlexRouter
internal import NIOCore

/// What a call's last frames say, once its work has ended: the status, the savings record of
/// anything billed, and a unary call's answer.
///
/// Built and encoded by out-of-line synchronous functions, so that their temporaries stay on the
/// thread's stack rather than in the async frame of ``ServerConnection``'s `finish`, which every
/// call allocates.
struct CallEnding {
    var status = Status.ok
    var savings: SavingsRecord?
    var response: InferenceResponse?

    /// The work's outcome, overridden by what stopped the call first (its deadline, a CANCEL, the
    /// server shutting down): a stopped call sends no answer, but keeps its savings record.
    @inline(never)
    init(_ call: ServerCall) {
        let (work, stop) = call.outcome()
        switch work {
        case .completed(let answer, let record):
            self.response = answer
            self.savings = record
        case .streamed(let record):
            self.savings = record
        case .failed(let failure):
            self.status = failure.error.status
            self.savings = failure.savings
        }
        switch stop {
        case .deadline?:
            self.status = Status(code: .deadlineExceeded, message: "the call's deadline passed", errorCode: "deadline_exceeded")
            self.response = nil
        case .stopped(let reason)?:
            self.status = reason
            self.response = nil
        case nil:
            break
        }
    }

    /// A unary call's response HEADERS and MESSAGE (nothing for a stream or a failure). The MESSAGE
    /// is left out, and returned as `held`, when the client's window cannot take it yet. An answer
    /// larger than the client accepts becomes a `response_too_large` status.
    @inline(never)
    mutating func answerFrames(_ call: ServerCall) throws -> (frames: ByteBuffer, held: ByteBuffer?) {
        guard let response = self.response else {
            return (ByteBuffer(), nil)
        }
        let message: ByteBuffer
        do {
            message = try call.writer.encodeMessage(response, stream: call.id)
        } catch {
            self.status = Status(code: .resourceExhausted, message: "the answer is larger than the client accepts: \(error.message)",
                                 errorCode: "response_too_large")
            return (ByteBuffer(), nil)
        }
        var frames = try call.writer.encode(.responseHeaders(call.id, ResponseHeaders()))
        guard try call.window.tryReserve(message.readableBytes - FrameHeader.size) else {
            return (frames, message)
        }
        frames.writeImmutableBuffer(message)
        return (frames, nil)
    }

    /// Appends the TRAILERS frame: the status and the savings record.
    @inline(never)
    func appendTrailers(to frames: inout ByteBuffer, _ call: ServerCall) throws {
        var trailers = try call.writer.encode(.trailers(call.id, Trailers(status: self.status, savings: self.savings)))
        frames.writeBuffer(&trailers)
    }
}
