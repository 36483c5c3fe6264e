internal import NIOCore

/// The life of one transfer, as seen by both of its sides: the curl side (whichever thread drives
/// libcurl: the curl thread, or the starting caller when it found libcurl free; it adds the easy
/// handle, receives the head and the body, and learns how the transfer ended) and the consumer (the
/// task awaiting the head, then iterating the body, and possibly cancelling).
///
/// A pure value: every event returns an action for the caller (``Transfer``) to run outside the
/// lock, so the machine is tested without I/O. It is generic over the two waiter types
/// (continuations in production, plain values in tests).
///
/// ```
/// initialized ─start─▶ queued ─curlWillAdd─▶ connecting ─connectionReady─▶ awaitingHead
///                                                 │                              │
///                                                 └─────────headReceived─────────┴─▶ streaming
/// streaming: chunks buffered; paused at the high watermark, resumed at the low one
/// streaming ─consumer reads the end or the error─▶ finished
/// any state ─cancel─▶ failed(cancelled) or finished (when a waiter took the error)
/// before streaming ─transferCompleted─▶ finished (the head waiter gets the error)
/// failed(error) ─next consumer call─▶ finished
/// ```
///
/// Who may call what:
/// - curl side: ``curlWillAdd()``, ``connectionReady()``, ``headReceived(_:)``, ``bodyReceived(_:)``,
///   ``curlResumed()``, ``transferCompleted(_:)``;
/// - consumer: ``start(headWaiter:)``, ``nextChunk()``, ``waitForChunk(_:)``, ``cancel()``.
struct TransferStateMachine<HeadWaiter, BodyWaiter> {
    /// How much body the consumer may leave unread before the transfer pauses.
    struct Watermarks: Hashable {
        /// Pause the transfer when this many bytes are buffered.
        var high: Int
        /// Resume it once the consumer has brought the buffer down to this many bytes.
        var low: Int
    }

    enum Upstream {
        /// The easy handle is still in the multi handle (possibly paused).
        case open
        /// libcurl finished the transfer: successfully, or with this error.
        case completed(Result<Void, HTTPClientError>)
    }

    struct Streaming {
        var buffer = CircularBuffer<ByteBuffer>(initialCapacity: 4)
        var bufferedBytes = 0
        var waiter: BodyWaiter?
        /// The write callback returned `CURL_WRITEFUNC_PAUSE`; libcurl holds the chunk it offered.
        var isPaused = false
        /// A resume command is on its way to the curl thread.
        var resumeRequested = false
        var upstream = Upstream.open
    }

    enum State {
        case initialized
        /// Handed to the curl thread, not yet in the multi handle.
        case queued(HeadWaiter)
        /// In the multi handle: waiting for a pool slot, resolving, connecting, TLS.
        case connecting(HeadWaiter)
        /// The connection is ready: sending the request, awaiting the response head.
        case awaitingHead(HeadWaiter)
        /// The head has been delivered; the body flows.
        case streaming(Streaming)
        /// Over for libcurl's side (its callbacks abort), but the consumer has not been told yet: its
        /// next call gets this error.
        case failed(HTTPClientError)
        /// Terminal: the consumer has seen the end or an error.
        case finished
        /// Placeholder while a case's payload is mutated, so that its buffer is not copied on write.
        case modifying
    }

    private(set) var state = State.initialized
    let watermarks: Watermarks

    init(watermarks: Watermarks) {
        self.watermarks = watermarks
    }

    // MARK: Consumer: start

    enum StartAction {
        /// Hand the transfer to the curl thread.
        case enqueue
        /// Cancelled before it started: fail the waiter right away.
        case failHead(HeadWaiter, HTTPClientError)
    }

    mutating func start(headWaiter: HeadWaiter) -> StartAction {
        switch self.state {
        case .initialized:
            self.state = .queued(headWaiter)
            return .enqueue
        case .failed(let error):
            self.state = .finished
            return .failHead(headWaiter, error)
        case .queued, .connecting, .awaitingHead, .streaming, .finished, .modifying:
            Self.unreachable("start(headWaiter:) in state \(self.state)")
            return .failHead(headWaiter, HTTPClientError(code: .internalError, message: "transfer started twice"))
        }
    }

    // MARK: Curl thread: head

    /// The curl thread is about to add the easy handle; `false` means it was cancelled meanwhile and
    /// must not be added.
    mutating func curlWillAdd() -> Bool {
        switch self.state {
        case .queued(let waiter):
            self.state = .connecting(waiter)
            return true
        case .failed, .finished:
            return false
        case .initialized, .connecting, .awaitingHead, .streaming, .modifying:
            Self.unreachable("curlWillAdd() in state \(self.state)")
            return false
        }
    }

    enum CallbackAction: Equatable {
        case proceed
        /// Make libcurl abort the transfer (the consumer is gone).
        case abort
    }

    /// The connection is established (libcurl's pre-request callback). libcurl may call it again when
    /// it retries a request on a fresh connection.
    mutating func connectionReady() -> CallbackAction {
        switch self.state {
        case .connecting(let waiter), .awaitingHead(let waiter):
            self.state = .awaitingHead(waiter)
            return .proceed
        case .failed, .finished:
            return .abort
        case .initialized, .queued, .streaming, .modifying:
            Self.unreachable("connectionReady() in state \(self.state)")
            return .abort
        }
    }

    enum HeadAction {
        case succeedHead(HeadWaiter, HTTPResponseHead)
        case abort
    }

    mutating func headReceived(_ head: HTTPResponseHead) -> HeadAction {
        switch self.state {
        case .connecting(let waiter), .awaitingHead(let waiter):
            self.state = .streaming(Streaming())
            return .succeedHead(waiter, head)
        case .failed, .finished:
            return .abort
        case .initialized, .queued, .streaming, .modifying:
            Self.unreachable("headReceived(_:) in state \(self.state)")
            return .abort
        }
    }

    // MARK: Curl thread: body

    enum BodyAction {
        /// The chunk is buffered.
        case accept
        /// The chunk goes straight to the waiting consumer.
        case deliver(BodyWaiter, ByteBuffer)
        /// The buffer is full: return `CURL_WRITEFUNC_PAUSE` (libcurl keeps the chunk and offers it
        /// again after `curl_easy_pause(CURLPAUSE_CONT)`).
        case pause
        case abort
    }

    mutating func bodyReceived(_ chunk: ByteBuffer) -> BodyAction {
        switch self.state {
        case .streaming(var streaming):
            if streaming.isPaused {
                // libcurl keeps what arrives while paused rather than delivering it; stay paused.
                return .pause
            }
            if let waiter = streaming.waiter {
                // A waiter only waits on an empty buffer.
                self.state = .modifying
                streaming.waiter = nil
                self.state = .streaming(streaming)
                return .deliver(waiter, chunk)
            }
            self.state = .modifying
            defer { self.state = .streaming(streaming) }
            if streaming.bufferedBytes >= self.watermarks.high {
                streaming.isPaused = true
                return .pause
            }
            streaming.buffer.append(chunk)
            streaming.bufferedBytes += chunk.readableBytes
            return .accept
        case .failed, .finished:
            return .abort
        case .initialized, .queued, .connecting, .awaitingHead, .modifying:
            Self.unreachable("bodyReceived(_:) in state \(self.state)")
            return .abort
        }
    }

    /// The curl side's cheap path for body bytes: while the consumer is not waiting and a chunk is
    /// queued, bytes that arrive go at the end of that chunk instead of into a buffer of their own
    /// (a burst of small HTTP chunks, one per provider event, becomes one buffer). False when they
    /// cannot (nothing queued, a waiter, paused, at the high watermark, not streaming):
    /// ``bodyReceived(_:)`` then takes them.
    mutating func appendToQueuedChunk(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard case .streaming(var streaming) = self.state, !streaming.isPaused, streaming.waiter == nil,
            !streaming.buffer.isEmpty, streaming.bufferedBytes < self.watermarks.high
        else {
            return false
        }
        self.state = .modifying
        // Only the queue holds the chunk: appending to it copies nothing but the new bytes.
        var last = streaming.buffer.removeLast()
        last.writeBytes(bytes)
        streaming.buffer.append(last)
        streaming.bufferedBytes += bytes.count
        self.state = .streaming(streaming)
        return true
    }

    /// The curl thread picked up a resume command. Returns whether it must call
    /// `curl_easy_pause(CURLPAUSE_CONT)`.
    mutating func curlResumed() -> Bool {
        switch self.state {
        case .streaming(var streaming):
            guard streaming.isPaused else {
                return false
            }
            self.state = .modifying
            streaming.isPaused = false
            streaming.resumeRequested = false
            self.state = .streaming(streaming)
            return true
        case .failed, .finished:
            return false
        case .initialized, .queued, .connecting, .awaitingHead, .modifying:
            Self.unreachable("curlResumed() in state \(self.state)")
            return false
        }
    }

    // MARK: Curl thread: completion

    enum CompletionAction {
        case none
        case failHead(HeadWaiter, HTTPClientError)
        case finishBody(BodyWaiter, Result<ByteBuffer?, HTTPClientError>)
    }

    /// libcurl finished the transfer, a FlexHTTP deadline fired, or the client shut down. The curl
    /// thread removes the easy handle (if it was added) after this.
    mutating func transferCompleted(_ result: Result<Void, HTTPClientError>) -> CompletionAction {
        switch self.state {
        case .queued(let waiter), .connecting(let waiter), .awaitingHead(let waiter):
            self.state = .finished
            switch result {
            case .success:
                return .failHead(
                    waiter,
                    HTTPClientError(code: .protocolError, message: "the transfer ended without a response head")
                )
            case .failure(let error):
                return .failHead(waiter, error)
            }
        case .streaming(var streaming):
            if let waiter = streaming.waiter {
                self.state = .finished
                return .finishBody(waiter, result.map { nil })
            }
            self.state = .modifying
            streaming.upstream = .completed(result)
            self.state = .streaming(streaming)
            return .none
        case .failed, .finished:
            return .none
        case .initialized, .modifying:
            Self.unreachable("transferCompleted(_:) in state \(self.state)")
            return .none
        }
    }

    // MARK: Consumer: body

    enum NextAction {
        /// A chunk was buffered; `requestResume` says whether to send the curl thread a resume command.
        case chunk(ByteBuffer, requestResume: Bool)
        /// The body is over: `nil` for a clean end, or the transfer's error.
        case end(Result<ByteBuffer?, HTTPClientError>)
        /// Nothing buffered yet: wait with ``waitForChunk(_:)``.
        case wait
    }

    /// The consumer's fast path: take a buffered chunk or the end without suspending.
    mutating func nextChunk() -> NextAction {
        switch self.state {
        case .streaming(var streaming):
            if streaming.waiter != nil {
                return .end(.failure(.concurrentIteration))
            }
            if streaming.buffer.isEmpty {
                guard case .completed(let result) = streaming.upstream else {
                    return .wait
                }
                self.state = .finished
                return .end(result.map { nil })
            }
            self.state = .modifying
            let chunk = streaming.buffer.removeFirst()
            streaming.bufferedBytes -= chunk.readableBytes
            let resume = self.shouldRequestResume(&streaming)
            self.state = .streaming(streaming)
            return .chunk(chunk, requestResume: resume)
        case .failed(let error):
            self.state = .finished
            return .end(.failure(error))
        case .finished:
            return .end(.success(nil))
        case .initialized, .queued, .connecting, .awaitingHead, .modifying:
            Self.unreachable("nextChunk() in state \(self.state)")
            return .end(.failure(.concurrentIteration))
        }
    }

    enum WaitAction {
        /// The waiter is stored; the curl thread will resume it.
        case suspended
        /// Something arrived meanwhile: resume the waiter now.
        case resume(BodyWaiter, Result<ByteBuffer?, HTTPClientError>, requestResume: Bool)
    }

    /// The consumer's slow path, after ``nextChunk()`` returned ``NextAction/wait``.
    mutating func waitForChunk(_ waiter: BodyWaiter) -> WaitAction {
        switch self.state {
        case .streaming(var streaming):
            if streaming.waiter != nil {
                return .resume(waiter, .failure(.concurrentIteration), requestResume: false)
            }
            if case .completed(let result) = streaming.upstream, streaming.buffer.isEmpty {
                self.state = .finished
                return .resume(waiter, result.map { nil }, requestResume: false)
            }
            self.state = .modifying
            defer { self.state = .streaming(streaming) }
            if !streaming.buffer.isEmpty {
                let chunk = streaming.buffer.removeFirst()
                streaming.bufferedBytes -= chunk.readableBytes
                let resume = self.shouldRequestResume(&streaming)
                return .resume(waiter, .success(chunk), requestResume: resume)
            }
            streaming.waiter = waiter
            return .suspended
        case .failed(let error):
            self.state = .finished
            return .resume(waiter, .failure(error), requestResume: false)
        case .finished:
            return .resume(waiter, .success(nil), requestResume: false)
        case .initialized, .queued, .connecting, .awaitingHead, .modifying:
            Self.unreachable("waitForChunk(_:) in state \(self.state)")
            return .resume(waiter, .failure(.concurrentIteration), requestResume: false)
        }
    }

    private func shouldRequestResume(_ streaming: inout Streaming) -> Bool {
        guard streaming.isPaused, !streaming.resumeRequested, streaming.bufferedBytes <= self.watermarks.low else {
            return false
        }
        streaming.resumeRequested = true
        return true
    }

    // MARK: Consumer: cancel

    struct CancelAction {
        var failHead: HeadWaiter?
        var failBody: BodyWaiter?
        /// Send the curl thread an abort command: the easy handle is in the multi handle.
        var abortTransfer: Bool

        static var none: Self { Self(failHead: nil, failBody: nil, abortTransfer: false) }
    }

    /// The consumer's task was cancelled, or the body was dropped unread. Waiters get
    /// ``HTTPClientError/Code/cancelled``; with no waiter, the consumer's next call does.
    mutating func cancel() -> CancelAction {
        switch self.state {
        case .initialized:
            self.state = .failed(.cancelled)
            return .none
        case .queued(let waiter):
            // Still in the command queue: the curl thread will see `finished` and not add it.
            self.state = .finished
            return CancelAction(failHead: waiter, failBody: nil, abortTransfer: false)
        case .connecting(let waiter), .awaitingHead(let waiter):
            self.state = .finished
            return CancelAction(failHead: waiter, failBody: nil, abortTransfer: true)
        case .streaming(let streaming):
            let isOpen: Bool
            if case .open = streaming.upstream {
                isOpen = true
            } else {
                isOpen = false
            }
            if let waiter = streaming.waiter {
                self.state = .finished
                return CancelAction(failHead: nil, failBody: waiter, abortTransfer: isOpen)
            }
            self.state = .failed(.cancelled)
            return CancelAction(failHead: nil, failBody: nil, abortTransfer: isOpen)
        case .failed, .finished:
            return .none
        case .modifying:
            Self.unreachable("cancel() in state modifying")
            return .none
        }
    }

    /// A transition that the callers' protocol rules out. Asserts in debug builds; release builds take
    /// the safe fallback the caller returns (abort, fail, ignore) rather than crash the process.
    private static func unreachable(_ message: @autoclosure () -> String) {
        assertionFailure("TransferStateMachine: \(message())")
    }
}

extension TransferStateMachine.State: CustomStringConvertible {
    var description: String {
        switch self {
        case .initialized: return "initialized"
        case .queued: return "queued"
        case .connecting: return "connecting"
        case .awaitingHead: return "awaitingHead"
        case .streaming(let streaming):
            return "streaming(buffered: \(streaming.bufferedBytes), paused: \(streaming.isPaused))"
        case .failed(let error): return "failed(\(error.code))"
        case .finished: return "finished"
        case .modifying: return "modifying"
        }
    }
}
