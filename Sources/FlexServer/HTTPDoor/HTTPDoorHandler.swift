internal import FlexCodec
internal import FlexJSON
internal import Logging
internal import NIOCore
internal import NIOHTTP1

/// One HTTP/1.1 connection of the HTTP door, on its event loop: reads each request (bounded), routes
/// it, answers what it can itself (the model listing, refusals) and hands each call to the
/// connection's task, then writes the call's answer as the provider's SDK expects it.
///
/// One request at a time: `HTTPServerPipelineHandler` holds a pipelined request back until the
/// answer before it has ended. Everything here runs on the channel's event loop: no lock.
final class HTTPDoorHandler: ChannelInboundHandler, DrainingWriter, CoalescedFlushing {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let shared: ServerShared
    private let configuration: FlexServer.HTTPDoorConfiguration
    private let timers: DeadlineTimers
    private let callStarts: AsyncStream<ServerCall>.Continuation
    private let models: ModelDirectory
    private var logger: Logger

    private var context: ChannelHandlerContext?
    private var handle: HTTPDoorHandle?
    private var phase = Phase.idle
    /// The events a stream sent since the last flush, as SSE text: they go to NIO's HTTP encoder as
    /// one body part at the flush (``willFlush()``), before anything else is written.
    private var pendingBody: ByteBuffer?
    /// Pending events pass on without waiting for the flush once they hold this much.
    private static let pendingBodyLimit = 64 * 1024
    /// Requests read on this connection (the id of its calls).
    private var requests: UInt32 = 0
    private var startedUp = false
    /// The connection is over the server's limit: its first request is answered with this, then it
    /// closes (an HTTP answer can only follow a request).
    private var refusal: Status?
    private var draining = false
    private var closing = false
    private var ended = false
    /// A flush is queued on the event loop (``CoalescedFlushing``).
    var flushScheduled = false
    var flushContext: ChannelHandlerContext? { self.context }
    /// The timeout that applies now, if any.
    private var timeout = Timeout.none
    /// The connection's one timer, and when it fires: never later than ``timeout``'s deadline.
    private var timer: DeadlineSignal?
    private var timerDeadline: ContinuousClock.Instant?

    /// What the connection is waiting for, and until when: a request (the keep-alive timeout), the
    /// rest of one (the request timeout, from its first byte), or nothing while a call runs.
    ///
    /// One timer serves them all: it is set only when a deadline comes before the one it is set
    /// for, and when it fires it looks at the timeout that applies then (closing, answering 408,
    /// or setting itself again for a later deadline). A request then costs no timer of its own.
    private enum Timeout {
        case none
        case idle(until: ContinuousClock.Instant)
        case reading(until: ContinuousClock.Instant)
    }

    private enum Phase {
        /// Between requests.
        case idle
        /// Reading a request's body.
        case reading(HTTPRequestHead, ByteBuffer)
        /// The request was refused before its end (too large): its remaining parts are dropped,
        /// and the connection closes once the answer is out.
        case discarding
        /// A call runs; its answer is written as it comes.
        case running(Answer)
    }

    /// A running call's answer as written so far.
    private struct Answer {
        let call: ServerCall
        let api: Api
        let envelope: Provider
        let keepAlive: Bool
        var headSent = false
        /// A streamed event waiting for the socket to be writable, and its sender.
        var parked: (ByteBuffer, CheckedContinuation<Void, any Error>)?
        var abandoned = false
    }

    /// Refused when the call was stopped or the connection has gone.
    struct AnswerClosed: Error {}

    init(
        shared: ServerShared,
        configuration: FlexServer.HTTPDoorConfiguration,
        timers: DeadlineTimers,
        callStarts: AsyncStream<ServerCall>.Continuation,
        models: ModelDirectory,
        logger: Logger
    ) {
        self.shared = shared
        self.configuration = configuration
        self.timers = timers
        self.callStarts = callStarts
        self.models = models
        self.logger = logger
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.handle = HTTPDoorHandle(self, on: context.eventLoop)
        if context.channel.isActive { self.started(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.started(context)
        context.fireChannelActive()
    }

    private func started(_ context: ChannelHandlerContext) {
        guard let handle = self.handle, !self.startedUp else { return }
        self.startedUp = true
        self.logger[metadataKey: "peer"] = "\(context.remoteAddress?.description ?? "?")"
        let (count, draining) = self.shared.register(handle)
        let limit = self.shared.configuration.maxConnections
        if draining {
            // Accepted as the drain began: its request gets the reason, not a dropped connection.
            self.refusal = Status(.serverShuttingDown, "the server is shutting down; retry on another")
        } else if count > limit {
            self.refusal = Status(.tooManyConnections, "the server has \(limit) connections open; retry")
        }
        self.draining = self.refusal != nil
        self.setTimeout(.idle(until: .now + self.configuration.keepAliveTimeout))
    }

    /// The first bytes of a request arrived (``HTTPDoorBytesObserver``, ahead of the HTTP decoder):
    /// from now on the whole request must arrive within the request timeout.
    func bytesArrived(_ count: Int) {
        self.shared.metrics.bytesReceived(count)
        guard case .idle = self.phase, !self.closing else { return }
        if case .reading = self.timeout { return }
        self.setTimeout(.reading(until: .now + self.configuration.requestTimeout))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closing else { return }
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.requestHead(head)
        case .body(var bytes):
            self.requestBody(&bytes)
        case .end:
            self.requestEnd()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.writeParked() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A client that half-closed after its request still gets its answer; the connection
        // closes after it (and at once when there is nothing to answer).
        if let event = event as? ChannelEvent, event == .inputClosed {
            self.draining = true
            if case .idle = self.phase { self.close() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("http connection failed", metadata: ["error": "\(error)"])
        self.close()
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

    // MARK: - Reading a request

    private func requestHead(_ head: HTTPRequestHead) {
        guard case .idle = self.phase else { return }
        self.bytesArrived(0)
        if let refusal = self.refusal {
            let envelope =
                (try? DoorRoute.find(method: head.method.rawValue, path: Self.path(head.uri)).envelope) ?? .openAI
            self.phase = .discarding
            self.answerError(refusal, envelope: envelope, keepAlive: false)
            return
        }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init),
            length > self.configuration.maxBodyBytes
        {
            self.refuseTooLarge(head)
            return
        }
        self.phase = .reading(head, ByteBuffer())
    }

    private func requestBody(_ bytes: inout ByteBuffer) {
        guard case .reading(let head, var body) = self.phase else { return }
        guard body.readableBytes + bytes.readableBytes <= self.configuration.maxBodyBytes else {
            self.refuseTooLarge(head)
            return
        }
        self.phase = .discarding  // lets `body` be the only reference while it grows
        if body.readableBytes == 0 {
            body = bytes
        } else {
            body.writeBuffer(&bytes)
        }
        self.phase = .reading(head, body)
    }

    private func requestEnd() {
        self.setTimeout(.none)
        guard case .reading(let head, let body) = self.phase else {
            if case .discarding = self.phase { self.close() }
            return
        }
        self.phase = .idle
        self.requests &+= 1
        self.dispatch(head, body)
    }

    private func refuseTooLarge(_ head: HTTPRequestHead) {
        let envelope =
            (try? DoorRoute.find(method: head.method.rawValue, path: Self.path(head.uri)).envelope) ?? .openAI
        self.phase = .discarding
        self.answerError(
            Status(.requestTooLarge, "the request body is larger than \(self.configuration.maxBodyBytes) bytes"),
            envelope: envelope,
            keepAlive: false
        )
    }

    // MARK: - Routing

    private func dispatch(_ head: HTTPRequestHead, _ body: ByteBuffer) {
        let keepAlive = head.isKeepAlive && !self.draining
        let route: DoorRoute
        do {
            route = try DoorRoute.find(method: head.method.rawValue, path: Self.path(head.uri))
        } catch {
            switch error {
            case .notFound(let envelope):
                self.answerError(
                    Status(.unknownRoute, "no route for \(head.method.rawValue) \(Self.path(head.uri).prefix(200))"),
                    envelope: envelope,
                    keepAlive: keepAlive
                )
            case .methodNotAllowed(let envelope, let allowed):
                self.answerError(
                    Status(.methodNotAllowed, "use \(allowed) on this path"),
                    envelope: envelope,
                    keepAlive: keepAlive,
                    extraHeaders: [("allow", allowed)]
                )
            }
            return
        }
        switch route.target {
        case .models:
            let provider: Provider? = Self.path(head.uri).hasPrefix("/v1/") ? nil : route.envelope
            var bytes = ByteBuffer()
            ModelsListing.json(self.models.models(), provider: provider, envelope: route.envelope).write(into: &bytes)
            self.answer(.ok, json: bytes, headers: [], keepAlive: keepAlive)
        case .call(let api, let modelInPath, let alwaysStreams):
            self.startCall(
                api,
                modelInPath: modelInPath,
                alwaysStreams: alwaysStreams,
                envelope: route.envelope,
                head,
                body,
                keepAlive: keepAlive
            )
        }
    }

    private func startCall(
        _ api: Api,
        modelInPath: String?,
        alwaysStreams: Bool,
        envelope: Provider,
        _ head: HTTPRequestHead,
        _ body: ByteBuffer,
        keepAlive: Bool
    ) {
        let arrival = ContinuousClock.now
        let read: DoorRequest
        do {
            read = try DoorRequest.read(
                api: api,
                modelInPath: modelInPath,
                alwaysStreams: alwaysStreams,
                head: head,
                body: body,
                modelOwner: self.models.owner(of:)
            )
        } catch {
            self.shared.metrics.refused(error.status.errorCode)
            self.answerError(error.status, envelope: envelope, keepAlive: keepAlive)
            return
        }
        guard let tenant = self.shared.tenants.authenticate(read.tenantKey) else {
            let status =
                read.tenantKey.isEmpty
                ? Status(.missingAPIKey, "send your flexd API key in the flexd-api-key header")
                : Status(.invalidAPIKey, "the flexd API key is not valid")
            self.shared.metrics.refused(status.errorCode)
            self.answerError(status, envelope: envelope, keepAlive: keepAlive)
            return
        }
        guard let handle = self.handle else { return }
        guard self.shared.admitCall() else {
            self.shared.metrics.refused(WireErrors.serverBusy.errorCode)
            self.answerError(WireErrors.serverBusy, envelope: envelope, keepAlive: keepAlive)
            return
        }
        var request = read.request
        if request.requestID.isEmpty { request.requestID = self.shared.newRequestID() }
        let call = ServerCall(
            id: StreamID(self.requests),
            idName: "http_request",
            request: request,
            tenant: tenant,
            streaming: read.streaming,
            timeout: nil,
            metadata: [:],
            door: handle,
            arrival: arrival,
            maxCallDuration: self.shared.configuration.maxCallDuration,
            logger: self.logger
        )
        self.phase = .running(Answer(call: call, api: api, envelope: envelope, keepAlive: keepAlive))
        if case .terminated = self.callStarts.yield(call) {
            self.phase = .idle
            self.shared.callEnded()
        }
    }

    // MARK: - Answers (CallWriter)

    func trySend(_ event: StreamEvent, of call: ServerCall) throws -> ParkedBytes? {
        guard !self.closing, case .running(var answer) = self.phase, answer.call === call, !answer.abandoned,
            !call.isStopped
        else {
            throw AnswerClosed()
        }
        switch event {
        case .route(let route):
            if !answer.headSent {
                answer.headSent = true
                self.phase = .running(answer)
                self.writeStreamHead(answer, route: route)
            }
            return nil
        case .native(let native):
            guard self.isWritable else {
                var bytes = self.buffer(capacity: 256)
                SSEWriter.write(native, into: &bytes)
                return ParkedBytes(bytes: bytes, size: 0)
            }
            // Into the round's body part: one chunk (and one chunk header) per flush, not per event.
            if self.pendingBody == nil { self.pendingBody = self.buffer(capacity: 1024) }
            SSEWriter.write(native, into: &self.pendingBody!)
            if self.pendingBody!.readableBytes >= Self.pendingBodyLimit { self.writePendingBody() }
            self.flushSoon()
            return nil
        case .text, .toolCall, .reasoning, .finish:
            // A typed event: the door only sends native calls.
            return nil
        }
    }

    func park(_ bytes: ParkedBytes, of call: ServerCall, _ continuation: CheckedContinuation<Void, any Error>) {
        guard !self.closing, case .running(var answer) = self.phase, answer.call === call, !answer.abandoned else {
            continuation.resume(throwing: AnswerClosed())
            return
        }
        answer.parked = (bytes.bytes, continuation)
        self.phase = .running(answer)
        self.writeParked()
    }

    func abandon(_ call: ServerCall) {
        guard case .running(var answer) = self.phase, answer.call === call else { return }
        answer.abandoned = true
        let parked = answer.parked
        answer.parked = nil
        self.phase = .running(answer)
        parked?.1.resume(throwing: AnswerClosed())
    }

    private func writeParked() {
        guard self.isWritable, case .running(var answer) = self.phase, let (bytes, continuation) = answer.parked else {
            return
        }
        answer.parked = nil
        self.phase = .running(answer)
        self.writeBody(bytes, flush: true)
        continuation.resume()
    }

    func finish(_ call: ServerCall, _ ending: CallEnding) -> Status {
        guard !self.closing, case .running(let answer) = self.phase, answer.call === call else { return ending.status }
        self.phase = .idle
        let status = ending.status
        if answer.headSent {
            // A stream: after the provider's last event, the record as an SSE comment and an HTTP
            // trailer; a failure after the commit ends it with the provider's own error event,
            // never a clean end. google-genai's generateContent stream reader takes any line that
            // is not `data:` for JSON, so that stream carries the record in the trailer only.
            var bytes = self.buffer(capacity: 512)
            if status.code != .ok {
                SSEWriter.write(DoorError.streamEvent(status, api: answer.api), into: &bytes)
            }
            let savings = ending.savings?.compactJSON
            if let savings, answer.api != .generateContent {
                SSEWriter.writeSavings(savings, into: &bytes)
            }
            if bytes.readableBytes > 0 { self.writeBody(bytes, flush: false) }
            var trailers = HTTPHeaders()
            if let savings { trailers.add(name: "flexd-savings", value: savings) }
            self.endAnswer(keepAlive: answer.keepAlive, trailers: trailers.isEmpty ? nil : trailers)
        } else if status.code == .ok, let response = ending.response, let json = response.nativeJSON {
            self.answer(
                .ok,
                json: json,
                headers: self.flexdHeaders(call, savings: ending.savings),
                keepAlive: answer.keepAlive
            )
        } else {
            self.answerError(
                status,
                envelope: answer.envelope,
                keepAlive: answer.keepAlive,
                extraHeaders: self.flexdHeaders(call, savings: ending.savings)
            )
        }
        return status
    }

    /// A stream's head, once the call has committed to a tier.
    private func writeStreamHead(_ answer: Answer, route: RouteDecision) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/event-stream")
        headers.add(name: "cache-control", value: "no-cache")
        headers.add(name: "trailer", value: "flexd-savings")
        headers.add(name: "flexd-request-id", value: answer.call.requestID)
        headers.add(name: "flexd-tier-served", value: route.tier?.name ?? "")
        headers.add(name: "flexd-fell-back", value: route.fellBack ? "true" : "false")
        if let reason = route.fallbackReason { headers.add(name: "flexd-fallback-reason", value: reason.name) }
        self.writeHead(.ok, headers: headers, keepAlive: answer.keepAlive)
    }

    /// The `flexd-*` headers of a unary answer, from its savings record.
    private func flexdHeaders(_ call: ServerCall, savings: SavingsRecord?) -> [(String, String)] {
        var headers = [("flexd-request-id", call.requestID)]
        guard let savings else { return headers }
        headers.append(("flexd-tier-served", savings.tierServed?.name ?? ""))
        headers.append(("flexd-fell-back", savings.fellBack ? "true" : "false"))
        if let reason = savings.fallbackReason { headers.append(("flexd-fallback-reason", reason.name)) }
        headers.append(("flexd-retries", String(savings.retries)))
        headers.append(("flexd-savings", savings.compactJSON))
        return headers
    }

    // MARK: - Drain, timeouts, closing

    func beginDrain() {
        self.draining = true
        switch self.phase {
        case .idle: self.close()
        case .reading, .discarding, .running: break  // closes after the answer (`Connection: close`)
        }
    }

    func stopAllCalls(_ status: Status) {
        if case .running(let answer) = self.phase { answer.call.stop(.stopped(status)) }
    }

    /// Applies `timeout` from now on, setting the timer if it would fire too late.
    private func setTimeout(_ timeout: Timeout) {
        self.timeout = timeout
        let deadline: ContinuousClock.Instant
        switch timeout {
        case .none: return  // a timer set stays set: it fires, finds nothing due, and stops
        case .idle(let until), .reading(let until): deadline = until
        }
        if let set = self.timerDeadline, set <= deadline { return }
        self.timer?.signal()
        self.timerDeadline = deadline
        self.timer = self.arm(at: deadline) { $0.timerFired() }
    }

    private func timerFired() {
        self.timer = nil
        self.timerDeadline = nil
        guard !self.closing else { return }
        switch self.timeout {
        case .none:
            return
        case .idle(let until) where until > .now, .reading(let until) where until > .now:
            self.setTimeout(self.timeout)  // fired for an earlier deadline than the one that applies now
        case .idle:
            guard case .idle = self.phase else { return }
            self.close()
        case .reading:
            self.timeout = .none
            self.requestTimedOut()
        }
    }

    private func requestTimedOut() {
        switch self.phase {
        case .idle:
            // Not even a whole head: there is no request to answer (HTTP answers follow requests).
            self.close()
        case .reading(let head, _):
            let envelope =
                (try? DoorRoute.find(method: head.method.rawValue, path: Self.path(head.uri)).envelope) ?? .openAI
            self.phase = .discarding
            self.answerError(
                Status(.requestTimeout, "the request did not arrive within \(self.configuration.requestTimeout)"),
                envelope: envelope,
                keepAlive: false
            )
        case .discarding, .running:
            break
        }
    }

    private func arm(
        at deadline: ContinuousClock.Instant,
        _ action: @escaping @Sendable (HTTPDoorHandler) -> Void
    ) -> DeadlineSignal? {
        guard let handle = self.handle else { return nil }
        let signal = DeadlineSignal(timers: self.timers)
        signal.arm(until: deadline) { handle.execute(action) }
        return signal
    }

    private func close() {
        guard !self.closing, let context = self.context else { return }
        self.closing = true
        self.writePendingBody()
        context.flush()  // events waiting for `flushSoon` go first
        context.close(promise: nil)
    }

    private func connectionEnded() {
        guard !self.ended else { return }
        self.ended = true
        self.closing = true
        self.timeout = .none
        self.timer?.signal()
        self.timer = nil
        if case .running(let answer) = self.phase {
            answer.call.stop(.stopped(WireErrors.connectionClosed))
            answer.parked?.1.resume(throwing: AnswerClosed())
        }
        self.phase = .idle
        self.callStarts.finish()
        if let handle = self.handle { self.shared.unregister(handle) }
    }

    // MARK: - Writing

    private var isWritable: Bool { self.context?.channel.isWritable ?? false }

    private func buffer(capacity: Int) -> ByteBuffer {
        self.context?.channel.allocator.buffer(capacity: capacity) ?? ByteBuffer()
    }

    /// A whole JSON answer.
    private func answer(
        _ status: HTTPResponseStatus,
        json: ByteBuffer,
        headers extra: [(String, String)],
        keepAlive: Bool
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: "\(json.readableBytes)")
        for (name, value) in extra { headers.add(name: name, value: value) }
        self.writeHead(status, headers: headers, keepAlive: keepAlive)
        self.writeBody(json, flush: false)
        self.endAnswer(keepAlive: keepAlive)
    }

    private func answerError(
        _ status: Status,
        envelope: Provider,
        keepAlive: Bool,
        extraHeaders: [(String, String)] = []
    ) {
        let (http, body) = DoorError.response(status, envelope: envelope)
        self.answer(http, json: body, headers: extraHeaders, keepAlive: keepAlive)
    }

    /// The events gathered since the last flush, as one body part.
    private func writePendingBody() {
        guard let bytes = self.pendingBody else { return }
        self.pendingBody = nil
        self.writeBody(bytes, flush: false)
    }

    func willFlush() {
        self.writePendingBody()
    }

    private func writeHead(_ status: HTTPResponseStatus, headers: HTTPHeaders, keepAlive: Bool) {
        self.writePendingBody()
        var headers = headers
        let open = keepAlive && !self.draining
        headers.replaceOrAdd(name: "connection", value: open ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        self.context?.write(self.wrapOutboundOut(.head(head)), promise: nil)
    }

    private func writeBody(_ bytes: ByteBuffer, flush: Bool) {
        self.writePendingBody()
        guard let context = self.context, !self.ended else { return }
        self.shared.metrics.bytesSent(bytes.readableBytes)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        if flush { context.flush() }
    }

    /// Ends the answer; closes the connection after it unless it stays open for the next request.
    private func endAnswer(keepAlive: Bool, trailers: HTTPHeaders? = nil) {
        self.writePendingBody()
        guard let context = self.context, !self.ended else { return }
        let open = keepAlive && !self.draining
        if open {
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
            if case .idle = self.phase { self.setTimeout(.idle(until: .now + self.configuration.keepAliveTimeout)) }
        } else {
            self.closing = true
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers))).whenComplete { _ in channel.close(promise: nil)
            }
        }
    }

    /// The URI's path (no query).
    static func path(_ uri: String) -> String {
        if let question = uri.firstIndex(of: "?") { return String(uri[..<question]) }
        return uri
    }
}

/// The HTTP door's connection, as its calls and the drain reach it.
typealias HTTPDoorHandle = LoopBoundDoor<HTTPDoorHandler>

/// Counts the bytes of each read before the HTTP decoder, so the door knows when a request has
/// begun (its request timeout starts at the first byte, not at a whole head).
final class HTTPDoorBytesObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private weak var door: HTTPDoorHandler?

    init(door: HTTPDoorHandler) {
        self.door = door
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.door?.bytesArrived(self.unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }
}
