internal import NIOCore
internal import NIOHTTP1

/// One connection: collects each request (body capped), asks the ``Simulator`` for a plan, and
/// carries it out with event-loop timers: queue wait, time to first token, paced output events,
/// faults, and billing when the exchange ends or the client goes away.
///
/// Requests on one connection are answered in order; a pipelined request waits for the one
/// before it. Everything here runs on the channel's event loop.
final class SimHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let simulator: Simulator
    private let maxBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false
    private var queue: [(head: HTTPRequestHead, body: ByteBuffer, tooLarge: Bool)] = []
    private var active: ActiveExchange?
    private var closed = false

    init(simulator: Simulator) {
        self.simulator = simulator
        self.maxBodyBytes = simulator.configuration.maxBodyBytes
    }

    /// The exchange in progress and its timers.
    final class ActiveExchange {
        var exchange: SimulatedExchange
        var lifecycle = RequestLifecycle()
        let keepAlive: Bool
        let acceptedAt = NIODeadline.now()
        var startedAt: NIODeadline?
        var timers: [Scheduled<Void>] = []
        var nextEvent = 0
        /// Output tokens carried by the events sent so far (reasoning included).
        var tokensSent = 0
        var preambleSent = false
        var headSent = false
        var midStallApplied = false

        init(exchange: SimulatedExchange, keepAlive: Bool) {
            self.exchange = exchange
            self.keepAlive = keepAlive
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body.clear()
            self.tooLarge = false
        case .body(var chunk):
            if self.tooLarge { return }
            if self.body.readableBytes + chunk.readableBytes > self.maxBodyBytes {
                self.tooLarge = true
                self.body = ByteBuffer()
            } else {
                self.body.writeBuffer(&chunk)
            }
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            // Pipelined requests wait their turn; a client that pipelines without reading is cut
            // off rather than buffered without bound.
            guard self.queue.count < 64 else {
                context.close(promise: nil)
                return
            }
            self.queue.append((head, self.body, self.tooLarge))
            self.body = ByteBuffer()
            self.startNext(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        if let active = self.active {
            self.active = nil
            for timer in active.timers { timer.cancel() }
            if !active.lifecycle.isFinished {
                let started = active.lifecycle.isStarted
                if started && !active.exchange.stream { self.accountElapsedOutput(active) }
                if let billing = active.lifecycle.cancel() {
                    self.simulator.record(
                        active.exchange,
                        billing: billing,
                        outcome: started ? "cancelled_after_start" : "cancelled_before_start",
                        status: 499
                    )
                }
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed request line or headers: answer 400 once and close.
        if self.active == nil && !self.closed {
            var response = HTTPResponse.head(
                status: 400,
                headers: [("content-type", "text/plain")],
                contentLength: 12,
                keepAlive: false
            )
            response.writeString("bad request\n")
            context.writeAndFlush(self.wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }

    // MARK: Exchanges

    private func startNext(context: ChannelHandlerContext) {
        guard self.active == nil, !self.closed, !self.queue.isEmpty else { return }
        let (head, body, tooLarge) = self.queue.removeFirst()
        let keepAlive = head.isKeepAlive && !tooLarge
        switch self.simulator.plan(head: head, body: body, bodyTooLarge: tooLarge) {
        case .respond(let response):
            var out = HTTPResponse.head(
                status: response.status,
                headers: response.headers,
                contentLength: response.body.readableBytes,
                keepAlive: keepAlive
            )
            var payload = response.body
            out.writeBuffer(&payload)
            self.finishWrite(context: context, out, keepAlive: keepAlive)
        case .simulate(let exchange):
            let active = ActiveExchange(exchange: exchange, keepAlive: keepAlive)
            self.active = active
            active.lifecycle.queue()
            if exchange.stream {
                self.runStream(context: context, active)
            } else {
                self.runUnary(context: context, active)
            }
        }
    }

    private func finishWrite(context: ChannelHandlerContext, _ buffer: ByteBuffer, keepAlive: Bool) {
        let future = context.writeAndFlush(self.wrapOutboundOut(buffer))
        if keepAlive {
            self.startNext(context: context)
        } else {
            future.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func schedule(
        context: ChannelHandlerContext,
        _ active: ActiveExchange,
        after seconds: Double,
        _ body: @escaping () -> Void
    ) {
        if seconds <= 0 {
            body()
            return
        }
        let task = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { body() }
        active.timers.append(task)
    }

    private var scale: Double { self.simulator.configuration.timeScale }

    private func faultSeconds(_ active: ActiveExchange, _ pick: (Fault) -> Double?) -> Double {
        active.exchange.faults.compactMap(pick).reduce(0, +) / self.scale
    }

    /// For a non-streamed answer cancelled after start: the output generated so far, by elapsed time.
    private func accountElapsedOutput(_ active: ActiveExchange) {
        guard let startedAt = active.startedAt else { return }
        let elapsed = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
        let rate = active.exchange.tokensPerSecond
        let visible = rate > 0 ? min(active.exchange.outputTokens, Int(elapsed * rate)) : active.exchange.outputTokens
        active.lifecycle.emit(active.exchange.reasoningTokens + visible)
    }

    // MARK: Unary

    private func runUnary(context: ChannelHandlerContext, _ active: ActiveExchange) {
        let exchange = active.exchange
        let generation = exchange.tokensPerSecond > 0 ? Double(exchange.outputTokens) / exchange.tokensPerSecond : 0
        self.schedule(context: context, active, after: exchange.startDelay) { [self] in
            guard self.active === active else { return }
            active.lifecycle.start()
            active.startedAt = .now()
            self.schedule(context: context, active, after: generation) { [self] in
                guard self.active === active else { return }
                active.lifecycle.emit(exchange.reasoningTokens + exchange.outputTokens)
                if let billing = active.lifecycle.complete(
                    totalOutputTokens: exchange.reasoningTokens + exchange.outputTokens
                ) {
                    self.simulator.record(exchange, billing: billing, outcome: "completed", status: 200)
                }
                var body = exchange.body
                if exchange.faults.contains(.truncatedJSON) {
                    body = body.getSlice(at: body.readerIndex, length: body.readableBytes / 2) ?? body
                }
                let head = HTTPResponse.head(
                    status: 200,
                    headers: exchange.headers,
                    contentLength: body.readableBytes,
                    keepAlive: active.keepAlive
                )
                let stall = self.faultSeconds(active) { if case .stallBeforeHeaders(let s) = $0 { s } else { nil } }
                self.schedule(context: context, active, after: stall) { [self] in
                    guard self.active === active else { return }
                    self.writeHead(context: context, active, head) { [self] in
                        guard self.active === active else { return }
                        self.active = nil
                        self.finishWrite(context: context, body, keepAlive: active.keepAlive)
                    }
                }
            }
        }
    }

    /// Writes the head, slowly when the fault asks, then calls `then`.
    private func writeHead(
        context: ChannelHandlerContext,
        _ active: ActiveExchange,
        _ head: ByteBuffer,
        then: @escaping () -> Void
    ) {
        active.headSent = true
        let slow = self.faultSeconds(active) { if case .slowHeaders(let s) = $0 { s } else { nil } }
        guard slow > 0 else {
            context.write(self.wrapOutboundOut(head), promise: nil)
            then()
            return
        }
        let pieces = 10
        let size = max(1, (head.readableBytes + pieces - 1) / pieces)
        var remaining = head
        func step(_ index: Int) {
            guard self.active === active else { return }
            if let slice = remaining.readSlice(length: min(size, remaining.readableBytes)), slice.readableBytes > 0 {
                context.writeAndFlush(self.wrapOutboundOut(slice), promise: nil)
            }
            if remaining.readableBytes == 0 {
                then()
                return
            }
            self.schedule(context: context, active, after: slow / Double(pieces)) { step(index + 1) }
        }
        step(0)
    }

    // MARK: Streaming

    private func runStream(context: ChannelHandlerContext, _ active: ActiveExchange) {
        let exchange = active.exchange
        let head = HTTPResponse.head(
            status: 200,
            headers: exchange.headers,
            contentLength: nil,
            keepAlive: active.keepAlive
        )
        let stall = self.faultSeconds(active) { if case .stallBeforeHeaders(let s) = $0 { s } else { nil } }
        self.schedule(context: context, active, after: stall) { [self] in
            guard self.active === active else { return }
            self.writeHead(context: context, active, head) { [self] in
                guard self.active === active else { return }
                var out = ByteBuffer()
                if exchange.preambleWhileQueued { self.appendPreamble(active, into: &out) }
                context.writeAndFlush(self.wrapOutboundOut(out), promise: nil)
                self.schedule(context: context, active, after: max(0, exchange.startDelay - stall)) { [self] in
                    guard self.active === active else { return }
                    if !exchange.plan.errorBeforeOutput.isEmpty {
                        // The overload arrives instead of the first output: nothing started, nothing billed.
                        var out = ByteBuffer()
                        self.appendPreamble(active, into: &out)
                        for event in exchange.plan.errorBeforeOutput { HTTPResponse.chunk(event, into: &out) }
                        out.writeImmutableBuffer(HTTPResponse.lastChunk)
                        if let billing = active.lifecycle.refuse(reason: "stream_error") {
                            self.simulator.record(exchange, billing: billing, outcome: "fault", status: 200)
                        }
                        self.active = nil
                        self.finishWrite(context: context, out, keepAlive: active.keepAlive)
                        return
                    }
                    active.lifecycle.start()
                    active.startedAt = .now()
                    self.pump(context: context, active)
                }
            }
        }
    }

    private func appendPreamble(_ active: ActiveExchange, into out: inout ByteBuffer) {
        guard !active.preambleSent else { return }
        active.preambleSent = true
        for event in active.exchange.plan.preamble { HTTPResponse.chunk(event, into: &out) }
    }

    /// Sends every output event that is due, then schedules itself for the next one.
    private func pump(context: ChannelHandlerContext, _ active: ActiveExchange) {
        guard self.active === active, let startedAt = active.startedAt else { return }
        let exchange = active.exchange
        let events = exchange.plan.body
        let middle = events.count / 2
        let rate = exchange.tokensPerSecond
        var out = ByteBuffer()
        self.appendPreamble(active, into: &out)
        let now = NIODeadline.now()
        // Pacing counts visible tokens only: reasoning is produced at start (it is part of TTFT).
        var tokensBefore = active.tokensSent - exchange.reasoningTokens
        var midStall = 0.0
        if active.midStallApplied {
            midStall = self.faultSeconds(active) { if case .stallMidStream(let s) = $0 { s } else { nil } }
        }
        while active.nextEvent < events.count {
            let index = active.nextEvent
            if index == middle && index > 0 {
                if exchange.faults.contains(.cutMidStream) {
                    if out.readableBytes > 0 { context.write(self.wrapOutboundOut(out), promise: nil) }
                    self.active = nil
                    for timer in active.timers { timer.cancel() }
                    if let billing = active.lifecycle.cancel(reason: "server_cut_mid_stream") {
                        self.simulator.record(exchange, billing: billing, outcome: "cut_mid_stream", status: 200)
                    }
                    context.writeAndFlush(self.wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
                        context.close(promise: nil)
                    }
                    return
                }
                if !exchange.plan.errorMidStream.isEmpty {
                    for event in exchange.plan.errorMidStream { HTTPResponse.chunk(event, into: &out) }
                    out.writeImmutableBuffer(HTTPResponse.lastChunk)
                    for timer in active.timers { timer.cancel() }
                    if let billing = active.lifecycle.cancel(reason: "stream_error_mid") {
                        self.simulator.record(exchange, billing: billing, outcome: "fault", status: 200)
                    }
                    self.active = nil
                    self.finishWrite(context: context, out, keepAlive: active.keepAlive)
                    return
                }
                if !active.midStallApplied,
                    let _ = exchange.faults.first(where: { if case .stallMidStream = $0 { true } else { false } })
                {
                    active.midStallApplied = true
                    midStall = self.faultSeconds(active) { if case .stallMidStream(let s) = $0 { s } else { nil } }
                }
            }
            // Paced output is due by its tokens; with no pacing (`tokens_per_s` 0, as in `instant`)
            // everything is due at once, except after a mid-stream stall, which holds the second
            // half back either way.
            let stallPart = index >= middle ? midStall : 0
            if rate > 0 || stallPart > 0 {
                let pacing = rate > 0 ? Double(max(0, tokensBefore)) / rate : 0
                let due = startedAt + .nanoseconds(Int64((pacing + stallPart) * 1e9))
                if due > now + .milliseconds(1) {
                    if out.readableBytes > 0 { context.writeAndFlush(self.wrapOutboundOut(out), promise: nil) }
                    self.schedule(context: context, active, after: Double((due - now).nanoseconds) / 1e9) { [self] in
                        self.pump(context: context, active)
                    }
                    return
                }
            }
            if index == middle && index > 0 && exchange.faults.contains(.malformedSSE) {
                HTTPResponse.chunk(
                    ByteBuffer(string: "data: {\"truncated\": \"this event is not valid JSON\n\n"),
                    into: &out
                )
            }
            HTTPResponse.chunk(events[index].bytes, into: &out)
            active.lifecycle.emit(events[index].tokens)
            active.tokensSent += events[index].tokens
            tokensBefore += events[index].tokens
            active.nextEvent += 1
        }
        for event in exchange.plan.terminal { HTTPResponse.chunk(event, into: &out) }
        out.writeImmutableBuffer(HTTPResponse.lastChunk)
        if let billing = active.lifecycle.complete(totalOutputTokens: exchange.reasoningTokens + exchange.outputTokens)
        {
            self.simulator.record(exchange, billing: billing, outcome: "completed", status: 200)
        }
        self.active = nil
        self.finishWrite(context: context, out, keepAlive: active.keepAlive)
    }
}
