import FlexCodec
import NIOCore
import Testing

@testable import FlexClient

/// The connection state machine without I/O: every event in, the exact actions out.
@Suite struct ConnectionStateMachineTests {
    typealias Action = ConnectionStateMachine.Action

    static let offered = Hello(
        versions: [1],
        compression: [.lz4],
        limits: Limits(maxMessageSize: 1 << 20, initialWindowSize: 100),
        agent: "test"
    )

    static func machine(
        maxQueued: Int = 10,
        lastID: UInt32 = StreamID.max.rawValue,
        keepaliveWithoutCalls: Bool = false
    ) -> ConnectionStateMachine {
        ConnectionStateMachine(
            configuration: .init(
                hello: offered,
                maxQueuedCalls: maxQueued,
                keepaliveWithoutCalls: keepaliveWithoutCalls,
                lastUsableStreamID: lastID
            )
        )
    }

    static func serverHello(maxStreams: UInt32 = 0, window: UInt32 = 0, compression: [Compression] = [.lz4]) -> Hello {
        Hello(
            versions: [1],
            compression: compression,
            limits: Limits(maxConcurrentStreams: maxStreams, initialWindowSize: window)
        )
    }

    /// A machine past the handshake, with the server's limits.
    static func open(
        maxStreams: UInt32 = 0,
        window: UInt32 = 0,
        lastID: UInt32 = StreamID.max.rawValue
    ) -> ConnectionStateMachine {
        var machine = self.machine(lastID: lastID)
        _ = machine.connected()
        _ = machine.receivedHello(self.serverHello(maxStreams: maxStreams, window: window))
        return machine
    }

    static func call(_ n: UInt64) -> CallID { CallID(rawValue: n) }

    static func failure(in actions: [Action], for call: CallID) -> FlexClientError? {
        for action in actions {
            if case .fail(call, let error, _) = action { return error }
        }
        return nil
    }

    static func goAway(in actions: [Action]) -> GoAway? {
        for action in actions {
            if case .write(.goAway(let goAway)) = action { return goAway }
        }
        return nil
    }

    // MARK: - Handshake

    @Test func callsWaitForTheServersHelloThenOpenInOrder() {
        var machine = Self.machine()
        #expect(machine.startCall(Self.call(1), kind: .unary).isEmpty)
        #expect(machine.connected() == [.sendHello(Self.offered)])
        #expect(machine.startCall(Self.call(2), kind: .streaming).isEmpty)
        #expect(machine.counts.queuedCalls == 2)
        let actions = machine.receivedHello(Self.serverHello())
        guard case .configure(let negotiated) = actions.first else {
            Issue.record("expected configure first, got \(actions)")
            return
        }
        #expect(negotiated.compression == .lz4)
        #expect(negotiated.localLimits.initialWindowSize == 100)
        #expect(negotiated.peerLimits.maxConcurrentStreams == 100)
        #expect(Array(actions.dropFirst()) == [.openStream(Self.call(1), 1), .openStream(Self.call(2), 2)])
        #expect(machine.counts == (2, 0))
    }

    @Test func serverChoosingNoCompressionIsAccepted() {
        var machine = Self.machine()
        _ = machine.connected()
        let actions = machine.receivedHello(Self.serverHello(compression: []))
        #expect(actions.first == .configure(machine.negotiated!))
        #expect(machine.negotiated?.compression == Compression.none)
    }

    @Test(arguments: [
        Hello(versions: [2], compression: [.lz4]),
        Hello(versions: [1, 2], compression: [.lz4]),
        Hello(versions: [], compression: []),
    ])
    func aHelloWithAVersionNotOfferedFailsTheConnection(_ hello: Hello) {
        var machine = Self.machine()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.connected()
        let actions = machine.receivedHello(hello)
        let goAway = Self.goAway(in: actions)
        #expect(goAway?.errorCode == "unsupported_version")
        #expect(goAway?.code == .unimplemented)
        let error = Self.failure(in: actions, for: Self.call(1))
        #expect(error?.code == .unimplemented)
        #expect(error?.status.errorCode == "unsupported_version")
        #expect(actions.last == .close)
        #expect(actions.contains(.stopAccepting))
        #expect(machine.isClosed)
    }

    @Test func aHelloWithACompressionNotOfferedFailsTheConnection() {
        var machine = ConnectionStateMachine(
            configuration: .init(hello: Hello(versions: [1], compression: []), maxQueuedCalls: 10)
        )
        _ = machine.connected()
        let actions = machine.receivedHello(Self.serverHello(compression: [.lz4]))
        #expect(Self.goAway(in: actions)?.errorCode == "unsupported_version")
        #expect(machine.isClosed)
    }

    @Test func aHelloWithLimitsOutOfBoundsFailsTheConnection() {
        var machine = Self.machine()
        _ = machine.connected()
        let actions = machine.receivedHello(Hello(versions: [1], limits: Limits(maxMessageSize: 1000)))
        #expect(Self.goAway(in: actions)?.errorCode == "invalid_limits")
        #expect(machine.isClosed)
    }

    @Test func aGoAwayInsteadOfHelloFailsTheEndpointAndReroutesTheQueuedCalls() {
        var machine = Self.machine()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.connected()
        let actions = machine.received(
            .goAway(
                GoAway(
                    lastStreamID: 0,
                    code: .resourceExhausted,
                    message: "too many connections",
                    errorCode: "too_many_connections"
                )
            ),
            wireLength: 0
        )
        guard case .connectionFailed(let error) = actions[1] else {
            Issue.record("expected connectionFailed second, got \(actions)")
            return
        }
        #expect(error.code == .resourceExhausted)
        #expect(error.status.errorCode == "too_many_connections")
        #expect(error.origin == .goAway)
        #expect(Array(actions.suffix(2)) == [.reroute(Self.call(1)), .close])
    }

    @Test func handshakeTimeoutFailsTheEndpointAndReroutesQueuedCalls() {
        var machine = Self.machine()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.connected()
        let actions = machine.handshakeTimedOut()
        guard case .connectionFailed(let error) = actions[1] else {
            Issue.record("expected connectionFailed second, got \(actions)")
            return
        }
        #expect(error.status.errorCode == "handshake_timeout")
        #expect(error.isSafeToRetry)
        #expect(Array(actions.suffix(2)) == [.reroute(Self.call(1)), .close])
        #expect(machine.handshakeTimedOut().isEmpty)
    }

    @Test func connectFailureFailsTheEndpointBeforeReroutingQueuedCalls() {
        var machine = Self.machine()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.startCall(Self.call(2), kind: .streaming)
        let error = FlexClientError.local(.unavailable, "connection_failed", "refused")
        let actions = machine.connectFailed(error)
        #expect(
            actions == [.stopAccepting, .connectionFailed(error), .reroute(Self.call(1)), .reroute(Self.call(2))]
        )
    }

    @Test func aConnectionClosedDuringTheHandshakeFailsTheEndpoint() {
        var machine = Self.machine()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.connected()
        let actions = machine.channelClosed()
        guard actions.count == 3, case .connectionFailed(let error) = actions[1] else {
            Issue.record("expected stopAccepting, connectionFailed, reroute; got \(actions)")
            return
        }
        #expect(error.status.errorCode == "connection_closed")
        #expect(actions[2] == .reroute(Self.call(1)))
    }

    @Test func slotsCountTheGuessBeforeTheHelloAndTheServersLimitAfter() {
        var machine = Self.machine()
        #expect(machine.availableSlots() == ProtocolDefaults.maxConcurrentStreams)
        _ = machine.startCall(Self.call(1), kind: .unary)
        #expect(machine.availableSlots() == ProtocolDefaults.maxConcurrentStreams - 1)
        #expect(machine.availableSlots(expectedLimit: 4) == 3)
        _ = machine.connected()
        _ = machine.receivedHello(Self.serverHello(maxStreams: 3))
        #expect(machine.availableSlots() == 2)
        _ = machine.startCall(Self.call(2), kind: .unary)
        _ = machine.startCall(Self.call(3), kind: .unary)
        _ = machine.startCall(Self.call(4), kind: .unary)
        #expect(machine.availableSlots() == 0)
        #expect(machine.counts == (openStreams: 3, queuedCalls: 1))
        _ = machine.close(graceful: true, error: FlexClient.closedError)
        #expect(machine.availableSlots() == 0)
    }

    @Test func aStreamRefusedBecauseTheServerIsBusyIsRetried() {
        var machine = Self.open(maxStreams: 2)
        _ = machine.startCall(Self.call(1), kind: .unary)
        let busy = Trailers(status: Status(code: .resourceExhausted, message: "busy", errorCode: "server_busy"))
        let actions = machine.received(.trailers(1, busy), wireLength: 0)
        #expect(actions == [.retry(Self.call(1), .server(busy))])
        #expect(FlexClientError.server(busy).isSafeToRetry)
    }

    // MARK: - Concurrency

    @Test func callsBeyondMaxConcurrentStreamsWaitForAFreeSlot() {
        var machine = Self.open(maxStreams: 2)
        #expect(machine.startCall(Self.call(1), kind: .unary) == [.openStream(Self.call(1), 1)])
        #expect(machine.startCall(Self.call(2), kind: .unary) == [.openStream(Self.call(2), 2)])
        #expect(machine.startCall(Self.call(3), kind: .unary).isEmpty)
        #expect(machine.counts == (2, 1))
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        _ = machine.received(.message(1, ByteBuffer(string: "x"), endStream: false), wireLength: 1)
        let actions = machine.received(.trailers(1, Trailers(status: .ok)), wireLength: 0)
        #expect(actions == [.finish(Self.call(1), Trailers(status: .ok)), .openStream(Self.call(3), 3)])
    }

    @Test func aStreamRefusedWithTooManyStreamsIsRetriedAndFreesItsSlot() {
        var machine = Self.open(maxStreams: 1)
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.startCall(Self.call(2), kind: .unary)
        let refusal = Trailers(status: Status(code: .resourceExhausted, errorCode: "too_many_streams"))
        let actions = machine.received(.trailers(1, refusal), wireLength: 0)
        #expect(actions == [.retry(Self.call(1), .server(refusal)), .openStream(Self.call(2), 2)])
        #expect(FlexClientError.server(refusal).isSafeToRetry)
        // Once the server answered (HEADERS), the same status is the call's end, not a retry.
        _ = machine.received(.responseHeaders(2, ResponseHeaders()), wireLength: 0)
        #expect(machine.received(.trailers(2, refusal), wireLength: 0) == [.finish(Self.call(2), refusal)])
    }

    @Test func aCancelledStreamHoldsItsSlotUntilItsTrailers() {
        var machine = Self.open(maxStreams: 1)
        _ = machine.startCall(Self.call(1), kind: .streaming)
        _ = machine.startCall(Self.call(2), kind: .streaming)
        let cancel = machine.cancel(Self.call(1), error: FlexClient.cancelledError)
        #expect(
            cancel.contains(.write(.cancel(1, Cancel(code: .cancelled, reason: FlexClient.cancelledError.message))))
        )
        #expect(Self.failure(in: cancel, for: Self.call(1))?.code == .cancelled)
        #expect(machine.counts == (1, 1))
        // A MESSAGE that crossed the CANCEL is dropped; the TRAILERS free the slot.
        #expect(machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0).isEmpty)
        #expect(machine.received(.message(1, ByteBuffer(string: "late"), endStream: false), wireLength: 4).isEmpty)
        let trailers = machine.received(.trailers(1, Trailers(status: Status(code: .cancelled))), wireLength: 0)
        #expect(trailers == [.openStream(Self.call(2), 2)])
    }

    @Test func cancellingAQueuedCallSendsNothing() {
        var machine = Self.open(maxStreams: 1)
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.startCall(Self.call(2), kind: .unary)
        let actions = machine.cancel(Self.call(2), error: FlexClient.deadlineError)
        #expect(actions == [.fail(Self.call(2), FlexClient.deadlineError, discardBuffered: true)])
        #expect(machine.counts == (1, 0))
    }

    @Test func aDeadlineSendsCancelWithDeadlineExceeded() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .unary)
        let actions = machine.cancel(Self.call(1), error: FlexClient.deadlineError)
        #expect(
            actions.first
                == .write(.cancel(1, Cancel(code: .deadlineExceeded, reason: FlexClient.deadlineError.message)))
        )
        #expect(Self.failure(in: actions, for: Self.call(1))?.code == .deadlineExceeded)
        // A second cancel (the timer and the task together) does nothing.
        #expect(machine.cancel(Self.call(1), error: FlexClient.cancelledError).isEmpty)
    }

    @Test func theQueueIsBounded() {
        var machine = Self.machine(maxQueued: 2)
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.startCall(Self.call(2), kind: .unary)
        let actions = machine.startCall(Self.call(3), kind: .unary)
        #expect(Self.failure(in: actions, for: Self.call(3))?.status.errorCode == "too_many_pending_calls")
        #expect(Self.failure(in: actions, for: Self.call(3))?.code == .resourceExhausted)
    }

    @Test func runningOutOfStreamIDsMovesNewCallsToAnotherConnection() {
        var machine = Self.open(lastID: 2)
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.startCall(Self.call(2), kind: .unary)
        let actions = machine.startCall(Self.call(3), kind: .unary)
        #expect(actions == [.stopAccepting, .reroute(Self.call(3))])
        #expect(!machine.isAccepting)
        #expect(machine.startCall(Self.call(4), kind: .unary) == [.reroute(Self.call(4))])
        // The connection closes once its streams are done.
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        _ = machine.received(.message(1, ByteBuffer(string: "r"), endStream: false), wireLength: 1)
        #expect(
            machine.received(.trailers(1, Trailers(status: .ok)), wireLength: 0).last
                == .finish(Self.call(1), Trailers(status: .ok))
        )
        let last = machine.received(.trailers(2, Trailers(status: Status(code: .internal))), wireLength: 0)
        #expect(last.last == .close)
        #expect(Self.goAway(in: last) == GoAway(lastStreamID: 0, code: .ok, message: "client closing"))
    }

    // MARK: - Per-stream rules

    @Test func aUnaryCallDeliversHeadersMessageAndTrailers() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(7), kind: .unary)
        let metadata = ResponseHeaders(metadata: ["x": "y"])
        #expect(
            machine.received(.responseHeaders(1, metadata), wireLength: 0) == [.deliverHeaders(Self.call(7), metadata)]
        )
        let payload = ByteBuffer(string: "payload")
        #expect(
            machine.received(.message(1, payload, endStream: false), wireLength: 7) == [
                .deliverMessage(Self.call(7), payload, wireLength: 7)
            ]
        )
        let trailers = Trailers(status: .ok, savings: SavingsRecord(requestID: "r"))
        #expect(machine.received(.trailers(1, trailers), wireLength: 0) == [.finish(Self.call(7), trailers)])
        #expect(machine.counts == (0, 0))
    }

    @Test func aFailedCallMayEndWithoutHeadersOrMessages() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .unary)
        let trailers = Trailers(status: Status(code: .invalidArgument, errorCode: "missing_start_within"))
        #expect(machine.received(.trailers(1, trailers), wireLength: 0) == [.finish(Self.call(1), trailers)])
    }

    @Test func aUnaryCallEndingOKWithoutAResponseFails() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        let actions = machine.received(.trailers(1, Trailers(status: .ok)), wireLength: 0)
        #expect(Self.failure(in: actions, for: Self.call(1))?.code == .internal)
        #expect(Self.failure(in: actions, for: Self.call(1))?.status.errorCode == "protocol_error")
    }

    @Test func aMessageBeforeHeadersIsAStreamError() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .streaming)
        _ = machine.startCall(Self.call(2), kind: .streaming)
        let actions = machine.received(.message(1, ByteBuffer(string: "x"), endStream: false), wireLength: 1)
        #expect(
            actions.first
                == .write(
                    .cancel(
                        1,
                        Cancel(code: .cancelled, reason: "protocol violation: MESSAGE before HEADERS on stream 1")
                    )
                )
        )
        #expect(Self.failure(in: actions, for: Self.call(1))?.status.errorCode == "protocol_error")
        #expect(!actions.contains(.close))
        // The other call carries on.
        #expect(
            machine.received(.responseHeaders(2, ResponseHeaders()), wireLength: 0) == [
                .deliverHeaders(Self.call(2), ResponseHeaders())
            ]
        )
    }

    @Test func aSecondResponseOnAUnaryCallIsAStreamError() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        _ = machine.received(.message(1, ByteBuffer(string: "a"), endStream: false), wireLength: 1)
        let actions = machine.received(.message(1, ByteBuffer(string: "b"), endStream: false), wireLength: 1)
        #expect(Self.failure(in: actions, for: Self.call(1))?.code == .internal)
        #expect(actions.contains { if case .write(.cancel(1, _)) = $0 { true } else { false } })
    }

    @Test func aSecondHeadersIsAStreamError() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .streaming)
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        let actions = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        #expect(Self.failure(in: actions, for: Self.call(1))?.status.errorCode == "protocol_error")
    }

    @Test func anUndecodableMessageCancelsTheCall() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .streaming)
        let actions = machine.undecodableMessage(1, FlexCodecError(code: .invalidProtobuf, message: "bad"))
        #expect(
            actions.first == .write(.cancel(1, Cancel(code: .cancelled, reason: "invalid message from the server")))
        )
        #expect(Self.failure(in: actions, for: Self.call(1))?.status.errorCode == "invalid_message")
    }

    @Test(arguments: [
        FlexFrame.responseHeaders(5, ResponseHeaders()),
        FlexFrame.message(5, ByteBuffer(string: "x"), endStream: false),
        FlexFrame.trailers(5, Trailers(status: .ok)),
        FlexFrame.windowUpdate(5, increment: 1),
    ])
    func aFrameOnAStreamNeverOpenedIsAConnectionError(_ frame: FlexFrame) {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .streaming)
        let actions = machine.received(frame, wireLength: 1)
        #expect(Self.goAway(in: actions)?.errorCode == "protocol_error")
        #expect(Self.goAway(in: actions)?.code == .internal)
        #expect(Self.failure(in: actions, for: Self.call(1))?.status.errorCode == "protocol_error")
        #expect(actions.last == .close)
    }

    @Test(arguments: [
        FlexFrame.responseHeaders(1, ResponseHeaders()),
        FlexFrame.message(1, ByteBuffer(string: "x"), endStream: false),
        FlexFrame.trailers(1, Trailers(status: .ok)),
        FlexFrame.windowUpdate(1, increment: 1),
    ])
    func aFrameOnAClosedStreamIsIgnored(_ frame: FlexFrame) {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .streaming)
        _ = machine.received(.trailers(1, Trailers(status: Status(code: .unavailable))), wireLength: 0)
        _ = machine.startCall(Self.call(2), kind: .streaming)
        #expect(machine.received(frame, wireLength: 1).isEmpty)
        #expect(!machine.isClosed)
    }

    // MARK: - Flow control

    @Test func theServerMaySendWhileTheWindowIsPositiveAndNoFurther() {
        var machine = Self.open()  // the client's window is 100 bytes
        _ = machine.startCall(Self.call(1), kind: .streaming)
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        let first = ByteBuffer(repeating: 1, count: 60)
        #expect(
            machine.received(.message(1, first, endStream: false), wireLength: 60) == [
                .deliverMessage(Self.call(1), first, wireLength: 60)
            ]
        )
        // 40 left: one more message may be sent, even larger than that.
        let second = ByteBuffer(repeating: 2, count: 70)
        #expect(
            machine.received(.message(1, second, endStream: false), wireLength: 70) == [
                .deliverMessage(Self.call(1), second, wireLength: 70)
            ]
        )
        // The window is now -30: anything more is a connection error.
        let actions = machine.received(.message(1, ByteBuffer(repeating: 3, count: 1), endStream: false), wireLength: 1)
        #expect(Self.goAway(in: actions)?.errorCode == "flow_control_error")
        #expect(Self.failure(in: actions, for: Self.call(1))?.status.errorCode == "flow_control_error")
        #expect(actions.last == .close)
    }

    @Test func consumingReturnsCreditOnceHalfTheWindowIsRead() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .streaming)
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        _ = machine.received(.message(1, ByteBuffer(repeating: 1, count: 60), endStream: false), wireLength: 60)
        _ = machine.received(.message(1, ByteBuffer(repeating: 1, count: 70), endStream: false), wireLength: 70)
        #expect(machine.consumed(1, wireLength: 30).isEmpty)
        #expect(machine.consumed(1, wireLength: 30) == [.write(.windowUpdate(1, increment: 60))])
        // Window: -30 + 60 = 30 > 0, so the server may send again.
        let third = ByteBuffer(repeating: 3, count: 10)
        #expect(
            machine.received(.message(1, third, endStream: false), wireLength: 10) == [
                .deliverMessage(Self.call(1), third, wireLength: 10)
            ]
        )
        #expect(machine.consumed(1, wireLength: 70) == [.write(.windowUpdate(1, increment: 70))])
    }

    @Test func noCreditIsReturnedForAStreamThatEnded() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .streaming)
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        _ = machine.received(.message(1, ByteBuffer(repeating: 1, count: 90), endStream: false), wireLength: 90)
        _ = machine.received(.trailers(1, Trailers(status: .ok)), wireLength: 0)
        #expect(machine.consumed(1, wireLength: 90).isEmpty)
    }

    @Test func aWindowUpdatePushingTheSendWindowOver2To31IsAConnectionError() {
        var machine = Self.open(window: 1000)
        _ = machine.startCall(Self.call(1), kind: .unary)
        machine.requestSent(1, wireLength: 10)
        #expect(machine.received(.windowUpdate(1, increment: 10), wireLength: 4).isEmpty)
        let actions = machine.received(.windowUpdate(1, increment: ProtocolDefaults.maxWindowSize), wireLength: 4)
        #expect(Self.goAway(in: actions)?.errorCode == "flow_control_error")
        #expect(machine.isClosed)
    }

    // MARK: - Ping

    @Test func pingsAreAnswered() {
        var machine = Self.open()
        #expect(machine.received(.ping(42, ack: false), wireLength: 8) == [.write(.ping(42, ack: true))])
        #expect(machine.received(.ping(42, ack: true), wireLength: 8).isEmpty)
    }

    @Test func anUnansweredKeepaliveClosesTheConnection() {
        var machine = Self.open()
        #expect(machine.keepaliveTick(data: 1).isEmpty)  // no call open, not permitted without calls
        _ = machine.startCall(Self.call(1), kind: .streaming)
        #expect(machine.keepaliveTick(data: 1) == [.write(.ping(1, ack: false))])
        #expect(machine.keepaliveTick(data: 2).isEmpty)  // one outstanding at a time
        _ = machine.received(.ping(1, ack: true), wireLength: 8)
        #expect(machine.keepaliveTimedOut(data: 1).isEmpty)  // answered
        #expect(machine.keepaliveTick(data: 3) == [.write(.ping(3, ack: false))])
        let actions = machine.keepaliveTimedOut(data: 3)
        #expect(Self.goAway(in: actions)?.errorCode == "keepalive_timeout")
        #expect(Self.failure(in: actions, for: Self.call(1))?.status.errorCode == "keepalive_timeout")
        #expect(Self.failure(in: actions, for: Self.call(1))?.code == .unavailable)
        #expect(actions.last == .close)
    }

    @Test func keepaliveWithoutCallsWhenPermitted() {
        var machine = Self.machine(keepaliveWithoutCalls: true)
        _ = machine.connected()
        _ = machine.receivedHello(Self.serverHello())
        #expect(machine.keepaliveTick(data: 9) == [.write(.ping(9, ack: false))])
    }

    // MARK: - GOAWAY and closing

    @Test func aGracefulGoAwayRetriesStreamsAboveLastStreamIDAndFinishesTheRest() {
        var machine = Self.open(maxStreams: 2)
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.startCall(Self.call(2), kind: .unary)
        _ = machine.startCall(Self.call(3), kind: .unary)  // queued
        let goAway = GoAway(lastStreamID: 1, code: .ok, message: "draining", errorCode: "server_shutting_down")
        let actions = machine.received(.goAway(goAway), wireLength: 0)
        #expect(actions.first == .stopAccepting)
        guard case .retry(Self.call(2), let error) = actions[1] else {
            Issue.record("expected a retry of call 2, got \(actions)")
            return
        }
        #expect(error.code == .unavailable && error.isSafeToRetry && error.status.errorCode == "server_shutting_down")
        #expect(actions[2] == .reroute(Self.call(3)))
        #expect(actions.count == 3)
        #expect(!machine.isAccepting)
        #expect(machine.startCall(Self.call(4), kind: .unary) == [.reroute(Self.call(4))])
        // Stream 1 finishes normally, then the connection closes (no client GOAWAY: it is the server's drain).
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        _ = machine.received(.message(1, ByteBuffer(string: "r"), endStream: false), wireLength: 1)
        #expect(
            machine.received(.trailers(1, Trailers(status: .ok)), wireLength: 0) == [
                .finish(Self.call(1), Trailers(status: .ok)), .close,
            ]
        )
    }

    @Test func anErrorGoAwayFailsEveryStreamAndCloses() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.startCall(Self.call(2), kind: .unary)
        let goAway = GoAway(lastStreamID: 1, code: .internal, message: "bug", errorCode: "protocol_error")
        let actions = machine.received(.goAway(goAway), wireLength: 0)
        guard case .retry(Self.call(2), _) = actions[1] else {
            Issue.record("expected call 2 to be retried: \(actions)")
            return
        }
        let error = Self.failure(in: actions, for: Self.call(1))
        #expect(error?.code == .internal && error?.origin == .goAway && error?.isSafeToRetry == false)
        #expect(actions.last == .close)
        #expect(machine.isClosed)
    }

    @Test func aLostConnectionFailsOpenCallsAndReroutesQueuedOnes() {
        var machine = Self.open(maxStreams: 1)
        _ = machine.startCall(Self.call(1), kind: .streaming)
        _ = machine.startCall(Self.call(2), kind: .streaming)
        let actions = machine.channelClosed()
        #expect(actions.first == .stopAccepting)
        let error = Self.failure(in: actions, for: Self.call(1))
        #expect(
            error?.code == .unavailable && error?.status.errorCode == "connection_closed"
                && error?.isSafeToRetry == false
        )
        #expect(actions.last == .reroute(Self.call(2)))
        #expect(machine.channelClosed().isEmpty)
    }

    @Test func aGracefulCloseWaitsForOpenCallsThenSaysGoAway() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .unary)
        #expect(machine.close(graceful: true, error: FlexClient.closedError) == [.stopAccepting])
        _ = machine.received(.responseHeaders(1, ResponseHeaders()), wireLength: 0)
        _ = machine.received(.message(1, ByteBuffer(string: "r"), endStream: false), wireLength: 1)
        let actions = machine.received(.trailers(1, Trailers(status: .ok)), wireLength: 0)
        #expect(
            actions == [
                .finish(Self.call(1), Trailers(status: .ok)),
                .write(.goAway(GoAway(lastStreamID: 0, code: .ok, message: "client closing"))),
                .close,
            ]
        )
    }

    @Test func aGracefulCloseDuringTheHandshakeStillRunsQueuedCalls() {
        var machine = Self.machine()
        _ = machine.startCall(Self.call(1), kind: .unary)
        _ = machine.connected()
        _ = machine.close(graceful: true, error: FlexClient.closedError)
        let actions = machine.receivedHello(Self.serverHello())
        #expect(actions.contains(.openStream(Self.call(1), 1)))
        #expect(!actions.contains(.close))
    }

    @Test func aGracefulCloseOfAnIdleConnectionInItsHandshakeClosesAtOnce() {
        var machine = Self.machine()
        _ = machine.connected()
        #expect(machine.close(graceful: true, error: FlexClient.closedError) == [.stopAccepting, .close])
        #expect(machine.isClosed)
    }

    @Test func callsBeyondALowerLimitInTheServersHelloGoBackToTheClient() {
        var machine = Self.machine()
        for n in 1...3 { _ = machine.startCall(Self.call(UInt64(n)), kind: .unary) }
        _ = machine.connected()
        let actions = machine.receivedHello(Self.serverHello(maxStreams: 2))
        #expect(actions.contains(.openStream(Self.call(1), 1)))
        #expect(actions.contains(.openStream(Self.call(2), 2)))
        #expect(actions.last == .reroute(Self.call(3)))
        #expect(machine.counts == (openStreams: 2, queuedCalls: 0))
    }

    @Test func aGracefulCloseOfAnIdleConnectionThatIsStillConnectingJustCloses() {
        var machine = Self.machine()
        _ = machine.close(graceful: true, error: FlexClient.closedError)
        #expect(machine.connected() == [.close])
    }

    @Test func anImmediateCloseCancelsOpenCalls() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .streaming)
        let actions = machine.close(graceful: false, error: FlexClient.closedError)
        #expect(actions.contains(.write(.cancel(1, Cancel(code: .cancelled, reason: "client closing")))))
        #expect(Self.failure(in: actions, for: Self.call(1)) == FlexClient.closedError)
        #expect(actions.last == .close)
    }

    @Test func aDecoderErrorSendsGoAwayWithItsCodeAndFailsEverything() {
        var machine = Self.open()
        _ = machine.startCall(Self.call(1), kind: .unary)
        let actions = machine.protocolViolation(FlexCodecError(code: .frameTooLarge, message: "too big"))
        #expect(
            Self.goAway(in: actions)
                == GoAway(lastStreamID: 0, code: .resourceExhausted, message: "too big", errorCode: "frame_too_large")
        )
        #expect(Self.failure(in: actions, for: Self.call(1))?.status.errorCode == "frame_too_large")
        #expect(actions.last == .close)
        #expect(machine.protocolViolation(FlexCodecError(code: .frameTooLarge, message: "again")).isEmpty)
    }
}
