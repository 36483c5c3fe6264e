internal import FlexCodec
internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore

/// One call on a connection, through either door, from its request to its last frame: what the
/// call's task, the task that runs its work, the connection's handler and the call's deadline timer
/// share.
///
/// The door's handler (on the event loop) owns how the call is written: for the binary protocol
/// its stream's send window and frames, for the HTTP door its response. The call's task reaches it
/// through ``door``. Everything a call needs is here, behind one reference, so that the async
/// functions a waiting call sits in hold small frames (the FlexServer documentation, "Inside the
/// server").
final class ServerCall: Sendable {
    /// The call's number on its connection: the binary protocol's stream id, or the HTTP door's
    /// count of the connection's requests.
    let id: StreamID
    /// What the server's log lines call ``id``: `stream` (binary) or `http_request`.
    let idName: String
    let requestID: String
    let context: CallContext
    let streaming: Bool
    let arrival: ContinuousClock.Instant
    /// When the call must have ended: its own timeout, capped by the server's maximum.
    let deadline: ContinuousClock.Instant
    /// The door the call came in through, on its connection's event loop.
    let door: any CallDoor
    private let state: NIOLockedValueBox<State>

    /// How a call's work ended. Indirect: the call's locked state holds one, and a waiting call
    /// should not carry room for an answer and a savings record.
    indirect enum Work: Sendable {
        case completed(InferenceResponse, SavingsRecord)
        case streamed(SavingsRecord)
        case failed(CallFailure)
    }

    /// What stopped a call before its work ended.
    enum Stop: Sendable {
        case deadline
        /// CANCEL, a second request, the connection closing, the server shutting down.
        case stopped(Status)
    }

    /// Where the call is. Whichever comes first, the work's end or a stop, decides: a stop after the
    /// work ended changes nothing; the work of a stopped call is cancelled, and still ends (with
    /// the savings record of anything billed).
    private enum Progress {
        /// The work runs; the call's task may be waiting for it to end or be stopped.
        case running(waiter: CheckedContinuation<Void, Never>?)
        /// Stopped first: the call's task has been told, and is cancelling the work.
        case stopped(Stop)
        /// The work has ended, after the stop if there was one.
        case ended(Work, Stop?)
    }

    private struct State {
        var progress = Progress.running(waiter: nil)
        /// The request, until the work takes it (``takeRequest()``): the call does not keep its
        /// body (as large as the caller's prompt) for as long as it waits.
        var request: InferenceRequest?

        init(request: InferenceRequest) {
            self.request = request
        }
    }

    /// - Parameters:
    ///   - timeout: The caller's own deadline, from `arrival`; nil for none but the server's maximum.
    init(
        id: StreamID,
        idName: String,
        request: InferenceRequest,
        tenant: Tenant,
        streaming: Bool,
        timeout: Duration?,
        metadata: [String: String],
        door: any CallDoor,
        arrival: ContinuousClock.Instant,
        maxCallDuration: Duration,
        logger: Logger
    ) {
        var logger = logger
        if logger.logLevel <= .debug {
            // Debug lines come from everywhere a call goes (the router, FlexHTTP): the logger carries
            // the call's identity. Above debug only the server's own lines for the call are written,
            // and they add it (``identity``): a logger of its own would cost every call ~0.8 KB for
            // as long as it waits.
            logger[metadataKey: "request_id"] = "\(request.requestID)"
            logger[metadataKey: "tenant"] = "\(tenant.id)"
            logger[metadataKey: idName] = "\(id)"
        }
        self.id = id
        self.idName = idName
        self.requestID = request.requestID
        self.state = NIOLockedValueBox(State(request: request))
        let deadline = arrival + min(timeout ?? maxCallDuration, maxCallDuration)
        self.context = CallContext(
            tenant: tenant,
            metadata: metadata,
            logger: logger,
            arrival: arrival,
            deadline: deadline
        )
        self.streaming = streaming
        self.arrival = arrival
        self.deadline = deadline
        self.door = door
    }

    var logger: Logger { self.context.logger }

    /// The request, handed over to the work that runs it (once).
    @inline(never)
    func takeRequest() -> InferenceRequest {
        self.state.withLockedValue { state in
            defer { state.request = nil }
            assert(state.request != nil, "a call's request was taken twice")
            return state.request ?? InferenceRequest(requestID: self.requestID)
        }
    }

    /// The call's identity, for the lines the server writes about it.
    @inline(never)
    func identity() -> Logger.Metadata {
        ["request_id": "\(self.requestID)", "tenant": "\(self.context.tenant.id)", self.idName: "\(self.id)"]
    }

    // MARK: Transitions

    // The transitions are out of line: inlined, their copies of `Work` (an answer and a savings
    // record) would be laid out in the frames of the async functions that call them.

    /// Stops the call, unless its work has ended already. Any thread.
    @inline(never)
    func stop(_ stop: Stop) {
        let waiter: CheckedContinuation<Void, Never>? = self.state.withLockedValue { state in
            guard case .running(let waiter) = state.progress else { return nil }
            state.progress = .stopped(stop)
            return waiter
        }
        waiter?.resume()
    }

    /// The work's end (its task, once).
    @inline(never)
    func ended(_ work: Work) {
        let waiter: CheckedContinuation<Void, Never>? = self.state.withLockedValue { state in
            switch state.progress {
            case .running(let waiter):
                state.progress = .ended(work, nil)
                return waiter
            case .stopped(let stop):
                state.progress = .ended(work, stop)
                return nil
            case .ended:
                preconditionFailure("a call's work ended twice")
            }
        }
        waiter?.resume()
    }

    /// Waits until the work ends or the call is stopped; true if it was stopped first. Not
    /// cancellable: cancelling the call's task cancels its work, which then ends.
    func waitForEndOrStop() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = self.state.withLockedValue { state in
                guard case .running(nil) = state.progress else { return true }
                state.progress = .running(waiter: continuation)
                return false
            }
            if ready { continuation.resume() }
        }
        return self.state.withLockedValue { state in
            if case .stopped = state.progress { return true }
            return false
        }
    }

    /// Once the work has ended: how, and what stopped the call first, if anything.
    @inline(never)
    func outcome() -> (Work, Stop?) {
        self.state.withLockedValue { state in
            guard case .ended(let work, let stop) = state.progress else {
                preconditionFailure("the call's outcome was read before its work ended")
            }
            return (work, stop)
        }
    }

    /// Whether the call was stopped (its stream's frames are no longer wanted).
    var isStopped: Bool {
        self.state.withLockedValue { state in
            switch state.progress {
            case .running: false
            case .stopped, .ended(_, _?): true
            case .ended(_, nil): false
            }
        }
    }

    // MARK: Frames

    /// Sends one event of a streamed answer (the response HEADERS before the first): at once when the
    /// client's window and the socket allow, else once they do. Throws once the call is stopped or
    /// the connection closed.
    func emit(_ event: StreamEvent) async throws {
        try await self.door.send(event, on: self)
    }
}
