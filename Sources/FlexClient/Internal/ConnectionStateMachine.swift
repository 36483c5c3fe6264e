import FlexCodec
import NIOCore

/// Identifies one call for its whole life, across the connections it may be retried on (stream ids
/// are per connection).
struct CallID: Hashable, Sendable, CustomStringConvertible {
    let rawValue: UInt64
    var description: String { "call-\(self.rawValue)" }
}

/// What a call sends and expects (PROTOCOL.md 5.2).
enum CallKind: Hashable, Sendable {
    /// `Inference/Complete`: exactly one `InferenceResponse` on success.
    case unary
    /// `Inference/Stream`: zero or more `StreamEvent`s.
    case streaming

    var method: String {
        switch self {
        case .unary: RequestHeaders.Method.complete
        case .streaming: RequestHeaders.Method.stream
        }
    }
}

/// The client side of one connection (PROTOCOL.md sections 4 to 11) as a value: every event goes in
/// as a method call and comes out as a list of ``Action``s for the channel handler to perform. It
/// does no I/O and reads no clock, so every path is tested without a socket
/// (`ConnectionStateMachineTests`).
///
/// ```
///  connecting ──connected──▶ handshaking ──server HELLO──▶ open ──▶ closed
///      │                         │                          │        ▲
///      └──connect failed─────────┴──GOAWAY, bad HELLO,──────┴────────┘
///                                   timeout, EOF            GOAWAY(error), protocol error, EOF,
///                                                           or idle after a drain / close
/// ```
///
/// `open` has two flags rather than more states: `accepting` (new calls may start here; false
/// after the server's GOAWAY, once stream ids run out, or when the client closes) and
/// `closeWhenIdle` (close the connection once no live stream and no queued call is left).
///
/// Calls that arrive before the server's HELLO, or while `max_concurrent_streams` streams are open,
/// wait in a bounded queue (``Configuration/maxQueuedCalls``). A stream counts against the limit
/// from its HEADERS until its TRAILERS, as the server counts it, also after the client cancelled it.
struct ConnectionStateMachine {
    struct Configuration: Hashable {
        /// The HELLO the client sends: versions, compression, the limits it receives with.
        var hello: Hello
        /// Calls that may wait for a stream slot (or the handshake) on this connection.
        var maxQueuedCalls: Int
        /// Keepalive pings are sent while no call is open too.
        var keepaliveWithoutCalls: Bool = false
        /// The highest stream id to use (the protocol's maximum; tests lower it).
        var lastUsableStreamID: UInt32 = StreamID.max.rawValue
    }

    enum Action: Hashable {
        /// Write the preface and this HELLO.
        case sendHello(Hello)
        /// Configure the frame encoder and decoder with the negotiated settings.
        case configure(NegotiatedConnection)
        /// Open the stream for the call: write its HEADERS and its request MESSAGE (END_STREAM).
        case openStream(CallID, StreamID)
        /// Write a frame (CANCEL, WINDOW_UPDATE, PING, GOAWAY).
        case write(FlexFrame)
        /// The server's HEADERS for the call.
        case deliverHeaders(CallID, ResponseHeaders)
        /// A MESSAGE for the call; `wireLength` is its frame length (what flow control counts).
        case deliverMessage(CallID, ByteBuffer, wireLength: Int)
        /// The server ended the call with TRAILERS (OK or not).
        case finish(CallID, Trailers)
        /// The call failed. `discardBuffered`: drop messages the caller has not read yet (it
        /// cancelled, or the deadline passed); otherwise they are delivered before the error.
        case fail(CallID, FlexClientError, discardBuffered: Bool)
        /// The server did not process the call (GOAWAY above `last_stream_id`): it may be sent
        /// again on another connection, else it fails with the error.
        case retry(CallID, FlexClientError)
        /// The call never left this connection's queue: start it on another connection.
        case reroute(CallID)
        /// The connection failed before its handshake finished (connect refused, closed, timed out,
        /// or refused with GOAWAY): nothing was sent on it, so its queued calls are rerouted (the
        /// ``reroute(_:)`` actions that follow), and the endpoint is unreachable for now. Comes
        /// before those reroutes, so that the client does not pick the same endpoint again.
        case connectionFailed(FlexClientError)
        /// This connection takes no more new calls (tell the client to use a new one).
        case stopAccepting
        /// Flush and close the connection.
        case close
    }

    private struct QueuedCall: Hashable {
        var call: CallID
        var kind: CallKind
    }

    private struct Stream: Hashable {
        enum Phase: Hashable {
            /// HEADERS and the request were sent; the server's HEADERS have not arrived.
            case awaitingHeaders
            /// The server's HEADERS arrived; MESSAGEs and then TRAILERS follow.
            case receiving
            /// The client sent CANCEL; the stream holds its slot until the server's TRAILERS.
            case cancelled
        }

        var call: CallID
        var kind: CallKind
        var phase: Phase = .awaitingHeaders
        /// What the client may still send (only its one request MESSAGE; tracked for the overflow
        /// rule of section 6).
        var sendWindow: Int
        /// What the server may still send before the client returns credit.
        var receiveWindow: Int
        /// Bytes the caller consumed and the client has not returned with WINDOW_UPDATE yet.
        var unreturnedCredit = 0
        var messagesReceived = 0
    }

    private struct Waiting: Hashable {
        var queue = CircularBuffer<QueuedCall>()
        var closeRequested = false
    }

    private struct Open: Hashable {
        var negotiated: NegotiatedConnection
        var streams: [StreamID: Stream] = [:]
        var streamOfCall: [CallID: StreamID] = [:]
        var queue: CircularBuffer<QueuedCall>
        var ids = StreamIDGenerator()
        var highestOpened: UInt32 = 0
        var accepting = true
        var closeWhenIdle = false
        var goAway: GoAway?
        var keepalivePing: UInt64?

        /// Streams that are not cancelled: the ones a graceful close waits for.
        var liveStreams: Int { self.streams.values.count { $0.phase != .cancelled } }
        var isIdle: Bool { self.liveStreams == 0 && self.queue.isEmpty }
    }

    private enum State: Hashable {
        case connecting(Waiting)
        case handshaking(Waiting)
        case open(Open)
        case closed
        /// Only while a method runs, so that the payload is mutated in place (no copy-on-write).
        case modifying
    }

    private var state: State
    private var announcedStopAccepting = false
    let configuration: Configuration

    init(configuration: Configuration) {
        self.configuration = configuration
        self.state = .connecting(Waiting())
    }

    // MARK: - Introspection (for the handler and tests)

    var isClosed: Bool { if case .closed = self.state { true } else { false } }

    /// Whether new calls may be started here.
    var isAccepting: Bool {
        switch self.state {
        case .connecting(let waiting), .handshaking(let waiting): !waiting.closeRequested
        case .open(let open): open.accepting
        case .closed, .modifying: false
        }
    }

    /// How many more calls this connection can start without queueing them: the server's
    /// `max_concurrent_streams` minus the streams it counts and the calls queued here; before the
    /// server's HELLO, `expectedLimit` (a guess the HELLO corrects). Zero when it takes no new calls.
    func availableSlots(expectedLimit: Int = ProtocolDefaults.maxConcurrentStreams) -> Int {
        switch self.state {
        case .connecting(let waiting), .handshaking(let waiting):
            return waiting.closeRequested ? 0 : max(0, expectedLimit - waiting.queue.count)
        case .open(let open):
            guard open.accepting else { return 0 }
            return max(0, open.negotiated.peerLimits.maxConcurrentStreams - open.streams.count - open.queue.count)
        case .closed, .modifying:
            return 0
        }
    }

    /// Streams counted against `max_concurrent_streams` (cancelled ones included) and queued calls.
    var counts: (openStreams: Int, queuedCalls: Int) {
        switch self.state {
        case .connecting(let waiting), .handshaking(let waiting): (0, waiting.queue.count)
        case .open(let open): (open.streams.count, open.queue.count)
        case .closed, .modifying: (0, 0)
        }
    }

    var negotiated: NegotiatedConnection? {
        if case .open(let open) = self.state { open.negotiated } else { nil }
    }

    // MARK: - Connection events

    /// The TCP connection is up: write the preface and HELLO, wait for the server's HELLO.
    mutating func connected() -> [Action] {
        guard case .connecting(let waiting) = self.state else { return [] }
        if waiting.closeRequested, waiting.queue.isEmpty {
            self.state = .closed
            return self.stopAccepting() + [.close]
        }
        self.state = .handshaking(waiting)
        return [.sendHello(self.configuration.hello)]
    }

    /// The TCP connection could not be made: the endpoint failed; every queued call goes elsewhere.
    mutating func connectFailed(_ error: FlexClientError) -> [Action] {
        guard case .connecting(let waiting) = self.state else { return [] }
        self.state = .closed
        return self.stopAccepting() + [.connectionFailed(error)] + waiting.queue.map { .reroute($0.call) }
    }

    /// The server's HELLO: check it against the client's offer (section 4, step 4), then start
    /// the queued calls.
    mutating func receivedHello(_ hello: Hello) -> [Action] {
        guard case .handshaking(let waiting) = self.state else {
            // The decoder lets only one HELLO through, as the first frame.
            return self.protocolViolation(FlexCodecError(code: .frameNotAllowed, message: "unexpected HELLO"))
        }
        let negotiated: NegotiatedConnection
        do {
            negotiated = try Handshake.accept(hello, offered: self.configuration.hello)
        } catch {
            return self.protocolViolation(error)
        }
        self.state = .modifying
        var open = Open(negotiated: negotiated, queue: waiting.queue)
        open.closeWhenIdle = waiting.closeRequested
        open.accepting = !waiting.closeRequested
        var actions: [Action] = [.configure(negotiated)]
        self.openQueuedStreams(&open, into: &actions)
        if open.accepting, !open.queue.isEmpty {
            // The server allows fewer streams than the protocol's default the client counted on
            // before its HELLO: the calls beyond go back to the client, which may have a
            // connection with room for them (or open one) rather than wait here.
            actions += open.queue.map { .reroute($0.call) }
            open.queue.removeAll()
            self.state = .open(open)
        }
        self.finishIfIdle(&open, into: &actions)
        return actions
    }

    /// The handshake did not finish in time: the endpoint failed, the queued calls go elsewhere,
    /// the connection closes.
    mutating func handshakeTimedOut() -> [Action] {
        guard case .handshaking(let waiting) = self.state else { return [] }
        self.state = .closed
        let error = FlexClientError.local(
            .unavailable,
            FlexClientError.LocalReason.handshakeTimeout,
            "the server did not answer the HELLO in time",
            isSafeToRetry: true
        )
        return self.stopAccepting() + [.connectionFailed(error)] + waiting.queue.map { .reroute($0.call) } + [.close]
    }

    /// The connection closed (EOF, reset, or after ``Action/close``).
    mutating func channelClosed() -> [Action] {
        switch self.state {
        case .connecting(let waiting):
            // Closed before it connected (the connect failed or was abandoned).
            self.state = .closed
            let error = FlexClientError.local(
                .unavailable,
                FlexClientError.LocalReason.connectionFailed,
                "could not connect to the server",
                isSafeToRetry: true
            )
            return self.stopAccepting() + [.connectionFailed(error)] + waiting.queue.map { .reroute($0.call) }
        case .handshaking(let waiting):
            self.state = .closed
            let error = FlexClientError.local(
                .unavailable,
                FlexClientError.LocalReason.connectionClosed,
                "the connection closed before the handshake finished",
                isSafeToRetry: true
            )
            return self.stopAccepting() + [.connectionFailed(error)] + waiting.queue.map { .reroute($0.call) }
        case .open(let open):
            self.state = .closed
            var actions = self.stopAccepting()
            // Section 11: a connection that closes without GOAWAY fails every open stream.
            let error = FlexClientError.local(
                .unavailable,
                FlexClientError.LocalReason.connectionClosed,
                "the connection to the server closed"
            )
            for (_, stream) in open.streams.sorted(by: { $0.key < $1.key }) where stream.phase != .cancelled {
                actions.append(.fail(stream.call, error, discardBuffered: false))
            }
            // Queued calls never left the client: another connection can take them.
            actions += open.queue.map { .reroute($0.call) }
            return actions
        case .closed, .modifying:
            return []
        }
    }

    /// The frame decoder rejected the server's bytes: GOAWAY with the error, fail everything, close.
    mutating func protocolViolation(_ error: FlexCodecError) -> [Action] {
        let failure = FlexClientError.protocolViolation(error)
        let goAway = FlexFrame.goAway(
            error.goAway(lastStreamID: .connection)
        )
        switch self.state {
        case .connecting(let waiting), .handshaking(let waiting):
            self.state = .closed
            return self.stopAccepting() + [.write(goAway)]
                + waiting.queue.map { .fail($0.call, failure, discardBuffered: true) }
                + [.close]
        case .open(let open):
            self.state = .closed
            var actions = self.stopAccepting() + [.write(goAway)]
            for (_, stream) in open.streams.sorted(by: { $0.key < $1.key }) where stream.phase != .cancelled {
                actions.append(.fail(stream.call, failure, discardBuffered: false))
            }
            // Queued calls were never sent: they go to another connection.
            actions += open.queue.map { .reroute($0.call) }
            return actions + [.close]
        case .closed, .modifying:
            return []
        }
    }

    /// The client closes the connection. Graceful: no new calls; the queued and open ones finish,
    /// then GOAWAY (OK, last_stream_id 0) and close (section 11, "Client"). Not graceful: every
    /// call fails with `error` now.
    mutating func close(graceful: Bool, error: FlexClientError) -> [Action] {
        switch self.state {
        case .connecting(var waiting):
            if graceful {
                waiting.closeRequested = true
                self.state = .connecting(waiting)
                return self.stopAccepting()
            }
            self.state = .closed
            return self.stopAccepting() + waiting.queue.map { .fail($0.call, error, discardBuffered: true) } + [.close]
        case .handshaking(var waiting):
            if graceful, !waiting.queue.isEmpty {
                waiting.closeRequested = true
                self.state = .handshaking(waiting)
                return self.stopAccepting()
            }
            self.state = .closed
            return self.stopAccepting() + waiting.queue.map { .fail($0.call, error, discardBuffered: true) } + [.close]
        case .open(var open):
            self.state = .modifying
            var actions = self.stopAccepting()
            open.accepting = false
            open.closeWhenIdle = true
            if !graceful {
                for (id, stream) in open.streams.sorted(by: { $0.key < $1.key }) where stream.phase != .cancelled {
                    actions.append(.write(.cancel(id, Cancel(code: .cancelled, reason: "client closing"))))
                    actions.append(.fail(stream.call, error, discardBuffered: true))
                }
                actions += open.queue.map { .fail($0.call, error, discardBuffered: true) }
                open.queue.removeAll()
                open.streams.removeAll()
                open.streamOfCall.removeAll()
            }
            self.finishIfIdle(&open, into: &actions)
            return actions
        case .closed, .modifying:
            return []
        }
    }

    // MARK: - Calls

    /// A new call wants to run on this connection.
    mutating func startCall(_ call: CallID, kind: CallKind) -> [Action] {
        switch self.state {
        case .connecting(var waiting):
            guard !waiting.closeRequested else { return [.reroute(call)] }
            guard waiting.queue.count < self.configuration.maxQueuedCalls else {
                return [.fail(call, Self.queueFull, discardBuffered: true)]
            }
            waiting.queue.append(QueuedCall(call: call, kind: kind))
            self.state = .connecting(waiting)
            return []
        case .handshaking(var waiting):
            guard !waiting.closeRequested else { return [.reroute(call)] }
            guard waiting.queue.count < self.configuration.maxQueuedCalls else {
                return [.fail(call, Self.queueFull, discardBuffered: true)]
            }
            waiting.queue.append(QueuedCall(call: call, kind: kind))
            self.state = .handshaking(waiting)
            return []
        case .open(var open):
            guard open.accepting else { return [.reroute(call)] }
            guard open.queue.count < self.configuration.maxQueuedCalls else {
                return [.fail(call, Self.queueFull, discardBuffered: true)]
            }
            self.state = .modifying
            open.queue.append(QueuedCall(call: call, kind: kind))
            var actions: [Action] = []
            self.openQueuedStreams(&open, into: &actions)
            self.state = .open(open)
            return actions
        case .closed, .modifying:
            return [.reroute(call)]
        }
    }

    /// The handler wrote the call's request MESSAGE of `wireLength` bytes.
    mutating func requestSent(_ stream: StreamID, wireLength: Int) {
        guard case .open(var open) = self.state, open.streams[stream] != nil else { return }
        self.state = .modifying
        open.streams[stream]!.sendWindow -= wireLength
        self.state = .open(open)
    }

    /// The handler could not write the call's HEADERS and request (it does not encode: too large
    /// for the server, invalid strings, or its deadline passed while it waited). Nothing was sent.
    mutating func openFailed(_ stream: StreamID, _ error: FlexClientError) -> [Action] {
        guard case .open(var open) = self.state, let removed = open.streams[stream] else { return [] }
        self.state = .modifying
        open.streams[stream] = nil
        open.streamOfCall[removed.call] = nil
        var actions: [Action] = [.fail(removed.call, error, discardBuffered: true)]
        self.openQueuedStreams(&open, into: &actions)
        self.finishIfIdle(&open, into: &actions)
        return actions
    }

    /// The caller abandoned the call (task cancelled, deadline passed, or the handler found a
    /// per-stream protocol violation): CANCEL if it is open, and fail it.
    mutating func cancel(_ call: CallID, error: FlexClientError) -> [Action] {
        let cancelCode: StatusCode = error.code == .deadlineExceeded ? .deadlineExceeded : .cancelled
        switch self.state {
        case .connecting(var waiting):
            guard let index = waiting.queue.firstIndex(where: { $0.call == call }) else { return [] }
            waiting.queue.remove(at: index)
            self.state = .connecting(waiting)
            return [.fail(call, error, discardBuffered: true)]
        case .handshaking(var waiting):
            guard let index = waiting.queue.firstIndex(where: { $0.call == call }) else { return [] }
            waiting.queue.remove(at: index)
            self.state = .handshaking(waiting)
            return [.fail(call, error, discardBuffered: true)]
        case .open(var open):
            self.state = .modifying
            var actions: [Action] = []
            if let index = open.queue.firstIndex(where: { $0.call == call }) {
                open.queue.remove(at: index)
                actions.append(.fail(call, error, discardBuffered: true))
            } else if let id = open.streamOfCall[call], open.streams[id]?.phase != .cancelled {
                open.streams[id]!.phase = .cancelled
                open.streamOfCall[call] = nil
                actions.append(.write(.cancel(id, Cancel(code: cancelCode, reason: error.status.message))))
                actions.append(.fail(call, error, discardBuffered: true))
            }
            self.finishIfIdle(&open, into: &actions)
            return actions
        case .closed, .modifying:
            return []
        }
    }

    /// The caller consumed a message of `wireLength` bytes: return the credit once enough has
    /// accumulated (half the initial window), so the server can send more.
    mutating func consumed(_ stream: StreamID, wireLength: Int) -> [Action] {
        guard case .open(var open) = self.state, var entry = open.streams[stream], entry.phase == .receiving else {
            return []
        }
        self.state = .modifying
        entry.unreturnedCredit += wireLength
        var actions: [Action] = []
        let threshold = max(1, open.negotiated.localLimits.initialWindowSize / 2)
        if entry.unreturnedCredit >= threshold {
            // The window never exceeds its initial size, so the increment always fits.
            let increment = min(
                entry.unreturnedCredit,
                Int(ProtocolDefaults.maxWindowSize) - max(0, entry.receiveWindow)
            )
            if increment > 0 {
                entry.receiveWindow += increment
                entry.unreturnedCredit -= increment
                actions.append(.write(.windowUpdate(stream, increment: UInt32(increment))))
            }
        }
        open.streams[stream] = entry
        self.state = .open(open)
        return actions
    }

    // MARK: - Keepalive

    /// Time for a keepalive ping carrying `data` (when none is outstanding).
    mutating func keepaliveTick(data: UInt64) -> [Action] {
        guard case .open(var open) = self.state, open.keepalivePing == nil else { return [] }
        guard self.configuration.keepaliveWithoutCalls || open.liveStreams > 0 else { return [] }
        open.keepalivePing = data
        self.state = .open(open)
        return [.write(.ping(data, ack: false))]
    }

    /// The keepalive ping `data` was not answered in time: the connection is dead (section 10).
    mutating func keepaliveTimedOut(data: UInt64) -> [Action] {
        guard case .open(let open) = self.state, open.keepalivePing == data else { return [] }
        self.state = .closed
        let error = FlexClientError.local(
            .unavailable,
            FlexClientError.LocalReason.keepaliveTimeout,
            "the server did not answer a keepalive ping in time"
        )
        var actions = self.stopAccepting()
        actions.append(
            .write(
                .goAway(
                    GoAway(
                        lastStreamID: .connection,
                        code: .unavailable,
                        message: "keepalive ping not answered",
                        errorCode: FlexClientError.LocalReason.keepaliveTimeout
                    )
                )
            )
        )
        for (_, stream) in open.streams.sorted(by: { $0.key < $1.key }) where stream.phase != .cancelled {
            actions.append(.fail(stream.call, error, discardBuffered: false))
        }
        return actions + open.queue.map { .reroute($0.call) } + [.close]
    }

    // MARK: - Frames from the server

    /// A frame the decoder accepted, with its length on the wire.
    mutating func received(_ frame: FlexFrame, wireLength: Int) -> [Action] {
        switch frame {
        case .hello(let hello):
            return self.receivedHello(hello)
        case .goAway(let goAway):
            return self.receivedGoAway(goAway)
        case .ping(let data, let ack):
            return self.receivedPing(data, ack: ack)
        case .responseHeaders(let id, let headers):
            return self.receivedHeaders(id, headers)
        case .message(let id, let payload, _):
            return self.receivedMessage(id, payload, wireLength: wireLength)
        case .trailers(let id, let trailers):
            return self.receivedTrailers(id, trailers)
        case .windowUpdate(let id, let increment):
            return self.receivedWindowUpdate(id, increment: increment)
        case .requestHeaders, .cancel:
            // The client-role decoder rejects these; be safe anyway.
            return self.protocolViolation(
                FlexCodecError(code: .frameNotAllowed, message: "a server may not send \(frame.type) frames")
            )
        }
    }

    private mutating func receivedPing(_ data: UInt64, ack: Bool) -> [Action] {
        guard case .open(var open) = self.state else { return [] }
        if !ack { return [.write(.ping(data, ack: true))] }
        if open.keepalivePing == data {
            open.keepalivePing = nil
            self.state = .open(open)
        }
        return []
    }

    private mutating func receivedGoAway(_ goAway: GoAway) -> [Action] {
        switch self.state {
        case .connecting, .closed, .modifying:
            return []
        case .handshaking(let waiting):
            // Refused before the HELLO (unsupported version, bad limits, too many connections):
            // nothing was sent, and the same connection attempt would fail again: the endpoint
            // failed, the queued calls go elsewhere.
            self.state = .closed
            let error = FlexClientError(
                status: Status(
                    code: goAway.code == .ok ? .unavailable : goAway.code,
                    message: "the server refused the connection: \(goAway.message)",
                    errorCode: goAway.errorCode
                ),
                origin: .goAway
            )
            return self.stopAccepting() + [.connectionFailed(error)] + waiting.queue.map { .reroute($0.call) } + [
                .close
            ]
        case .open(var open):
            self.state = .modifying
            var actions = self.stopAccepting()
            open.accepting = false
            open.goAway = goAway
            // Streams above last_stream_id were not processed: they may go to a new connection.
            let notProcessed = FlexClientError.goAway(goAway, processed: false)
            for (id, stream) in open.streams.sorted(by: { $0.key < $1.key }) where id > goAway.lastStreamID {
                open.streams[id] = nil
                open.streamOfCall[stream.call] = nil
                if stream.phase != .cancelled {
                    actions.append(.retry(stream.call, notProcessed))
                }
            }
            actions += open.queue.map { .reroute($0.call) }
            open.queue.removeAll()
            if goAway.code != .ok {
                // An error GOAWAY is followed at once by the close: the rest fail with its status.
                let failure = FlexClientError.goAway(goAway, processed: true)
                for (_, stream) in open.streams.sorted(by: { $0.key < $1.key }) where stream.phase != .cancelled {
                    actions.append(.fail(stream.call, failure, discardBuffered: false))
                }
                self.state = .closed
                return actions + [.close]
            }
            // A graceful drain: streams up to last_stream_id finish normally.
            open.closeWhenIdle = true
            self.finishIfIdle(&open, into: &actions)
            return actions
        }
    }

    private mutating func receivedHeaders(_ id: StreamID, _ headers: ResponseHeaders) -> [Action] {
        guard case .open(var open) = self.state else { return [] }
        if let violation = self.checkOpened(id, in: open, frame: "HEADERS") { return violation }
        guard var stream = open.streams[id] else { return [] }  // closed: crossed on the wire
        switch stream.phase {
        case .cancelled:
            return []
        case .receiving:
            return self.streamViolation(id, in: &open, "a second HEADERS on stream \(id)")
        case .awaitingHeaders:
            self.state = .modifying
            stream.phase = .receiving
            open.streams[id] = stream
            self.state = .open(open)
            return [.deliverHeaders(stream.call, headers)]
        }
    }

    private mutating func receivedMessage(_ id: StreamID, _ payload: ByteBuffer, wireLength: Int) -> [Action] {
        guard case .open(var open) = self.state else { return [] }
        if let violation = self.checkOpened(id, in: open, frame: "MESSAGE") { return violation }
        guard var stream = open.streams[id] else { return [] }
        // Section 6: a MESSAGE sent while the window was not positive is a connection error,
        // whatever the stream's phase.
        guard stream.receiveWindow > 0 else {
            return self.protocolViolation(
                FlexCodecError(
                    code: .invalidFramePayload,
                    message:
                        "MESSAGE of \(wireLength) bytes on stream \(id) while its window was \(stream.receiveWindow)"
                ),
                errorCode: FlexClientError.LocalReason.flowControlError
            )
        }
        self.state = .modifying
        stream.receiveWindow -= wireLength
        stream.messagesReceived += 1
        open.streams[id] = stream
        switch stream.phase {
        case .cancelled:
            self.state = .open(open)
            return []
        case .awaitingHeaders:
            return self.streamViolation(id, in: &open, "MESSAGE before HEADERS on stream \(id)")
        case .receiving:
            if stream.kind == .unary, stream.messagesReceived > 1 {
                return self.streamViolation(id, in: &open, "a second response MESSAGE on unary stream \(id)")
            }
            self.state = .open(open)
            return [.deliverMessage(stream.call, payload, wireLength: wireLength)]
        }
    }

    private mutating func receivedTrailers(_ id: StreamID, _ trailers: Trailers) -> [Action] {
        guard case .open(var open) = self.state else { return [] }
        if let violation = self.checkOpened(id, in: open, frame: "TRAILERS") { return violation }
        guard let stream = open.streams[id] else { return [] }
        self.state = .modifying
        open.streams[id] = nil
        open.streamOfCall[stream.call] = nil
        var actions: [Action] = []
        if stream.phase != .cancelled {
            if Self.isRefusedUnprocessed(trailers), stream.phase == .awaitingHeaders, stream.messagesReceived == 0 {
                // Section 5.4: refused at once, not processed, and it MAY be retried. A server that
                // frees a slot only after its TRAILERS are out can refuse a client that counts right.
                actions.append(.retry(stream.call, .server(trailers)))
            } else if trailers.status.code == .ok, stream.kind == .unary, stream.messagesReceived == 0 {
                actions.append(
                    .fail(
                        stream.call,
                        .streamViolation(
                            FlexClientError.LocalReason.protocolError,
                            "unary stream \(id) ended OK without a response"
                        ),
                        discardBuffered: true
                    )
                )
            } else {
                actions.append(.finish(stream.call, trailers))
            }
        }
        self.openQueuedStreams(&open, into: &actions)
        self.finishIfIdle(&open, into: &actions)
        return actions
    }

    private mutating func receivedWindowUpdate(_ id: StreamID, increment: UInt32) -> [Action] {
        guard case .open(var open) = self.state else { return [] }
        if let violation = self.checkOpened(id, in: open, frame: "WINDOW_UPDATE") { return violation }
        guard var stream = open.streams[id] else { return [] }
        let window = stream.sendWindow + Int(increment)
        guard window <= Int(ProtocolDefaults.maxWindowSize) else {
            return self.protocolViolation(
                FlexCodecError(
                    code: .invalidFramePayload,
                    message: "WINDOW_UPDATE pushes stream \(id)'s window to \(window), over 2^31-1"
                ),
                errorCode: FlexClientError.LocalReason.flowControlError
            )
        }
        self.state = .modifying
        stream.sendWindow = window
        open.streams[id] = stream
        self.state = .open(open)
        return []
    }

    // MARK: - Helpers

    /// TRAILERS `RESOURCE_EXHAUSTED` `too_many_streams` (this connection's stream limit) or
    /// `server_busy` (the server's limit of calls in flight): the server refused the stream
    /// unprocessed, before any provider saw it.
    static func isRefusedUnprocessed(_ trailers: Trailers) -> Bool {
        trailers.status.code == .resourceExhausted
            && (trailers.status.errorCode == "too_many_streams" || trailers.status.errorCode == "server_busy")
    }

    private static let queueFull = FlexClientError.local(
        .resourceExhausted,
        FlexClientError.LocalReason.tooManyPendingCalls,
        "too many calls are waiting for a stream on this connection",
        isSafeToRetry: true
    )

    /// Section 5.1: a stream frame for an id the client never opened is a connection error.
    private mutating func checkOpened(_ id: StreamID, in open: Open, frame: String) -> [Action]? {
        guard id.rawValue > open.highestOpened else { return nil }
        return self.protocolViolation(
            FlexCodecError(code: .invalidStreamID, message: "\(frame) on stream \(id), which the client never opened")
        )
    }

    /// A protocol violation with an `error_code` the codec has no error for (flow control).
    private mutating func protocolViolation(_ error: FlexCodecError, errorCode: String) -> [Action] {
        var actions = self.protocolViolation(error)
        for index in actions.indices {
            switch actions[index] {
            case .write(.goAway(var goAway)):
                goAway.errorCode = errorCode
                actions[index] = .write(.goAway(goAway))
            case .fail(let call, var failure, let discard):
                failure.status.errorCode = errorCode
                actions[index] = .fail(call, failure, discardBuffered: discard)
            default:
                break
            }
        }
        return actions
    }

    /// A per-stream rule broken by the server: that call fails and is cancelled; the connection
    /// and its other calls carry on (section 9, "stream error").
    private mutating func streamViolation(_ id: StreamID, in open: inout Open, _ message: String) -> [Action] {
        self.state = .modifying
        guard let stream = open.streams[id] else {
            self.state = .open(open)
            return []
        }
        open.streams[id]!.phase = .cancelled
        open.streamOfCall[stream.call] = nil
        var actions: [Action] = [
            .write(.cancel(id, Cancel(code: .cancelled, reason: "protocol violation: \(message)"))),
            .fail(
                stream.call,
                .streamViolation(FlexClientError.LocalReason.protocolError, message),
                discardBuffered: true
            ),
        ]
        self.finishIfIdle(&open, into: &actions)
        return actions
    }

    /// The handler found a MESSAGE that does not decode as the method's response (a stream error,
    /// section 9.2): cancel the call.
    mutating func undecodableMessage(_ id: StreamID, _ error: FlexCodecError) -> [Action] {
        guard case .open(var open) = self.state, let stream = open.streams[id], stream.phase != .cancelled else {
            return []
        }
        self.state = .modifying
        open.streams[id]!.phase = .cancelled
        open.streamOfCall[stream.call] = nil
        var actions: [Action] = [
            .write(.cancel(id, Cancel(code: .cancelled, reason: "invalid message from the server"))),
            .fail(stream.call, .streamViolation(error.errorCode.name, error.message), discardBuffered: true),
        ]
        self.finishIfIdle(&open, into: &actions)
        return actions
    }

    /// Opens queued calls while stream slots and ids are free. Leaves the state in `.open`.
    private mutating func openQueuedStreams(_ open: inout Open, into actions: inout [Action]) {
        defer { self.state = .open(open) }
        // Not gated on `accepting`: a client closing gracefully still opens the calls it queued
        // (a drain or running out of ids empties the queue instead).
        while !open.queue.isEmpty, open.streams.count < open.negotiated.peerLimits.maxConcurrentStreams {
            guard let id = open.ids.nextID(), id.rawValue <= self.configuration.lastUsableStreamID else {
                // Ids used up: this connection finishes its streams; new calls go elsewhere.
                open.accepting = false
                open.closeWhenIdle = true
                actions += self.stopAccepting()
                actions += open.queue.map { .reroute($0.call) }
                open.queue.removeAll()
                return
            }
            let queued = open.queue.removeFirst()
            open.highestOpened = id.rawValue
            open.streams[id] = Stream(
                call: queued.call,
                kind: queued.kind,
                sendWindow: open.negotiated.peerLimits.initialWindowSize,
                receiveWindow: open.negotiated.localLimits.initialWindowSize
            )
            open.streamOfCall[queued.call] = id
            // The send window starts at the server's initial_window_size, at least 1 (0 in HELLO
            // means the 1 MiB default), so the one request MESSAGE can always go out at once.
            actions.append(.openStream(queued.call, id))
        }
    }

    /// Closes the connection once it is draining (or closing) and has nothing left to do.
    private mutating func finishIfIdle(_ open: inout Open, into actions: inout [Action]) {
        guard open.closeWhenIdle, open.isIdle else {
            self.state = .open(open)
            return
        }
        self.state = .closed
        actions += self.stopAccepting()
        if open.goAway == nil {
            // Section 11, "Client": GOAWAY (OK, last_stream_id 0), then close.
            actions.append(.write(.goAway(GoAway(lastStreamID: .connection, code: .ok, message: "client closing"))))
        }
        actions.append(.close)
    }

    private mutating func stopAccepting() -> [Action] {
        guard !self.announcedStopAccepting else { return [] }
        self.announcedStopAccepting = true
        return [.stopAccepting]
    }
}
