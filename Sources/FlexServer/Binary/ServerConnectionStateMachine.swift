public import FlexCodec
public import NIOCore

/// One client connection's protocol state (PROTOCOL.md sections 4–6, 10, 11), as a pure state
/// machine: the connection's reading task feeds it every decoded frame and every call's end, and
/// carries out the ``Action`` it returns. Frame-level validity (preface, header fields, HELLO first,
/// increasing stream ids) is already checked by `FrameDecoder`; this machine owns what needs the
/// state of each call.
///
/// ```
///   awaitingHello --HELLO ok--> active --beginDrain--> draining --last call ends--> closed
///         |                       |                        |
///         +--bad HELLO----------> closed <--protocol error-+ (GOAWAY sent)
/// ```
///
/// A stream lives from its HEADERS until its call ends (``callFinished(_:)``): `awaitingRequest`
/// until the request MESSAGE (with END_STREAM) arrives, then `running`. A stream whose request
/// does not come in time, or whose client closes its side first, is ended
/// (``requestNotReceived(_:_:)``). A client's half-close (``inputClosed()``) lets the running
/// calls finish, like a drain without GOAWAY.
public struct ServerConnectionStateMachine: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// What the server announces in HELLO and enforces.
        public var limits: ResolvedLimits
        /// Compression algorithms offered (`[.lz4]` or `[]`).
        public var compression: [Compression]
        /// Pings tolerated without a call in between before the connection is closed as abusive.
        public var maxPingsWithoutCalls: Int
        public var agent: String

        public init(
            limits: ResolvedLimits = .defaults,
            compression: [Compression] = [.lz4],
            maxPingsWithoutCalls: Int = 1000,
            agent: String = "flexd"
        ) {
            self.limits = limits
            self.compression = compression
            self.maxPingsWithoutCalls = maxPingsWithoutCalls
            self.agent = agent
        }
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Answer the client's HELLO; from now on encode and decode with `negotiated`.
        case sendHello(Hello, NegotiatedConnection)
        /// A stream is open and its request MESSAGE is due: bound the wait (the call's deadline
        /// counts from now, its HEADERS).
        case awaitRequest(StreamID, RequestHeaders)
        /// The request of a call is complete: run it.
        case startCall(StreamID, RequestHeaders, ByteBuffer)
        /// Stop a running call; its trailers say `status`.
        case cancelCall(StreamID, Status)
        /// End a stream that never ran (refused, or cancelled before its request) with TRAILERS.
        case refuse(StreamID, Status)
        /// Answer a PING.
        case pong(UInt64)
        /// Give a running call's send window more credit.
        case credit(StreamID, UInt32)
        /// Send GOAWAY (a graceful drain: calls up to its last stream id still finish).
        case sendGoAway(GoAway)
        /// Send GOAWAY if given, then close the connection.
        case close(GoAway?)
    }

    private enum State: Sendable {
        case awaitingHello
        case active(Active)
        case draining(Active)
        case closed
        /// Only inside a transition, while it holds the connection's `Active` state: so that its
        /// stream table has one owner and is changed in place, not copied on every frame.
        case modifying
    }

    private struct Active: Sendable {
        var negotiated: NegotiatedConnection
        var streams: [StreamID: Stream] = [:]
        /// The highest stream id opened (its HEADERS processed).
        var highest: StreamID = .connection
        var pingsSinceLastCall = 0
        /// Streams whose trailers are being written: no longer counted against the limit, so a
        /// client that opens a call the moment it reads the trailers is never refused.
        var closing = 0

        mutating func remove(_ id: StreamID) {
            if case .closing? = self.streams.removeValue(forKey: id) { self.closing -= 1 }
        }
    }

    private enum Stream: Sendable {
        case awaitingRequest(RequestHeaders)
        case running
        /// The call's trailers are on their way out.
        case closing
    }

    private var state: State = .awaitingHello
    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    // MARK: Events

    /// A frame from the client.
    public mutating func receive(_ frame: FlexFrame) -> Action {
        switch self.state {
        case .awaitingHello:
            return self.receiveFirst(frame)
        case .active(var active):
            self.state = .modifying
            let action = self.receive(frame, active: &active, draining: false)
            if case .closed = self.state { return action }
            self.state = .active(active)
            return action
        case .draining(var active):
            self.state = .modifying
            let action = self.receive(frame, active: &active, draining: true)
            if case .closed = self.state { return action }
            if active.streams.isEmpty {
                self.state = .closed
                return action == .none ? .close(nil) : action
            }
            self.state = .draining(active)
            return action
        case .closed:
            return .none
        case .modifying:
            Self.unreachable()
        }
    }

    /// A call is about to write its trailers: its slot is free from now on (the client may open
    /// the next call as soon as it reads them), though the stream stays known until
    /// ``callFinished(_:)``.
    public mutating func callClosing(_ id: StreamID) {
        switch self.state {
        case .active(var active):
            guard case .running? = active.streams[id] else { return }
            self.state = .modifying
            active.streams[id] = .closing
            active.closing += 1
            self.state = .active(active)
        case .draining(var active):
            guard case .running? = active.streams[id] else { return }
            self.state = .modifying
            active.streams[id] = .closing
            active.closing += 1
            self.state = .draining(active)
        case .awaitingHello, .closed:
            return
        case .modifying:
            Self.unreachable()
        }
    }

    /// A call ended (its trailers were sent, or the connection is going away).
    public mutating func callFinished(_ id: StreamID) -> Action {
        switch self.state {
        case .active(var active):
            self.state = .modifying
            active.remove(id)
            self.state = .active(active)
            return .none
        case .draining(var active):
            self.state = .modifying
            active.remove(id)
            if active.streams.isEmpty {
                self.state = .closed
                return .close(nil)
            }
            self.state = .draining(active)
            return .none
        case .awaitingHello, .closed:
            return .none
        case .modifying:
            Self.unreachable()
        }
    }

    /// A stream's request MESSAGE did not come (its wait ran out, or the client closed its side of
    /// the connection): the stream ends with `status` and frees its slot.
    public mutating func requestNotReceived(_ id: StreamID, _ status: Status) -> Action {
        switch self.state {
        case .active(var active):
            guard case .awaitingRequest? = active.streams[id] else { return .none }
            self.state = .modifying
            active.streams[id] = nil
            self.state = .active(active)
            return .refuse(id, status)
        case .draining(var active):
            guard case .awaitingRequest? = active.streams[id] else { return .none }
            self.state = .modifying
            active.streams[id] = nil
            self.state = .draining(active)
            return .refuse(id, status)
        case .awaitingHello, .closed:
            return .none
        case .modifying:
            Self.unreachable()
        }
    }

    /// After a stream was refused: a draining connection with nothing left open closes.
    public mutating func closeIfDrained() -> Action {
        guard case .draining(let active) = self.state, active.streams.isEmpty else { return .none }
        self.state = .closed
        return .close(nil)
    }

    /// The client closed its side of the connection (a TCP half-close): it sends nothing more, so
    /// no call opens; the calls that run finish and are answered, then the connection closes.
    /// Streams still waiting for their request are ended first (``requestNotReceived(_:_:)``).
    public mutating func inputClosed() -> Action {
        switch self.state {
        case .awaitingHello:
            self.state = .closed
            return .close(nil)
        case .active(let active), .draining(let active):
            if active.streams.isEmpty {
                self.state = .closed
                return .close(nil)
            }
            self.state = .draining(active)
            return .none
        case .closed:
            return .none
        case .modifying:
            Self.unreachable()
        }
    }

    /// The streams opened by HEADERS whose request MESSAGE has not arrived.
    public var streamsAwaitingRequest: [StreamID] {
        switch self.state {
        case .active(let active), .draining(let active):
            active.streams.compactMap { id, stream in
                if case .awaitingRequest = stream { return id }
                return nil
            }
        case .awaitingHello, .closed: []
        case .modifying: Self.unreachable()
        }
    }

    /// Starts a graceful drain: GOAWAY with the highest stream id received; calls up to it finish;
    /// the connection closes when the last one has.
    public mutating func beginDrain() -> Action {
        switch self.state {
        case .awaitingHello:
            self.state = .closed
            return .close(WireErrors.drain(lastStreamID: .connection))
        case .active(let active):
            let goAway = WireErrors.drain(lastStreamID: active.highest)
            if active.streams.isEmpty {
                self.state = .closed
                return .close(goAway)
            }
            self.state = .draining(active)
            return .sendGoAway(goAway)
        case .draining, .closed:
            return .none
        case .modifying:
            Self.unreachable()
        }
    }

    /// A connection error (a decoding error, a flow-control violation, a timeout): GOAWAY and close.
    public mutating func fail(_ error: ConnectionError) -> Action {
        let last: StreamID
        switch self.state {
        case .active(let active), .draining(let active): last = active.highest
        case .awaitingHello, .closed: last = .connection
        case .modifying: Self.unreachable()
        }
        if case .closed = self.state { return .none }
        self.state = .closed
        return .close(error.goAway(lastStreamID: last))
    }

    /// The streams whose calls are still running or awaiting their request.
    public var openStreams: [StreamID] {
        switch self.state {
        case .active(let active), .draining(let active): Array(active.streams.keys)
        case .awaitingHello, .closed: []
        case .modifying: Self.unreachable()
        }
    }

    /// How many streams are open (``openStreams``' count, without building it).
    public var openStreamCount: Int {
        switch self.state {
        case .active(let active), .draining(let active): active.streams.count
        case .awaitingHello, .closed: 0
        case .modifying: Self.unreachable()
        }
    }

    public var isClosed: Bool {
        if case .closed = self.state { return true }
        return false
    }

    /// What the handshake settled, once it has.
    public var negotiated: NegotiatedConnection? {
        switch self.state {
        case .active(let active), .draining(let active): active.negotiated
        case .awaitingHello, .closed: nil
        case .modifying: Self.unreachable()
        }
    }

    /// `modifying` outside a transition: a bug in this type, never the peer's doing.
    private static func unreachable() -> Never {
        preconditionFailure("ServerConnectionStateMachine: read in the middle of a transition")
    }

    // MARK: Transitions

    private mutating func receiveFirst(_ frame: FlexFrame) -> Action {
        switch frame {
        case .hello(let hello):
            do {
                let (reply, negotiated) = try Handshake.answer(
                    hello,
                    limits: self.configuration.limits,
                    compression: self.configuration.compression,
                    agent: self.configuration.agent
                )
                self.state = .active(Active(negotiated: negotiated))
                return .sendHello(reply, negotiated)
            } catch {
                self.state = .closed
                return .close(error.goAway(lastStreamID: .connection))
            }
        case .goAway:
            self.state = .closed
            return .close(nil)
        default:
            // FrameDecoder lets nothing else through before HELLO.
            self.state = .closed
            return .close(WireErrors.helloFirst.goAway(lastStreamID: .connection))
        }
    }

    private mutating func receive(_ frame: FlexFrame, active: inout Active, draining: Bool) -> Action {
        switch frame {
        case .requestHeaders(let id, let headers):
            // Streams opened after a GOAWAY were not processed: their frames are ignored.
            if draining { return .none }
            active.highest = max(active.highest, id)
            active.pingsSinceLastCall = 0
            guard headers.method == RequestHeaders.Method.complete || headers.method == RequestHeaders.Method.stream
            else {
                return .refuse(id, WireErrors.unknownMethod(headers.method))
            }
            guard active.streams.count - active.closing < self.configuration.limits.maxConcurrentStreams else {
                return .refuse(id, WireErrors.tooManyStreams(limit: self.configuration.limits.maxConcurrentStreams))
            }
            active.streams[id] = .awaitingRequest(headers)
            return .awaitRequest(id, headers)

        case .message(let id, let payload, let endStream):
            switch active.streams[id] {
            case .awaitingRequest(let headers)?:
                guard endStream else {
                    active.streams[id] = nil
                    return .refuse(id, WireErrors.requestWithoutEndStream)
                }
                active.streams[id] = .running
                return .startCall(id, headers, payload)
            case .running?:
                return .cancelCall(id, WireErrors.secondRequest)
            case .closing?, nil:
                // A stream this side closed (refused, finished): the frames crossed on the wire.
                return .none
            }

        case .cancel(let id, let cancel):
            let status = WireErrors.cancelled(by: cancel)
            switch active.streams[id] {
            case .running?:
                return .cancelCall(id, status)
            case .awaitingRequest?:
                active.streams[id] = nil
                return .refuse(id, status)
            case .closing?, nil:
                return .none
            }

        case .ping(let data, let ack):
            if ack { return .none }
            active.pingsSinceLastCall += 1
            if active.pingsSinceLastCall > self.configuration.maxPingsWithoutCalls {
                self.state = .closed
                return .close(
                    WireErrors.tooManyPings(limit: self.configuration.maxPingsWithoutCalls).goAway(
                        lastStreamID: active.highest
                    )
                )
            }
            return .pong(data)

        case .windowUpdate(let id, let increment):
            guard case .running? = active.streams[id] else { return .none }
            return .credit(id, increment)

        case .goAway:
            // The client opens no more calls; its open calls finish normally.
            return .none

        case .hello, .responseHeaders, .trailers:
            // FrameDecoder rejects these from a client (second HELLO, server-only frames).
            self.state = .closed
            return .close(WireErrors.unexpectedFrame(frame.type).goAway(lastStreamID: active.highest))
        }
    }
}
