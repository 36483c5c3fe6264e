import FlexCodec
import Logging
import NIOCore

/// One connection to the server: owns the channel's frame encoder and decoder and the
/// ``ConnectionStateMachine``, feeds it every event, and performs the actions it returns. All the
/// protocol decisions are the state machine's; this class only does the I/O.
///
/// `@unchecked Sendable`: it is created on the client's event loop and every method runs on that
/// loop (the channel's, since the client bootstraps every connection on it); timers and futures
/// capture it only to call back on the same loop.
final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let loop: any EventLoop
    /// The address this connection goes to.
    let backend: Backend
    /// When the connection attempt started.
    let startedAt = NIODeadline.now()
    private let configuration: FlexClient.Configuration
    private let logger: Logger
    private weak var manager: ConnectionManager?

    private var machine: ConnectionStateMachine
    private var context: ChannelHandlerContext?
    private var decoder: FrameDecoder
    private var encoder: FrameEncoder
    private let coder = MessageCoder()
    /// Bytes received and not yet decoded: at most one frame (the decoder rejects a length over
    /// ``FlexClient/Configuration/maxMessageSize`` from the header) plus one read.
    private var inbound: ByteBuffer
    private var calls: [CallID: ClientCall] = [:]
    private var needsFlush = false
    private var closeWhenAdded = false
    private var reportedClosed = false
    /// A stream ended or the handshake finished during the current batch of actions: the client
    /// may have queued calls this connection can now take.
    private var mayHaveCapacity = false

    /// The connection's timers, in the client's deadline service (on this loop).
    private let timers: DeadlineTimers
    private var handshakeTimer: DeadlineSignal?
    private var keepaliveTimer: DeadlineSignal?
    private var keepaliveTimeout: DeadlineSignal?
    private var pingData: UInt64 = 0

    init(
        loop: any EventLoop,
        backend: Backend,
        timers: DeadlineTimers,
        configuration: FlexClient.Configuration,
        machine: ConnectionStateMachine.Configuration,
        manager: ConnectionManager,
        logger: Logger
    ) {
        self.loop = loop
        self.backend = backend
        self.timers = timers
        self.configuration = configuration
        self.manager = manager
        self.logger = logger
        self.machine = ConnectionStateMachine(configuration: machine)
        self.decoder = FrameDecoder(role: .client, maxMessageSize: configuration.maxMessageSize)
        self.encoder = FrameEncoder(compressionThreshold: configuration.compressionThreshold)
        self.inbound = ByteBuffer()
    }

    /// Whether new calls may start on this connection.
    var isAccepting: Bool { self.machine.isAccepting }

    /// How many more calls it can start without queueing them (see
    /// ``ConnectionStateMachine/availableSlots(expectedLimit:)``); before the HELLO, counting on the
    /// stream limit its endpoint announced last.
    var availableSlots: Int {
        self.machine.availableSlots(expectedLimit: self.backend.streamLimit ?? ProtocolDefaults.maxConcurrentStreams)
    }

    /// Streams open (cancelled ones included) and calls queued on this connection.
    var callCount: Int {
        let counts = self.machine.counts
        return counts.openStreams + counts.queuedCalls
    }

    // MARK: - From the client

    func startCall(_ call: ClientCall) {
        self.loop.assertInEventLoop()
        self.calls[call.id] = call
        call.assigned(to: self)
        self.perform(self.machine.startCall(call.id, kind: call.kind))
    }

    func cancel(_ call: ClientCall, error: FlexClientError) {
        self.loop.assertInEventLoop()
        self.perform(self.machine.cancel(call.id, error: error))
        if !call.isFinished {
            // Not known to the state machine any more (it was being handed back): fail it here.
            self.calls[call.id] = nil
            call.failed(error, discardBuffered: true)
        }
    }

    func consumed(_ stream: StreamID, wireLength: Int) {
        self.loop.assertInEventLoop()
        self.perform(self.machine.consumed(stream, wireLength: wireLength))
    }

    func close(graceful: Bool, error: FlexClientError) {
        self.loop.assertInEventLoop()
        self.perform(self.machine.close(graceful: graceful, error: error))
    }

    func connectFailed(_ error: any Error) {
        self.loop.assertInEventLoop()
        self.logger.debug("flexclient: connect failed", metadata: ["error": "\(error)"])
        self.perform(
            self.machine.connectFailed(
                .local(
                    .unavailable,
                    FlexClientError.LocalReason.connectionFailed,
                    "could not connect to \(self.backend): \(error)",
                    isSafeToRetry: true
                )
            )
        )
        self.reportClosed()
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if self.closeWhenAdded { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.perform(self.machine.channelClosed())
        self.stopTimers()
        self.reportClosed()
    }

    func channelActive(context: ChannelHandlerContext) {
        self.logger.debug(
            "flexclient: connected",
            metadata: ["remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")"]
        )
        self.perform(self.machine.connected())
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.logger.debug("flexclient: connection closed")
        self.perform(self.machine.channelClosed())
        self.stopTimers()
        self.reportClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        guard !self.machine.isClosed else { return }
        self.inbound.writeBuffer(&bytes)
        while !self.machine.isClosed {
            // The frame's length on the wire (after compression) is what flow control counts; the
            // decoder hands over the decompressed payload, so read it from the header first.
            let wireLength = self.inbound.getInteger(at: self.inbound.readerIndex, as: UInt32.self).map(Int.init) ?? 0
            let frame: FlexFrame?
            do {
                frame = try self.decoder.decode(buffer: &self.inbound)
            } catch {
                self.logger.debug("flexclient: protocol violation by the server", metadata: ["error": "\(error)"])
                self.perform(self.machine.protocolViolation(error))
                return
            }
            guard let frame else { break }
            self.perform(self.machine.received(frame, wireLength: wireLength))
        }
        self.compactInbound()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("flexclient: connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Performing actions

    private func perform(_ actions: [ConnectionStateMachine.Action]) {
        for action in actions {
            self.perform(action)
        }
        self.flushIfNeeded()
        if self.mayHaveCapacity {
            self.mayHaveCapacity = false
            self.manager?.connectionMayHaveCapacity(self)
        }
    }

    private func perform(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .sendHello(let hello):
            var buffer = self.allocateBuffer(capacity: 64)
            FrameEncoder.writePreface(into: &buffer)
            self.write(.hello(hello), into: &buffer)
            self.handshakeTimer = self.arm(after: self.configuration.handshakeTimeout) { handler in
                handler.perform(handler.machine.handshakeTimedOut())
            }
        case .configure(let negotiated):
            self.handshakeTimer?.signal()
            self.handshakeTimer = nil
            self.decoder.compression = negotiated.compression
            self.decoder.maxMessageSize = negotiated.localLimits.maxMessageSize
            self.encoder.compression = negotiated.compression
            self.encoder.maxMessageSize = negotiated.peerLimits.maxMessageSize
            self.logger.debug(
                "flexclient: handshake done",
                metadata: [
                    "compression": "\(negotiated.compression)",
                    "max_concurrent_streams": "\(negotiated.peerLimits.maxConcurrentStreams)",
                ]
            )
            self.startKeepalive()
            self.manager?.connectionReady(self, streamLimit: negotiated.peerLimits.maxConcurrentStreams)
            self.mayHaveCapacity = true
        case .openStream(let callID, let stream):
            self.openStream(callID, stream)
        case .write(let frame):
            var buffer = self.allocateBuffer(capacity: 64)
            self.write(frame, into: &buffer)
        case .deliverHeaders(let callID, let headers):
            self.calls[callID]?.receivedHeaders(headers)
        case .deliverMessage(let callID, let payload, let wireLength):
            self.deliver(callID, payload, wireLength: wireLength)
        case .finish(let callID, let trailers):
            self.calls.removeValue(forKey: callID)?.finished(trailers)
            self.mayHaveCapacity = true
        case .fail(let callID, let error, let discardBuffered):
            self.calls.removeValue(forKey: callID)?.failed(error, discardBuffered: discardBuffered)
            self.mayHaveCapacity = true
        case .retry(let callID, let error):
            self.mayHaveCapacity = true
            if let call = self.calls.removeValue(forKey: callID) {
                call.detached()
                call.avoid = self.backend
                self.manager?.retry(call, after: error) ?? call.failed(error, discardBuffered: true)
            }
        case .reroute(let callID):
            if let call = self.calls.removeValue(forKey: callID) {
                call.detached()
                self.manager?.reroute(call) ?? call.failed(FlexClient.closedError, discardBuffered: true)
            }
        case .connectionFailed(let error):
            self.logger.debug(
                "flexclient: connection failed before its handshake",
                metadata: ["address": "\(self.backend)", "error": "\(error.status.message)"]
            )
            self.manager?.connectionFailed(self, error)
        case .stopAccepting:
            self.manager?.connectionStoppedAccepting(self)
        case .close:
            self.flushIfNeeded()
            self.stopTimers()
            if let context = self.context {
                context.close(promise: nil)
            } else {
                self.closeWhenAdded = true
            }
        }
    }

    private func openStream(_ callID: CallID, _ stream: StreamID) {
        guard let call = self.calls[callID] else { return }
        var timeout: Duration?
        if let deadline = call.deadline {
            let remaining = deadline - .now
            guard remaining > .zero else {
                let error = FlexClient.deadlineError
                self.perform(self.machine.openFailed(stream, error))
                return
            }
            timeout = remaining
        }
        let headers = RequestHeaders(
            method: call.kind.method,
            timeout: timeout,
            apiKey: call.apiKey,
            metadata: call.metadata
        )
        var buffer = self.allocateBuffer(capacity: call.request.readableBytes + 256)
        let wireLength: Int
        do {
            try self.encoder.encode(.requestHeaders(stream, headers), into: &buffer)
            let messageStart = buffer.writerIndex
            try self.encoder.encode(.message(stream, call.request, endStream: true), into: &buffer)
            wireLength = buffer.writerIndex - messageStart - FrameHeader.size
        } catch {
            self.perform(self.machine.openFailed(stream, Self.encodingError(error)))
            return
        }
        call.opened(stream: stream)
        self.context?.write(self.wrapOutboundOut(buffer), promise: nil)
        self.needsFlush = true
        self.machine.requestSent(stream, wireLength: wireLength)
    }

    private func deliver(_ callID: CallID, _ payload: ByteBuffer, wireLength: Int) {
        guard let call = self.calls[callID] else { return }
        do {
            switch call.kind {
            case .unary:
                call.received(
                    .response(try self.coder.decode(InferenceResponse.self, from: payload)),
                    wireLength: wireLength
                )
            case .streaming:
                call.received(.event(try self.coder.decode(StreamEvent.self, from: payload)), wireLength: wireLength)
            }
        } catch {
            // Section 9.2: a MESSAGE that does not decode is a stream error.
            if let stream = call.stream {
                self.perform(self.machine.undecodableMessage(stream, error))
            }
        }
    }

    private static func encodingError(_ error: FlexCodecError) -> FlexClientError {
        switch error.code {
        case .messageTooLarge:
            .local(.resourceExhausted, FlexClientError.LocalReason.messageTooLarge, error.message)
        case .invalidString:
            .local(.invalidArgument, FlexClientError.LocalReason.invalidRequest, error.message)
        default:
            .local(.internal, FlexClientError.LocalReason.invalidRequest, error.message)
        }
    }

    // MARK: - I/O helpers

    private func allocateBuffer(capacity: Int) -> ByteBuffer {
        self.context?.channel.allocator.buffer(capacity: capacity) ?? ByteBuffer()
    }

    private func write(_ frame: FlexFrame, into buffer: inout ByteBuffer) {
        do {
            try self.encoder.encode(frame, into: &buffer)
        } catch {
            // Control frames the client builds always encode; a bug must not take the loop down.
            self.logger.error("flexclient: could not encode a \(frame.type) frame", metadata: ["error": "\(error)"])
            return
        }
        self.context?.write(self.wrapOutboundOut(buffer), promise: nil)
        self.needsFlush = true
    }

    private func flushIfNeeded() {
        guard self.needsFlush else { return }
        self.needsFlush = false
        self.context?.flush()
    }

    /// Drops consumed bytes; gives back a buffer that grew for one large frame.
    private func compactInbound() {
        if self.inbound.readableBytes == 0 {
            if self.inbound.capacity > 64 * 1024 {
                self.inbound = self.allocateBuffer(capacity: 4096)
            } else {
                self.inbound.clear()
            }
        } else if self.inbound.readerIndex > 1024, self.inbound.readerIndex > self.inbound.capacity / 2 {
            self.inbound.discardReadBytes()
        }
    }

    /// A PING every keepalive interval (re-armed each time), and a deadline for its answer.
    private func startKeepalive() {
        guard let keepalive = self.configuration.keepalive else { return }
        self.keepaliveTimer = self.arm(after: keepalive.interval) { handler in
            handler.pingData &+= 1
            let data = handler.pingData
            let actions = handler.machine.keepaliveTick(data: data)
            if !actions.isEmpty {
                handler.perform(actions)
                handler.keepaliveTimeout?.signal()
                handler.keepaliveTimeout = handler.arm(after: keepalive.timeout) { handler in
                    handler.perform(handler.machine.keepaliveTimedOut(data: data))
                }
            }
            handler.startKeepalive()
        }
    }

    /// A deadline `delay` from now whose action runs with this handler, on its loop.
    private func arm(after delay: Duration, _ action: @escaping @Sendable (ConnectionHandler) -> Void) -> DeadlineSignal
    {
        let signal = DeadlineSignal(timers: self.timers)
        signal.arm(until: .now + delay) { [self] in
            self.loop.execute { action(self) }
        }
        return signal
    }

    private func stopTimers() {
        self.handshakeTimer?.signal()
        self.handshakeTimer = nil
        self.keepaliveTimer?.signal()
        self.keepaliveTimer = nil
        self.keepaliveTimeout?.signal()
        self.keepaliveTimeout = nil
    }

    private func reportClosed() {
        guard !self.reportedClosed else { return }
        self.reportedClosed = true
        self.manager?.connectionClosed(self)
    }
}
