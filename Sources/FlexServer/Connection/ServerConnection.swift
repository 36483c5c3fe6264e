internal import FlexCodec
internal import FlexRouter
internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore

/// One client connection: reads and decodes frames, feeds them to the
/// ``ServerConnectionStateMachine`` and carries out its actions; runs each call in a child task.
///
/// Tasks: the connection's own task reads; a watchdog enforces the handshake and idle timeouts and
/// reacts to the server's drain and stop signals; each call runs in its own task and writes its
/// frames through the shared ``ConnectionWriter``. The machine and the table of running calls are
/// shared between them, behind one lock.
final class ServerConnection: @unchecked Sendable {
    // @unchecked: `machine`, `calls` and `lastActivity` are only touched with `lock` held; the rest is
    // immutable or Sendable.
    let shared: ServerShared
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    let logger: Logger
    private let lock = NIOLock()
    private var machine: ServerConnectionStateMachine
    private var calls: [StreamID: ServerCall] = [:]
    private var lastActivity = ContinuousClock.now
    private var handshakeDone = false

    init(channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, shared: ServerShared, logger: Logger) {
        self.channel = channel
        self.shared = shared
        self.logger = logger
        self.machine = ServerConnectionStateMachine(configuration: shared.configuration.connection)
    }

    /// Serves the connection until it closes.
    func run() async {
        do {
            try await self.channel.executeThenClose { inbound, outbound in
                let writer = ConnectionWriter(outbound: outbound, metrics: self.shared.metrics)
                await withDiscardingTaskGroup { group in
                    group.addTask { await self.watchdog(writer) }
                    await self.readLoop(inbound, writer: writer, group: &group)
                    // The client went away or the connection was closed: stop every call.
                    self.stopAllCalls(Status(code: .unavailable, message: "the connection closed", errorCode: "connection_closed"))
                    group.cancelAll()
                }
            }
        } catch {
            self.logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Reading

    private func readLoop(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, writer: ConnectionWriter, group: inout DiscardingTaskGroup) async {
        var decoder = FrameDecoder(role: .server, maxMessageSize: self.shared.configuration.connection.limits.maxMessageSize)
        let coder = MessageCoder()
        var buffer = ByteBuffer()
        do {
            for try await chunk in inbound {
                self.shared.metrics.bytesReceived(chunk.readableBytes)
                if buffer.readableBytes == 0 {
                    buffer = chunk
                } else {
                    var chunk = chunk
                    buffer.writeBuffer(&chunk)
                }
                while let frame = try decoder.decode(buffer: &buffer) {
                    let action = self.lock.withLock {
                        self.lastActivity = .now
                        return self.machine.receive(frame)
                    }
                    if case .sendHello(_, let negotiated) = action {
                        decoder.compression = negotiated.compression
                        writer.configure(negotiated)
                        self.lock.withLock { self.handshakeDone = true }
                    }
                    guard await self.execute(action, writer: writer, coder: coder, group: &group) else { return }
                }
                if buffer.readerIndex > 65_536 { buffer.discardReadBytes() }
            }
        } catch let error as FlexCodecError {
            self.shared.metrics.protocolError(error.wireErrorCode)
            self.logger.debug("protocol error", metadata: ["error": "\(error)"])
            let action = self.lock.withLock { self.machine.fail(code: error.statusCode, errorCode: error.wireErrorCode, message: error.message) }
            _ = await self.execute(action, writer: writer, coder: coder, group: &group)
        } catch {
            self.logger.debug("connection read failed", metadata: ["error": "\(error)"])
        }
    }

    /// Carries out one action; returns false once the connection is closing.
    private func execute(_ action: ServerConnectionStateMachine.Action, writer: ConnectionWriter, coder: MessageCoder,
                         group: inout DiscardingTaskGroup) async -> Bool {
        do {
            switch action {
            case .none:
                return true
            case .sendHello(let hello, _):
                try await writer.send(.hello(hello))
            case .startCall(let id, let headers, let payload):
                self.startCall(id, headers: headers, payload: payload, writer: writer, coder: coder, group: &group)
            case .cancelCall(let id, let status):
                self.lock.withLock { self.calls[id] }?.stop(.stopped(status))
            case .refuse(let id, let status):
                try await writer.send(.trailers(id, Trailers(status: status)))
                self.shared.metrics.refused(status.errorCode)
            case .pong(let data):
                try await writer.send(.ping(data, ack: true))
            case .credit(let id, let increment):
                if let call = self.lock.withLock({ self.calls[id] }) {
                    do {
                        try call.window.credit(increment)
                    } catch {
                        let close = self.lock.withLock {
                            self.machine.fail(code: .internal, errorCode: "flow_control_error",
                                              message: "WINDOW_UPDATE on stream \(id) pushed its window over 2^31-1")
                        }
                        return await self.execute(close, writer: writer, coder: coder, group: &group)
                    }
                }
            case .sendGoAway(let goAway):
                try await writer.send(.goAway(goAway))
            case .close(let goAway):
                if let goAway { try? await writer.send(.goAway(goAway)) }
                self.channel.channel.close(promise: nil)
                return false
            }
            return true
        } catch {
            self.channel.channel.close(promise: nil)
            return false
        }
    }

    // MARK: Calls

    private func startCall(_ id: StreamID, headers: RequestHeaders, payload: ByteBuffer, writer: ConnectionWriter, coder: MessageCoder,
                           group: inout DiscardingTaskGroup) {
        let arrival = ContinuousClock.now
        let refusal: Status?
        var request = InferenceRequest()
        var tenant = Tenant.anonymous
        if let authenticated = self.shared.tenants.authenticate(headers.apiKey) {
            tenant = authenticated
            do {
                request = try coder.decode(InferenceRequest.self, from: payload)
                refusal = self.shared.admitCall() ? nil : Status(code: .resourceExhausted, message: "the server is at its limit of calls in flight; retry",
                                                                  errorCode: "server_busy")
            } catch {
                refusal = Status(code: .invalidArgument, message: "the request MESSAGE is not a valid InferenceRequest: \(error.message)",
                                 errorCode: "invalid_message")
            }
        } else {
            refusal = Status(code: .unauthenticated,
                             message: headers.apiKey.isEmpty ? "send your flexd API key in api_key" : "the flexd API key is not valid",
                             errorCode: headers.apiKey.isEmpty ? "missing_api_key" : "invalid_api_key")
        }
        if let refusal {
            self.closing(id)
            group.addTask {
                try? await writer.send(.trailers(id, Trailers(status: refusal)))
                self.shared.metrics.refused(refusal.errorCode)
                self.finished(id)
            }
            return
        }
        let window = self.lock.withLock { self.machine.negotiated?.peerLimits.initialWindowSize } ?? ProtocolDefaults.initialWindowSize
        if request.requestID.isEmpty { request.requestID = self.shared.newRequestID() }
        let call = ServerCall(id: id, headers: headers, request: request, tenant: tenant, window: window, writer: writer, arrival: arrival,
                              maxCallDuration: self.shared.configuration.maxCallDuration, logger: self.logger)
        self.lock.withLock { self.calls[id] = call }
        group.addTask {
            await self.runCall(call)
        }
    }

    /// Bookkeeping just before a call's trailers are written: frees its slot.
    func closing(_ id: StreamID) {
        self.lock.withLock { self.machine.callClosing(id) }
    }

    /// Bookkeeping when a call's trailers are out: frees its place in the server's count, forgets
    /// the stream; may close a draining connection.
    @inline(never)
    func callFinished(_ id: StreamID) {
        self.shared.callEnded()
        self.finished(id)
    }

    /// Bookkeeping when a stream's trailers are out: forgets the stream; may close a draining connection.
    private func finished(_ id: StreamID) {
        let action = self.lock.withLock {
            self.calls[id] = nil
            self.lastActivity = .now
            return self.machine.callFinished(id)
        }
        if case .close = action {
            self.channel.channel.close(promise: nil)
        }
    }

    private func stopAllCalls(_ status: Status) {
        let calls = self.lock.withLock { Array(self.calls.values) }
        for call in calls {
            call.stop(.stopped(status))
            call.window.close(CancellationError())
        }
    }

    // MARK: Watchdog

    /// Enforces the handshake and idle timeouts, and follows the server's drain and stop signals.
    private func watchdog(_ writer: ConnectionWriter) async {
        let configuration = self.shared.configuration
        let tick = min(configuration.handshakeTimeout, configuration.idleTimeout) / 4
        var draining = false
        while !Task.isCancelled {
            if !draining, self.shared.draining.isSignalled {
                draining = true
                let action = self.lock.withLock { self.machine.beginDrain() }
                switch action {
                case .sendGoAway(let goAway):
                    try? await writer.send(.goAway(goAway))
                case .close(let goAway):
                    if let goAway { try? await writer.send(.goAway(goAway)) }
                    self.channel.channel.close(promise: nil)
                    return
                default:
                    break
                }
            }
            if self.shared.stopping.isSignalled {
                self.stopAllCalls(Status(code: .unavailable, message: "the server shut down before the call finished",
                                         errorCode: "server_shutting_down"))
            }
            let (handshakeDone, idleFor, open) = self.lock.withLock {
                (self.handshakeDone, ContinuousClock.now - self.lastActivity, self.machine.openStreams.count)
            }
            if !handshakeDone, idleFor > configuration.handshakeTimeout {
                await self.closeWith(code: .deadlineExceeded, errorCode: "handshake_timeout",
                                     message: "no HELLO within \(configuration.handshakeTimeout)", writer: writer)
                return
            }
            if handshakeDone, open == 0, idleFor > configuration.idleTimeout {
                await self.closeWith(code: .ok, errorCode: "idle_timeout",
                                     message: "no call for \(configuration.idleTimeout)", writer: writer)
                return
            }
            try? await Task.sleep(for: tick)
        }
    }

    private func closeWith(code: StatusCode, errorCode: String, message: String, writer: ConnectionWriter) async {
        let action = self.lock.withLock { self.machine.fail(code: code, errorCode: errorCode, message: message) }
        if case .close(let goAway) = action, let goAway { try? await writer.send(.goAway(goAway)) }
        self.channel.channel.close(promise: nil)
    }
}
