internal import FlexCodec

/// What a call's last frames say, once its work has ended: the status, the savings record of
/// anything billed, and a unary call's answer.
///
/// Built by an out-of-line synchronous function, so that its temporaries stay on the thread's stack
/// rather than in the async frame of the call's task, which every call allocates.
struct CallEnding: Sendable {
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
            self.status = failure.status
            self.savings = failure.savings
        }
        switch stop {
        case .deadline?:
            self.status = WireErrors.deadlinePassed
            self.response = nil
        case .stopped(let reason)?:
            self.status = reason
            self.response = nil
        case nil:
            break
        }
    }
}
