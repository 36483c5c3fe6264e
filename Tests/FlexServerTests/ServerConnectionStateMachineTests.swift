import FlexCodec
import NIOCore
import Testing

@testable import FlexServer

/// The connection's protocol state without I/O: each test is a script of frames and the actions
/// they must produce.
@Suite("ServerConnectionStateMachine")
struct ServerConnectionStateMachineTests {
    static let complete = RequestHeaders(method: RequestHeaders.Method.complete)
    static let payload = ByteBuffer(string: "request")

    func active(maxStreams: Int = 100) -> ServerConnectionStateMachine {
        var limits = ResolvedLimits.defaults
        limits.maxConcurrentStreams = maxStreams
        var machine = ServerConnectionStateMachine(configuration: .init(limits: limits, maxPingsWithoutCalls: 3))
        guard case .sendHello = machine.receive(.hello(Hello(versions: [1], compression: [.lz4]))) else {
            Issue.record("HELLO must be answered")
            return machine
        }
        return machine
    }

    @Test func helloIsAnsweredAndABadOneClosesTheConnection() {
        var machine = ServerConnectionStateMachine()
        guard
            case .sendHello(let reply, let negotiated) = machine.receive(
                .hello(Hello(versions: [1, 2], compression: [.lz4]))
            )
        else {
            Issue.record("expected a HELLO answer")
            return
        }
        #expect(reply.versions == [1] && negotiated.compression == .lz4)
        #expect(machine.negotiated != nil)

        var refused = ServerConnectionStateMachine()
        guard case .close(let goAway?) = refused.receive(.hello(Hello(versions: [9]))) else {
            Issue.record("an unsupported version closes the connection")
            return
        }
        #expect(goAway.code == .unimplemented && goAway.errorCode == "unsupported_version")
        #expect(refused.isClosed)
    }

    @Test func aCallStartsWhenItsRequestArrivesAndEndsWithCallFinished() {
        var machine = self.active()
        #expect(machine.receive(.requestHeaders(1, Self.complete)) == .awaitRequest(1, Self.complete))
        #expect(machine.openStreams == [1])
        #expect(
            machine.receive(.message(1, Self.payload, endStream: true)) == .startCall(1, Self.complete, Self.payload)
        )
        #expect(machine.receive(.windowUpdate(1, increment: 10)) == .credit(1, 10))
        #expect(machine.callFinished(1) == .none)
        #expect(machine.openStreams.isEmpty)
        // Late frames for the finished stream are ignored.
        #expect(machine.receive(.windowUpdate(1, increment: 10)) == .none)
        #expect(machine.receive(.cancel(1, Cancel())) == .none)
    }

    @Test func oneRequestPerCall() {
        var machine = self.active()
        _ = machine.receive(.requestHeaders(1, Self.complete))
        guard case .refuse(1, let status) = machine.receive(.message(1, Self.payload, endStream: false)) else {
            Issue.record("a request without END_STREAM is refused")
            return
        }
        #expect(status.errorCode == "invalid_message")
        _ = machine.receive(.requestHeaders(3, Self.complete))
        _ = machine.receive(.message(3, Self.payload, endStream: true))
        guard case .cancelCall(3, let second) = machine.receive(.message(3, Self.payload, endStream: true)) else {
            Issue.record("a second request stops the running call")
            return
        }
        #expect(second.code == .invalidArgument)
    }

    @Test func unknownMethodsAndTooManyStreamsAreRefused() {
        var machine = self.active(maxStreams: 1)
        guard case .refuse(1, let unknown) = machine.receive(.requestHeaders(1, RequestHeaders(method: "x/y"))) else {
            Issue.record("unknown method")
            return
        }
        #expect(unknown.code == .unimplemented)
        #expect(machine.receive(.requestHeaders(3, Self.complete)) == .awaitRequest(3, Self.complete))
        guard case .refuse(5, let busy) = machine.receive(.requestHeaders(5, Self.complete)) else {
            Issue.record("the second concurrent stream is refused")
            return
        }
        #expect(busy.errorCode == "too_many_streams")
        _ = machine.callFinished(3)
        #expect(machine.receive(.requestHeaders(7, Self.complete)) == .awaitRequest(7, Self.complete), "room again")
    }

    /// A client may open its next call as soon as it reads the last one's trailers, which can
    /// reach it before the server's own bookkeeping has run: the slot is free once the trailers
    /// are on their way (found by flexload: `too_many_streams` under load at the stream limit).
    @Test func aClosingCallNoLongerCountsAgainstTheLimit() {
        var machine = self.active(maxStreams: 1)
        _ = machine.receive(.requestHeaders(1, Self.complete))
        _ = machine.receive(.message(1, Self.payload, endStream: true))
        machine.callClosing(1)
        #expect(
            machine.receive(.requestHeaders(3, Self.complete)) == .awaitRequest(3, Self.complete),
            "room as soon as the trailers are on their way"
        )
        #expect(
            machine.receive(.cancel(1, Cancel(code: .cancelled))) == .none,
            "a cancel crossing the trailers is ignored"
        )
        #expect(machine.receive(.message(1, Self.payload, endStream: true)) == .none)
        _ = machine.callFinished(1)
        guard case .refuse(5, let busy) = machine.receive(.requestHeaders(5, Self.complete)) else {
            Issue.record("call 3 still holds the only slot: finishing call 1 must not free a second one")
            return
        }
        #expect(busy.errorCode == "too_many_streams")
        machine.callClosing(3)
        machine.callClosing(3)
        _ = machine.callFinished(3)
        #expect(machine.receive(.requestHeaders(7, Self.complete)) == .awaitRequest(7, Self.complete))
        guard case .refuse(9, _) = machine.receive(.requestHeaders(9, Self.complete)) else {
            Issue.record("closing a call twice must not free two slots")
            return
        }
    }

    @Test func cancelBeforeAndAfterTheRequest() {
        var machine = self.active()
        _ = machine.receive(.requestHeaders(1, Self.complete))
        guard case .refuse(1, let early) = machine.receive(.cancel(1, Cancel(code: .cancelled))) else {
            Issue.record("a cancel before the request ends the stream at once")
            return
        }
        #expect(early.code == .cancelled)
        _ = machine.receive(.requestHeaders(3, Self.complete))
        _ = machine.receive(.message(3, Self.payload, endStream: true))
        guard case .cancelCall(3, let running) = machine.receive(.cancel(3, Cancel(code: .deadlineExceeded))) else {
            Issue.record("a cancel stops a running call")
            return
        }
        // PROTOCOL.md 5.6: a CANCEL is answered CANCELLED whatever its code.
        #expect(running.code == .cancelled && running.errorCode == "cancelled")
        #expect(running.message.contains("deadline"))
    }

    @Test func aRequestThatDoesNotComeEndsTheStreamAndFreesItsSlot() {
        var machine = self.active(maxStreams: 1)
        #expect(machine.receive(.requestHeaders(1, Self.complete)) == .awaitRequest(1, Self.complete))
        #expect(machine.streamsAwaitingRequest == [1])
        guard case .refuse(3, _) = machine.receive(.requestHeaders(3, Self.complete)) else {
            Issue.record("the stream waiting for its request holds the only slot")
            return
        }
        let late = Status(.requestTimeout, "late")
        #expect(machine.requestNotReceived(1, late) == .refuse(1, late))
        #expect(machine.requestNotReceived(1, late) == .none, "once")
        #expect(machine.streamsAwaitingRequest.isEmpty)
        #expect(machine.receive(.requestHeaders(5, Self.complete)) == .awaitRequest(5, Self.complete), "slot free")
        #expect(machine.receive(.message(1, Self.payload, endStream: true)) == .none, "the late MESSAGE is ignored")
        _ = machine.receive(.message(5, Self.payload, endStream: true))
        #expect(machine.requestNotReceived(5, late) == .none, "a running call is not ended by the request timer")
    }

    @Test func aHalfClosedClientsCallsFinishThenTheConnectionCloses() {
        var machine = self.active()
        _ = machine.receive(.requestHeaders(1, Self.complete))
        _ = machine.receive(.message(1, Self.payload, endStream: true))
        _ = machine.receive(.requestHeaders(3, Self.complete))
        let closed = Status(.invalidMessage, "closed")
        #expect(machine.streamsAwaitingRequest == [3])
        #expect(machine.requestNotReceived(3, closed) == .refuse(3, closed))
        #expect(machine.closeIfDrained() == .none)
        #expect(machine.inputClosed() == .none, "call 1 still runs")
        #expect(machine.receive(.requestHeaders(5, Self.complete)) == .none, "no call opens once input closed")
        #expect(!machine.isClosed)
        machine.callClosing(1)
        #expect(machine.callFinished(1) == .close(nil))
        #expect(machine.isClosed)

        var idle = self.active()
        #expect(idle.inputClosed() == .close(nil), "nothing open: close at once")
        var fresh = ServerConnectionStateMachine()
        #expect(fresh.inputClosed() == .close(nil), "before HELLO: close")
    }

    @Test func pingsAreAnsweredUntilTheyAreAbusive() {
        var machine = self.active()
        for data: UInt64 in 1...3 { #expect(machine.receive(.ping(data, ack: false)) == .pong(data)) }
        #expect(machine.receive(.ping(9, ack: true)) == .none)
        guard case .close(let goAway?) = machine.receive(.ping(4, ack: false)) else {
            Issue.record("the fourth ping without a call closes the connection")
            return
        }
        #expect(goAway.errorCode == "too_many_pings")
    }

    @Test func drainSendsGoAwayFinishesOpenCallsIgnoresNewOnesThenCloses() {
        var machine = self.active()
        _ = machine.receive(.requestHeaders(1, Self.complete))
        _ = machine.receive(.message(1, Self.payload, endStream: true))
        _ = machine.receive(.requestHeaders(3, Self.complete))
        _ = machine.receive(.message(3, Self.payload, endStream: true))
        #expect(
            machine.beginDrain()
                == .sendGoAway(
                    GoAway(
                        lastStreamID: 3,
                        code: .ok,
                        message: "the server is shutting down",
                        errorCode: "server_shutting_down"
                    )
                )
        )
        #expect(machine.beginDrain() == .none)
        #expect(machine.receive(.requestHeaders(5, Self.complete)) == .none, "streams after the GOAWAY are ignored")
        #expect(machine.openStreams.sorted() == [1, 3])
        #expect(machine.callFinished(1) == .none)
        guard case .close(nil) = machine.callFinished(3) else {
            Issue.record("the last call's end closes a draining connection")
            return
        }
        #expect(machine.isClosed)
    }

    @Test func drainingAnIdleConnectionClosesItAtOnce() {
        var machine = self.active()
        guard case .close(let goAway?) = machine.beginDrain() else {
            Issue.record("no call open: close now")
            return
        }
        #expect(goAway.code == .ok)
        var fresh = ServerConnectionStateMachine()
        guard case .close = fresh.beginDrain() else {
            Issue.record("before HELLO: close now")
            return
        }
    }

    @Test func failSendsOneGoAwayWithTheHighestStream() {
        var machine = self.active()
        _ = machine.receive(.requestHeaders(7, Self.complete))
        #expect(
            machine.fail(ConnectionError(.flowControlError, "m"))
                == .close(GoAway(lastStreamID: 7, code: .internal, message: "m", errorCode: "flow_control_error"))
        )
        #expect(machine.fail(ConnectionError(.protocolError, "again")) == .none)
        #expect(machine.receive(.ping(1, ack: false)) == .none)
    }
}

@Suite("SendWindow")
struct SendWindowTests {
    @Test func sendsWhilePositiveThenWaitsForCredit() throws {
        var window = SendWindow(initial: 100)
        #expect(window.isOpen)
        window.take(150)  // allowed: the window was positive
        #expect(window.available == -50 && !window.isOpen)
        try window.credit(40)  // -10: still not positive
        #expect(!window.isOpen)
        try window.credit(20)
        #expect(window.isOpen && window.available == 10)
    }

    @Test func creditPastTheMaximumIsAnOverflow() {
        var window = SendWindow(initial: Int(Int32.max) - 5)
        #expect(throws: SendWindow.Overflow.self) { try window.credit(10) }
        #expect(window.available == Int(Int32.max) - 5, "an overflowing credit changes nothing")
    }
}
