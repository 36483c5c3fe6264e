internal import FlexCodec
internal import Logging
internal import NIOCore

/// One client connection, on its event loop: decodes frames, feeds them to the
/// ``ServerConnectionStateMachine`` and carries out its actions; owns every stream's send window and
/// writes every frame; arms the connection's handshake and idle timers; and hands each call that is
/// ready to run to the connection's task (``ServerConnection``), which runs it in a child task.
///
/// Everything here runs on the channel's event loop: no lock. A call's task reaches the handler
/// through its ``ConnectionHandle``, which runs on the loop at once when the task is already there
/// (a connection's tasks prefer its event loop) and hops to it otherwise. There is one way to
/// close the connection (``close(_:)``), and one place it ends (``channelInactive(context:)``).
final class ServerConnectionHandler: ChannelInboundHandler, DrainingWriter, CoalescedFlushing {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: ServerShared
    private let timers: DeadlineTimers
    private let callStarts: AsyncStream<ServerCall>.Continuation
    private var logger: Logger

    private var machine: ServerConnectionStateMachine
    private var decoder: FrameDecoder
    private var encoder = FrameEncoder()
    private let coder = MessageCoder()
    /// Streamed events and control frames are encoded here, one after another.
    private var scratch = ReusableBuffer()
    /// Bytes received and not yet decoded: at most one frame (the decoder rejects a length over the
    /// limit from its header) plus one read.
    private var inbound = ByteBuffer()
    private var streams: [StreamID: Stream] = [:]
    /// Streams with a frame waiting for their window or the socket, in the order they parked.
    private var parked: [StreamID] = []
    /// Streams opened by HEADERS whose request MESSAGE has not arrived: when each opened (its call's
    /// deadline counts from there) and the timer that ends the wait.
    private var awaiting: [StreamID: AwaitedRequest] = [:]
    /// Some stream in ``awaiting`` has no timer yet: it gets one when the read that brought its
    /// HEADERS is done without its MESSAGE (a client sends both together, so most never need one).
    private var awaitingUnarmed = false

    private var context: ChannelHandlerContext?
    private var handle: ConnectionHandle?
    private var startedUp = false
    private var closing = false
    private var ended = false
    /// A flush is queued on the event loop (``CoalescedFlushing``).
    var flushScheduled = false
    var flushContext: ChannelHandlerContext? { self.context }
    private var lastActivity = ContinuousClock.now
    private var handshakeTimer: DeadlineSignal?
    private var idleTimer: DeadlineSignal?

    /// A running call's stream, as this side sends it.
    private struct Stream {
        let call: ServerCall
        var window: SendWindow
        var headersSent = false
        /// A MESSAGE waiting for the window to be positive and the socket writable.
        var parked: ParkedFrame?
        /// The call's task stopped waiting (cancelled): what it sends from now on is refused.
        var abandoned = false
    }

    private struct AwaitedRequest {
        let opened: ContinuousClock.Instant
        /// The call's own timeout, from its HEADERS.
        let timeout: Duration?
        var timer: DeadlineSignal?
    }

    private struct ParkedFrame {
        var bytes: ByteBuffer
        /// What the frame takes from the window.
        var size: Int
        var then: AfterWrite
    }

    private enum AfterWrite {
        /// A streamed event: its sender waits for it to be written.
        case resume(CheckedContinuation<Void, any Error>)
        /// A unary answer: its TRAILERS follow, and the call is over.
        case trailers(ByteBuffer)
    }

    /// Refused when the connection or the stream has gone: the call has been stopped.
    struct StreamClosed: Error {}

    init(shared: ServerShared, timers: DeadlineTimers, callStarts: AsyncStream<ServerCall>.Continuation, logger: Logger)
    {
        self.shared = shared
        self.timers = timers
        self.callStarts = callStarts
        self.logger = logger
        self.machine = ServerConnectionStateMachine(configuration: shared.configuration.connection)
        self.decoder = FrameDecoder(
            role: .server,
            maxMessageSize: shared.configuration.connection.limits.maxMessageSize
        )
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.handle = ConnectionHandle(self, on: context.eventLoop)
        if context.channel.isActive { self.started(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.started(context)
        context.fireChannelActive()
    }

    /// The connection is up: it counts against the server's limit, and has its handshake's time.
    private func started(_ context: ChannelHandlerContext) {
        guard let handle = self.handle, !self.startedUp else { return }
        self.startedUp = true
        self.logger[metadataKey: "peer"] = "\(context.remoteAddress?.description ?? "?")"
        let (count, draining) = self.shared.register(handle)
        let limit = self.shared.configuration.maxConnections
        if count > limit {
            self.logger.debug("connection refused: too many connections")
            self.close(WireErrors.tooManyConnections(limit: limit))
            return
        }
        let timeout = self.shared.configuration.handshakeTimeout
        self.handshakeTimer = self.arm(at: .now + timeout) { $0.handshakeTimedOut() }
        if draining { self.beginDrain() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        guard !self.closing else { return }
        self.shared.metrics.bytesReceived(bytes.readableBytes)
        self.lastActivity = .now
        if self.inbound.readableBytes == 0 {
            self.inbound = bytes
        } else {
            self.inbound.writeBuffer(&bytes)
        }
        do {
            while !self.closing, let frame = try self.decoder.decode(buffer: &self.inbound) {
                self.perform(self.machine.receive(frame))
            }
        } catch {
            self.shared.metrics.protocolError(error.errorCode.name)
            self.logger.debug("protocol error", metadata: ["error": "\(error)"])
            self.perform(self.machine.fail(WireErrors.undecodable(error)))
        }
        if self.inbound.readerIndex > 65_536 { self.inbound.discardReadBytes() }
        if self.awaitingUnarmed { self.armRequestTimers() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.writeParked() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            self.inputClosed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("connection failed", metadata: ["error": "\(error)"])
        self.close(nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionEnded()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connectionEnded()
        self.context = nil
        self.handle = nil
    }

    // MARK: - The state machine's actions

    private func perform(_ action: ServerConnectionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .sendHello(let hello, let negotiated):
            self.decoder.compression = negotiated.compression
            self.encoder.compression = negotiated.compression
            self.encoder.maxMessageSize = negotiated.peerLimits.maxMessageSize
            self.write(.hello(hello), flush: false)
            self.handshakeTimer?.signal()
            self.handshakeTimer = nil
            self.armIdleTimer()
        case .awaitRequest(let id, let headers):
            self.awaitRequest(id, headers: headers)
        case .startCall(let id, let headers, let payload):
            let opened = self.awaiting.removeValue(forKey: id)
            opened?.timer?.signal()
            self.startCall(id, headers: headers, payload: payload, arrival: opened?.opened ?? .now)
        case .cancelCall(let id, let status):
            self.streams[id]?.call.stop(.stopped(status))
        case .refuse(let id, let status):
            self.awaiting.removeValue(forKey: id)?.timer?.signal()
            self.write(.trailers(id, Trailers(status: status)), flush: false)
            self.shared.metrics.refused(status.errorCode)
            self.perform(self.machine.closeIfDrained())
        case .pong(let data):
            self.write(.ping(data, ack: true), flush: false)
        case .credit(let id, let increment):
            self.credit(id, increment)
        case .sendGoAway(let goAway):
            self.write(.goAway(goAway), flush: true)
        case .close(let goAway):
            self.close(goAway)
        }
    }

    // MARK: - Calls

    /// A stream is open: its call's deadline counts from now (PROTOCOL.md 5.5), and its request
    /// MESSAGE must come before that deadline and within the handshake timeout, or the stream ends
    /// and frees its slot.
    private func awaitRequest(_ id: StreamID, headers: RequestHeaders) {
        self.awaiting[id] = AwaitedRequest(opened: .now, timeout: headers.timeout)
        self.awaitingUnarmed = true
    }

    /// After a read: a timer for each stream whose HEADERS came without their MESSAGE.
    private func armRequestTimers() {
        self.awaitingUnarmed = false
        let configuration = self.shared.configuration
        for (id, request) in self.awaiting where request.timer == nil {
            let limit = min(request.timeout ?? configuration.maxCallDuration, configuration.maxCallDuration)
            let deadline = request.opened + limit
            let patience = request.opened + configuration.handshakeTimeout
            let status =
                deadline <= patience
                ? WireErrors.deadlineBeforeRequest
                : WireErrors.requestNotSent(within: configuration.handshakeTimeout)
            self.awaiting[id]?.timer = self.arm(at: min(deadline, patience)) { $0.requestNotReceived(id, status) }
        }
    }

    /// A stream's wait for its request ran out (from its timer, outside any read: so it flushes).
    private func requestNotReceived(_ id: StreamID, _ status: Status) {
        guard !self.closing else { return }
        self.perform(self.machine.requestNotReceived(id, status))
        self.context?.flush()
    }

    private func startCall(
        _ id: StreamID,
        headers: RequestHeaders,
        payload: ByteBuffer,
        arrival: ContinuousClock.Instant
    ) {
        guard let tenant = self.shared.tenants.authenticate(headers.apiKey) else {
            self.refuseStarted(id, WireErrors.unauthenticated(presented: headers.apiKey))
            return
        }
        var request: InferenceRequest
        do {
            request = try self.coder.decode(InferenceRequest.self, from: payload)
        } catch {
            self.refuseStarted(id, WireErrors.invalidRequest(error))
            return
        }
        guard self.shared.admitCall() else {
            self.refuseStarted(id, WireErrors.serverBusy)
            return
        }
        guard let handle = self.handle else { return }
        if request.requestID.isEmpty { request.requestID = self.shared.newRequestID() }
        let call = ServerCall(
            id: id,
            idName: "stream",
            request: request,
            tenant: tenant,
            streaming: headers.method == RequestHeaders.Method.stream,
            timeout: headers.timeout,
            metadata: headers.metadata,
            door: handle,
            arrival: arrival,
            maxCallDuration: self.shared.configuration.maxCallDuration,
            logger: self.logger
        )
        let window = self.machine.negotiated?.peerLimits.initialWindowSize ?? ProtocolDefaults.initialWindowSize
        self.streams[id] = Stream(call: call, window: SendWindow(initial: window))
        if case .terminated = self.callStarts.yield(call) {
            // The connection's task has stopped taking calls: the connection is going.
            self.streams[id] = nil
            self.shared.callEnded()
        }
    }

    /// Ends a stream whose request arrived but cannot run (not authenticated, undecodable, the
    /// server at its limit) with TRAILERS.
    private func refuseStarted(_ id: StreamID, _ status: Status) {
        self.machine.callClosing(id)
        self.write(.trailers(id, Trailers(status: status)), flush: false)
        self.shared.metrics.refused(status.errorCode)
        self.perform(self.machine.callFinished(id))
    }

    /// Sends a streamed event if the window and the socket allow: nil when sent, else the frame to
    /// park. Throws ``StreamClosed`` once the stream has gone or its call was stopped.
    func trySend(_ event: StreamEvent, of call: ServerCall) throws -> ParkedBytes? {
        let id = call.id
        guard !self.closing, var stream = self.streams[id], !stream.abandoned, !stream.call.isStopped else {
            throw StreamClosed()
        }
        var bytes = self.scratch.take(self.context?.channel.allocator)
        defer { self.scratch.put(bytes) }
        try self.encoder.encodeMessage(event, streamID: id, into: &bytes)
        let size = bytes.readableBytes - FrameHeader.size
        if !stream.headersSent {
            stream.headersSent = true
            self.write(.responseHeaders(id, ResponseHeaders()), flush: false)
        }
        guard stream.window.isOpen, self.isWritable else {
            self.streams[id] = stream
            self.context?.flush()
            return ParkedBytes(bytes: bytes, size: size)
        }
        stream.window.take(size)
        self.streams[id] = stream
        self.writeBytes(bytes, flush: false)
        self.flushSoon()
        return nil
    }

    /// Parks `frame` until the window and the socket allow it; `continuation` is resumed once it is
    /// written, or with ``StreamClosed`` when the stream goes first.
    func park(_ frame: ParkedBytes, of call: ServerCall, _ continuation: CheckedContinuation<Void, any Error>) {
        let id = call.id
        guard !self.closing, self.streams[id] != nil, self.streams[id]?.abandoned == false else {
            continuation.resume(throwing: StreamClosed())
            return
        }
        self.streams[id]?.parked = ParkedFrame(bytes: frame.bytes, size: frame.size, then: .resume(continuation))
        self.parked.append(id)
        self.writeParked()
    }

    /// The sender stopped waiting (its task was cancelled): its parked frame is dropped, and what it
    /// sends from now on is refused.
    func abandon(_ call: ServerCall) {
        let id = call.id
        guard var stream = self.streams[id] else { return }
        stream.abandoned = true
        let parked = stream.parked
        stream.parked = nil
        self.streams[id] = stream
        if case .resume(let continuation)? = parked?.then {
            self.parked.removeAll { $0 == id }
            continuation.resume(throwing: StreamClosed())
        }
    }

    /// A call's last frames: a unary call's answer (HEADERS and MESSAGE), then the TRAILERS with its
    /// status and savings record. Returns the status sent (an answer too large for the client turns
    /// into `response_too_large`).
    func finish(_ call: ServerCall, _ ending: CallEnding) -> Status {
        let id = call.id
        guard !self.closing, var stream = self.streams[id] else { return ending.status }
        var status = ending.status
        var message: ByteBuffer?
        if let response = ending.response {
            var bytes = self.buffer(capacity: 256)
            do {
                try self.encoder.encodeMessage(response, streamID: id, into: &bytes)
                message = bytes
            } catch {
                status = WireErrors.responseTooLarge(error)
            }
        }
        var frames = self.buffer(capacity: 64)
        if message != nil, !stream.headersSent {
            stream.headersSent = true
            self.encode(.responseHeaders(id, ResponseHeaders()), into: &frames)
        }
        var trailers = self.buffer(capacity: 64)
        self.encode(.trailers(id, Trailers(status: status, savings: ending.savings)), into: &trailers)
        if let message {
            let size = message.readableBytes - FrameHeader.size
            guard stream.window.isOpen, self.isWritable else {
                // The client's window (or the socket) is closed: the headers now, the answer and the
                // trailers when it opens.
                stream.parked = ParkedFrame(bytes: message, size: size, then: .trailers(trailers))
                self.streams[id] = stream
                self.parked.append(id)
                self.writeBytes(frames, flush: false)
                self.flushSoon()
                return status
            }
            stream.window.take(size)
            frames.writeImmutableBuffer(message)
        }
        self.streams[id] = stream
        // A unary call's last frames (HEADERS, MESSAGE, TRAILERS) leave in one write.
        self.machine.callClosing(id)
        frames.writeImmutableBuffer(trailers)
        self.writeBytes(frames, flush: false)
        self.flushSoon()
        self.streamFinished(id)
        return status
    }

    /// A stream's TRAILERS are out: the stream is forgotten; a draining connection may close.
    private func streamFinished(_ id: StreamID) {
        self.streams[id] = nil
        self.lastActivity = .now
        self.perform(self.machine.callFinished(id))
    }

    private func credit(_ id: StreamID, _ increment: UInt32) {
        guard self.streams[id] != nil else { return }
        do {
            try self.streams[id]?.window.credit(increment)
        } catch {
            self.perform(self.machine.fail(WireErrors.windowOverflow(id)))
            return
        }
        self.writeParked()
    }

    /// Writes the parked frames the windows and the socket now allow, in the order they parked.
    private func writeParked() {
        guard !self.parked.isEmpty else { return }
        var index = 0
        var wrote = false
        while index < self.parked.count, self.isWritable, !self.closing {
            let id = self.parked[index]
            guard var stream = self.streams[id], let frame = stream.parked else {
                self.parked.remove(at: index)
                continue
            }
            guard stream.window.isOpen else {
                index += 1
                continue
            }
            self.parked.remove(at: index)
            stream.window.take(frame.size)
            stream.parked = nil
            self.streams[id] = stream
            self.writeBytes(frame.bytes, flush: false)
            wrote = true
            switch frame.then {
            case .resume(let continuation):
                continuation.resume()
            case .trailers(let trailers):
                self.machine.callClosing(id)
                self.writeBytes(trailers, flush: false)
                self.streamFinished(id)
            }
        }
        if wrote { self.context?.flush() }
    }

    // MARK: - Drain, timeouts, closing

    /// The server is draining: GOAWAY, no new calls; the connection closes when its last call has.
    func beginDrain() {
        guard !self.closing else { return }
        self.perform(self.machine.beginDrain())
    }

    /// The drain's grace period is over: every call still running is stopped.
    func stopAllCalls(_ status: Status) {
        for stream in self.streams.values { stream.call.stop(.stopped(status)) }
    }

    /// The client closed its side (a TCP half-close): streams still waiting for their request end,
    /// the running calls finish and are answered, then the connection closes.
    private func inputClosed() {
        guard !self.closing else { return }
        for id in self.machine.streamsAwaitingRequest {
            self.perform(self.machine.requestNotReceived(id, WireErrors.inputClosedBeforeRequest))
        }
        self.perform(self.machine.inputClosed())
        self.context?.flush()
    }

    private func handshakeTimedOut() {
        guard !self.closing, self.machine.negotiated == nil else { return }
        self.perform(self.machine.fail(WireErrors.handshakeTimeout(after: self.shared.configuration.handshakeTimeout)))
    }

    /// Arms the idle timer for the first moment the connection could have been idle long enough:
    /// the idle timeout after its last frame or call, or after now while calls are open.
    private func armIdleTimer() {
        let timeout = self.shared.configuration.idleTimeout
        let from = self.machine.openStreamCount == 0 ? self.lastActivity : ContinuousClock.now
        self.idleTimer = self.arm(at: from + timeout) { $0.idleTimerFired() }
    }

    /// Closes a connection with no call and no frame for the idle timeout; otherwise looks again
    /// when it could be.
    private func idleTimerFired() {
        guard !self.closing else { return }
        let timeout = self.shared.configuration.idleTimeout
        if self.machine.openStreamCount == 0, ContinuousClock.now - self.lastActivity >= timeout {
            self.perform(self.machine.fail(WireErrors.idleTimeout(after: timeout)))
            return
        }
        self.armIdleTimer()
    }

    /// A timer on this connection's deadline service whose action runs here, on the event loop.
    private func arm(
        at deadline: ContinuousClock.Instant,
        _ action: @escaping @Sendable (ServerConnectionHandler) -> Void
    )
        -> DeadlineSignal?
    {
        guard let handle = self.handle else { return nil }
        let signal = DeadlineSignal(timers: self.timers)
        signal.arm(until: deadline) { handle.execute(action) }
        return signal
    }

    /// The one way this side closes the connection: GOAWAY if given, then close.
    private func close(_ goAway: GoAway?) {
        guard !self.closing, let context = self.context else { return }
        self.closing = true
        if let goAway {
            self.write(.goAway(goAway), flush: false)
        }
        // What calls wrote waits for a flush (``flushSoon()``); closing would drop it.
        context.flush()
        context.close(promise: nil)
    }

    /// The connection has gone (whoever closed it): every call is stopped, every parked sender
    /// told, and the connection's task stops taking calls.
    private func connectionEnded() {
        guard !self.ended else { return }
        self.ended = true
        self.closing = true
        self.handshakeTimer?.signal()
        self.idleTimer?.signal()
        self.handshakeTimer = nil
        self.idleTimer = nil
        for request in self.awaiting.values { request.timer?.signal() }
        self.awaiting = [:]
        let streams = self.streams
        self.streams = [:]
        self.parked = []
        for stream in streams.values {
            stream.call.stop(.stopped(WireErrors.connectionClosed))
            if case .resume(let continuation)? = stream.parked?.then {
                continuation.resume(throwing: StreamClosed())
            }
        }
        self.callStarts.finish()
        if let handle = self.handle { self.shared.unregister(handle) }
    }

    // MARK: - Inspection

    /// What the connection holds, for the FuzzServerStreams fuzz target's invariants (a bounded
    /// state while open, nothing left once closed). Reads only.
    struct Inspection {
        /// Calls started and not yet finished (their TRAILERS not written).
        var streams: Int
        /// Streams with a frame waiting for their window or the socket.
        var parked: Int
        /// Bytes received and not yet decoded.
        var inboundBytes: Int
        /// Streams opened by HEADERS still waiting for their request MESSAGE.
        var awaitingRequest: Int
        /// Streams the state machine counts open (HEADERS seen, TRAILERS not sent).
        var openStreams: Int
        var closing: Bool
        var ended: Bool
    }

    var inspection: Inspection {
        Inspection(
            streams: self.streams.count,
            parked: self.parked.count,
            inboundBytes: self.inbound.readableBytes,
            awaitingRequest: self.awaiting.count,
            openStreams: self.machine.openStreamCount,
            closing: self.closing,
            ended: self.ended
        )
    }

    // MARK: - Writing

    private var isWritable: Bool { self.context?.channel.isWritable ?? false }

    private func buffer(capacity: Int) -> ByteBuffer {
        self.context?.channel.allocator.buffer(capacity: capacity) ?? ByteBuffer()
    }

    private func encode(_ frame: FlexFrame, into buffer: inout ByteBuffer) {
        do {
            try self.encoder.encode(frame, into: &buffer)
        } catch {
            // Control frames are this side's own, small and valid: a failure here is a bug.
            assertionFailure("cannot encode \(frame): \(error)")
        }
    }

    private func write(_ frame: FlexFrame, flush: Bool) {
        var bytes = self.scratch.take(self.context?.channel.allocator)
        self.encode(frame, into: &bytes)
        self.writeBytes(bytes, flush: flush)
        self.scratch.put(bytes)
    }

    private func writeBytes(_ bytes: ByteBuffer, flush: Bool) {
        guard let context = self.context, !self.ended else { return }
        self.shared.metrics.bytesSent(bytes.readableBytes)
        if flush {
            context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        } else {
            context.write(self.wrapOutboundOut(bytes), promise: nil)
        }
    }
}
