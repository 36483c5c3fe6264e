import FlexCodec
import NIOConcurrencyHelpers
import NIOCore

/// One call from its start to its outcome, across the connections it may be retried on: what it
/// sends, what has arrived for the caller, and the caller's waiting continuation.
///
/// `@unchecked Sendable`: callers create it on their own task and then only touch it through
/// `loop.execute`; every mutable property is read and written on `loop` alone (checked with
/// `assertInEventLoop` in debug builds). ``end`` is the exception, and it has its own lock.
final class ClientCall: @unchecked Sendable {
    enum Inbound {
        case response(InferenceResponse)
        case event(StreamEvent)
    }

    typealias UnaryResult = Result<(InferenceResponse, SavingsRecord?), FlexClientError>
    typealias StreamResult = Result<StreamEvent?, FlexClientError>

    /// What the caller may read from any thread once it arrived: the server's HEADERS and TRAILERS.
    struct End: Sendable {
        var headers: ResponseHeaders?
        var trailers: Trailers?
    }

    let id: CallID
    let kind: CallKind
    let loop: any EventLoop
    /// The protobuf encoding of the `InferenceRequest`, made by the caller's task.
    let request: ByteBuffer
    let apiKey: Secret
    let metadata: [String: String]
    let deadline: ContinuousClock.Instant?
    let end = NIOLockedValueBox(End())

    // MARK: Loop-confined state

    /// Times HEADERS were sent for this call (1 + transparent retries).
    private(set) var attempts = 0
    /// Times the call moved to another connection before it was sent.
    var reroutes = 0
    /// When the client started it (the pool fails a call only after every address was tried since).
    var startedAt = NIODeadline.uptimeNanoseconds(0)
    /// Whether the call waits in the client's queue (``ConnectionManager``) for a free stream.
    var queuedInPool = false
    /// The address whose server refused the call unprocessed or sent GOAWAY before it: the call is
    /// sent again elsewhere when another address can take it.
    var avoid: Backend?
    /// The connection the call is queued or open on.
    private(set) var connection: ConnectionHandler?
    private(set) var stream: StreamID?
    /// Whether any frame of an answer arrived (a call that got one is never retried).
    private(set) var receivedAnything = false
    /// The call's deadline, armed in the client's deadline service.
    var deadlineTimer: DeadlineSignal?

    private var buffered = CircularBuffer<(Inbound, wireLength: Int)>()
    private var outcome: Result<Trailers, FlexClientError>?
    private var unaryWaiter: CheckedContinuation<UnaryResult, Never>?
    private var streamWaiter: CheckedContinuation<StreamResult, Never>?

    init(
        id: CallID,
        kind: CallKind,
        loop: any EventLoop,
        request: ByteBuffer,
        apiKey: Secret,
        metadata: [String: String],
        deadline: ContinuousClock.Instant?
    ) {
        self.id = id
        self.kind = kind
        self.loop = loop
        self.request = request
        self.apiKey = apiKey
        self.metadata = metadata
        self.deadline = deadline
    }

    var isFinished: Bool {
        self.loop.assertInEventLoop()
        return self.outcome != nil
    }

    // MARK: Connection side

    /// The call was handed to `connection` (queued or about to open).
    func assigned(to connection: ConnectionHandler) {
        self.loop.assertInEventLoop()
        self.connection = connection
        self.stream = nil
    }

    /// The call's HEADERS and request were written on `stream`.
    func opened(stream: StreamID) {
        self.loop.assertInEventLoop()
        self.attempts += 1
        self.stream = stream
    }

    /// The connection gave the call back (to retry or reroute it).
    func detached() {
        self.loop.assertInEventLoop()
        self.connection = nil
        self.stream = nil
    }

    func receivedHeaders(_ headers: ResponseHeaders) {
        self.loop.assertInEventLoop()
        self.receivedAnything = true
        self.end.withLockedValue { $0.headers = headers }
    }

    func received(_ inbound: Inbound, wireLength: Int) {
        self.loop.assertInEventLoop()
        self.receivedAnything = true
        guard self.outcome == nil else { return }
        if let waiter = self.streamWaiter, case .event(let event) = inbound {
            // The caller is waiting: hand it over without buffering; the bytes are consumed now.
            self.streamWaiter = nil
            self.returnCredit(wireLength)
            waiter.resume(returning: .success(event))
            return
        }
        self.buffered.append((inbound, wireLength))
    }

    /// The server's TRAILERS ended the call.
    func finished(_ trailers: Trailers) {
        self.loop.assertInEventLoop()
        guard self.outcome == nil else { return }
        self.end.withLockedValue { $0.trailers = trailers }
        if trailers.status.code == .ok {
            self.settle(.success(trailers))
        } else {
            // Messages that arrived before a failure are still delivered, then the error.
            self.settle(.failure(.server(trailers)))
        }
    }

    /// The call failed here (deadline, cancellation, connection, protocol).
    func failed(_ error: FlexClientError, discardBuffered: Bool) {
        self.loop.assertInEventLoop()
        guard self.outcome == nil else { return }
        if discardBuffered { self.buffered.removeAll() }
        self.settle(.failure(error))
    }

    private func settle(_ outcome: Result<Trailers, FlexClientError>) {
        self.outcome = outcome
        self.deadlineTimer?.signal()
        self.deadlineTimer = nil
        self.connection = nil
        if let waiter = self.unaryWaiter {
            self.unaryWaiter = nil
            waiter.resume(returning: self.unaryResult(outcome))
        }
        if let waiter = self.streamWaiter, self.buffered.isEmpty {
            self.streamWaiter = nil
            waiter.resume(returning: outcome.map { _ in nil })
        }
    }

    // MARK: Caller side

    /// A unary caller waits for the outcome.
    func waitForResponse(_ continuation: CheckedContinuation<UnaryResult, Never>) {
        self.loop.assertInEventLoop()
        precondition(self.kind == .unary && self.unaryWaiter == nil)
        if let outcome = self.outcome {
            continuation.resume(returning: self.unaryResult(outcome))
        } else {
            self.unaryWaiter = continuation
        }
    }

    /// A streaming caller asks for the next event: one that is buffered, the end, or a wait.
    func next(_ continuation: CheckedContinuation<StreamResult, Never>) {
        self.loop.assertInEventLoop()
        precondition(self.kind == .streaming)
        if self.streamWaiter != nil {
            // AsyncIteratorProtocol forbids concurrent next() calls on one iterator; keep the first.
            continuation.resume(
                returning: .failure(.local(.internal, "concurrent_next", "next() called concurrently on one stream"))
            )
            return
        }
        if let (inbound, wireLength) = self.buffered.popFirst() {
            self.returnCredit(wireLength)
            guard case .event(let event) = inbound else { preconditionFailure("a streaming call buffers events") }
            continuation.resume(returning: .success(event))
        } else if let outcome = self.outcome {
            continuation.resume(returning: outcome.map { _ in nil })
        } else {
            self.streamWaiter = continuation
        }
    }

    private func returnCredit(_ wireLength: Int) {
        if let connection = self.connection, let stream = self.stream {
            connection.consumed(stream, wireLength: wireLength)
        }
    }

    private func unaryResult(_ outcome: Result<Trailers, FlexClientError>) -> UnaryResult {
        switch outcome {
        case .failure(let error):
            return .failure(error)
        case .success(let trailers):
            guard case .response(let response) = self.buffered.first?.0 else {
                // The state machine fails an OK unary call without a response; be safe anyway.
                return .failure(
                    .streamViolation(FlexClientError.LocalReason.protocolError, "the call ended OK without a response")
                )
            }
            return .success((response, trailers.savings))
        }
    }
}
