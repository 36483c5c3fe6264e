import NIOCore
import Testing

@testable import FlexHTTP

/// The transfer state machine without I/O: waiters are plain strings, and each test reads like the
/// script of one transfer.
@Suite struct TransferStateMachineTests {
    typealias Machine = TransferStateMachine<String, String>

    static let head = HTTPResponseHead(
        status: 200,
        version: .http1_1,
        headers: [:],
        connection: .init(
            isReused: false,
            localAddress: "127.0.0.1",
            localPort: 1,
            remoteAddress: "127.0.0.1",
            remotePort: 2
        )
    )

    func streamingMachine(high: Int = 10, low: Int = 4) -> Machine {
        var machine = Machine(watermarks: .init(high: high, low: low))
        guard case .enqueue = machine.start(headWaiter: "head") else {
            Issue.record("start did not enqueue")
            return machine
        }
        let added = machine.curlWillAdd()
        #expect(added)
        #expect(machine.connectionReady() == .proceed)
        guard case .succeedHead("head", Self.head) = machine.headReceived(Self.head) else {
            Issue.record("head not delivered")
            return machine
        }
        return machine
    }

    func chunk(_ size: Int) -> ByteBuffer {
        ByteBuffer(repeating: 0x61, count: size)
    }

    // MARK: Happy path

    @Test func headThenBufferedBodyThenEnd() {
        var machine = self.streamingMachine()
        guard case .accept = machine.bodyReceived(self.chunk(3)) else { return #expect(Bool(false)) }
        guard case .accept = machine.bodyReceived(self.chunk(2)) else { return #expect(Bool(false)) }
        guard case .none = machine.transferCompleted(.success(())) else { return #expect(Bool(false)) }
        guard case .chunk(let first, requestResume: false) = machine.nextChunk() else { return #expect(Bool(false)) }
        #expect(first.readableBytes == 3)
        guard case .chunk(let second, requestResume: false) = machine.nextChunk() else { return #expect(Bool(false)) }
        #expect(second.readableBytes == 2)
        guard case .end(.success(nil)) = machine.nextChunk() else { return #expect(Bool(false)) }
        // After the end: nil again, and libcurl callbacks abort.
        guard case .end(.success(nil)) = machine.nextChunk() else { return #expect(Bool(false)) }
        guard case .abort = machine.bodyReceived(self.chunk(1)) else { return #expect(Bool(false)) }
    }

    @Test func bytesArrivingWhileAChunkIsQueuedJoinIt() {
        var machine = self.streamingMachine(high: 10, low: 4)
        let bytes: [UInt8] = [0x62, 0x63]
        // Nothing queued: the bytes need a chunk of their own.
        #expect(!bytes.withUnsafeBytes { machine.appendToQueuedChunk($0) })
        guard case .accept = machine.bodyReceived(self.chunk(3)) else { return #expect(Bool(false)) }
        #expect(bytes.withUnsafeBytes { machine.appendToQueuedChunk($0) })
        #expect(bytes.withUnsafeBytes { machine.appendToQueuedChunk($0) })
        guard case .chunk(let joined, requestResume: false) = machine.nextChunk() else { return #expect(Bool(false)) }
        #expect(Array(joined.readableBytesView) == [0x61, 0x61, 0x61, 0x62, 0x63, 0x62, 0x63])
        guard case .wait = machine.nextChunk() else { return #expect(Bool(false)) }
    }

    @Test func bytesJoinNoQueuedChunkPastTheHighWatermarkOrForAWaiter() {
        var machine = self.streamingMachine(high: 10, low: 4)
        let bytes: [UInt8] = [0x62]
        guard case .accept = machine.bodyReceived(self.chunk(10)) else { return #expect(Bool(false)) }
        // At the high watermark: bodyReceived decides (it pauses), the queue does not grow.
        #expect(!bytes.withUnsafeBytes { machine.appendToQueuedChunk($0) })
        guard case .pause = machine.bodyReceived(self.chunk(1)) else { return #expect(Bool(false)) }
        #expect(!bytes.withUnsafeBytes { machine.appendToQueuedChunk($0) })
        guard case .chunk(let first, requestResume: true) = machine.nextChunk() else { return #expect(Bool(false)) }
        #expect(first.readableBytes == 10)
        // A waiting consumer gets the next bytes delivered, not queued.
        guard case .wait = machine.nextChunk() else { return #expect(Bool(false)) }
        guard case .suspended = machine.waitForChunk("body") else { return #expect(Bool(false)) }
        #expect(!bytes.withUnsafeBytes { machine.appendToQueuedChunk($0) })
    }

    @Test func waitingConsumerGetsTheChunkDirectly() {
        var machine = self.streamingMachine()
        guard case .wait = machine.nextChunk() else { return #expect(Bool(false)) }
        guard case .suspended = machine.waitForChunk("body") else { return #expect(Bool(false)) }
        guard case .deliver("body", let delivered) = machine.bodyReceived(self.chunk(7)) else {
            return #expect(Bool(false))
        }
        #expect(delivered.readableBytes == 7)
        guard case .wait = machine.nextChunk() else { return #expect(Bool(false)) }
    }

    @Test func waitingConsumerGetsTheEndAndTheError() {
        var machine = self.streamingMachine()
        guard case .suspended = machine.waitForChunk("body") else { return #expect(Bool(false)) }
        let cut = HTTPClientError(code: .connectionClosed, message: "cut")
        guard case .finishBody("body", .failure(let error)) = machine.transferCompleted(.failure(cut)) else {
            return #expect(Bool(false))
        }
        #expect(error.code == .connectionClosed)
        guard case .end(.success(nil)) = machine.nextChunk() else { return #expect(Bool(false)) }
    }

    @Test func bufferedChunksComeBeforeTheErrorThatFollowedThem() {
        var machine = self.streamingMachine()
        _ = machine.bodyReceived(self.chunk(3))
        _ = machine.transferCompleted(.failure(HTTPClientError(code: .idleTimeout, message: "idle")))
        guard case .chunk = machine.nextChunk() else { return #expect(Bool(false)) }
        guard case .end(.failure(let error)) = machine.nextChunk() else { return #expect(Bool(false)) }
        #expect(error.code == .idleTimeout)
    }

    @Test func slowPathFindsDataThatArrivedMeanwhile() {
        var machine = self.streamingMachine()
        guard case .wait = machine.nextChunk() else { return #expect(Bool(false)) }
        _ = machine.bodyReceived(self.chunk(5))
        guard case .resume("body", .success(let chunk), requestResume: false) = machine.waitForChunk("body") else {
            return #expect(Bool(false))
        }
        #expect(chunk?.readableBytes == 5)
    }

    // MARK: Backpressure

    @Test func pausesAtTheHighWatermarkAndResumesAtTheLowOne() {
        var machine = self.streamingMachine(high: 10, low: 4)
        guard case .accept = machine.bodyReceived(self.chunk(6)) else { return #expect(Bool(false)) }
        guard case .accept = machine.bodyReceived(self.chunk(6)) else { return #expect(Bool(false)) }
        // 12 buffered >= 10: the next chunk is refused and the transfer pauses.
        guard case .pause = machine.bodyReceived(self.chunk(6)) else { return #expect(Bool(false)) }
        // Paused: libcurl would not deliver, but if it did, stay paused.
        guard case .pause = machine.bodyReceived(self.chunk(6)) else { return #expect(Bool(false)) }
        // Draining to 6 (> low 4): no resume yet.
        guard case .chunk(_, requestResume: false) = machine.nextChunk() else { return #expect(Bool(false)) }
        // Draining to 0 (<= 4): resume, once.
        guard case .chunk(_, requestResume: true) = machine.nextChunk() else { return #expect(Bool(false)) }
        guard case .wait = machine.nextChunk() else { return #expect(Bool(false)) }
        // The curl thread resumes; libcurl re-delivers the chunk it kept.
        let resumed = machine.curlResumed()
        #expect(resumed)
        let resumedAgain = machine.curlResumed()
        #expect(!resumedAgain)
        guard case .accept = machine.bodyReceived(self.chunk(6)) else { return #expect(Bool(false)) }
    }

    @Test func resumeIsRequestedFromTheSlowPathToo() {
        var machine = self.streamingMachine(high: 4, low: 0)
        _ = machine.bodyReceived(self.chunk(4))
        guard case .pause = machine.bodyReceived(self.chunk(4)) else { return #expect(Bool(false)) }
        guard case .resume(_, .success, requestResume: true) = machine.waitForChunk("body") else {
            return #expect(Bool(false))
        }
    }

    @Test func resumeAfterTheConsumerLeftIsIgnored() {
        var machine = self.streamingMachine(high: 4, low: 0)
        _ = machine.bodyReceived(self.chunk(4))
        _ = machine.bodyReceived(self.chunk(4))
        _ = machine.cancel()
        let resumedAfterCancel = machine.curlResumed()
        #expect(!resumedAfterCancel)
    }

    // MARK: Cancellation

    @Test func cancelBeforeStartFailsTheLaterStart() {
        var machine = Machine(watermarks: .init(high: 10, low: 4))
        let action = machine.cancel()
        #expect(action.failHead == nil && !action.abortTransfer)
        guard case .failHead("head", let error) = machine.start(headWaiter: "head") else { return #expect(Bool(false)) }
        #expect(error.code == .cancelled)
    }

    @Test func cancelWhileQueuedDoesNotAbortButIsNeverAdded() {
        var machine = Machine(watermarks: .init(high: 10, low: 4))
        _ = machine.start(headWaiter: "head")
        let action = machine.cancel()
        #expect(action.failHead == "head")
        #expect(!action.abortTransfer)
        let addedAfterCancel = machine.curlWillAdd()
        #expect(!addedAfterCancel)
    }

    @Test(arguments: [false, true])
    func cancelWhileConnectingOrAwaitingTheHeadAborts(connected: Bool) {
        var machine = Machine(watermarks: .init(high: 10, low: 4))
        _ = machine.start(headWaiter: "head")
        _ = machine.curlWillAdd()
        if connected {
            _ = machine.connectionReady()
        }
        let action = machine.cancel()
        #expect(action.failHead == "head")
        #expect(action.abortTransfer)
        // What libcurl does next is refused.
        #expect(machine.connectionReady() == .abort)
        guard case .abort = machine.headReceived(Self.head) else { return #expect(Bool(false)) }
        guard case .none = machine.transferCompleted(.failure(.cancelled)) else { return #expect(Bool(false)) }
    }

    @Test func cancelMidBodyWithAWaiter() {
        var machine = self.streamingMachine()
        _ = machine.waitForChunk("body")
        let action = machine.cancel()
        #expect(action.failBody == "body")
        #expect(action.abortTransfer)
        guard case .end(.success(nil)) = machine.nextChunk() else { return #expect(Bool(false)) }
        // A second cancel does nothing.
        let again = machine.cancel()
        #expect(again.failBody == nil && !again.abortTransfer)
    }

    @Test func cancelMidBodyWithoutAWaiterReportsOnTheNextCall() {
        var machine = self.streamingMachine()
        _ = machine.bodyReceived(self.chunk(3))
        let action = machine.cancel()
        #expect(action.failBody == nil)
        #expect(action.abortTransfer)
        guard case .abort = machine.bodyReceived(self.chunk(3)) else { return #expect(Bool(false)) }
        guard case .end(.failure(let error)) = machine.nextChunk() else { return #expect(Bool(false)) }
        #expect(error.code == .cancelled)
        guard case .end(.success(nil)) = machine.nextChunk() else { return #expect(Bool(false)) }
    }

    @Test func cancelAfterUpstreamCompletedNeedsNoAbort() {
        var machine = self.streamingMachine()
        _ = machine.bodyReceived(self.chunk(3))
        _ = machine.transferCompleted(.success(()))
        #expect(!machine.cancel().abortTransfer)
    }

    // MARK: Failures before the head

    @Test func failureBeforeTheHeadFailsTheHeadWaiter() {
        var machine = Machine(watermarks: .init(high: 10, low: 4))
        _ = machine.start(headWaiter: "head")
        _ = machine.curlWillAdd()
        let refused = HTTPClientError(code: .connectFailed, message: "refused")
        guard case .failHead("head", let error) = machine.transferCompleted(.failure(refused)) else {
            return #expect(Bool(false))
        }
        #expect(error.code == .connectFailed)
    }

    @Test func successWithoutAHeadIsAProtocolError() {
        var machine = Machine(watermarks: .init(high: 10, low: 4))
        _ = machine.start(headWaiter: "head")
        _ = machine.curlWillAdd()
        guard case .failHead(_, let error) = machine.transferCompleted(.success(())) else {
            return #expect(Bool(false))
        }
        #expect(error.code == .protocolError)
    }

    @Test func shutdownWhileQueuedFailsTheHeadWaiter() {
        var machine = Machine(watermarks: .init(high: 10, low: 4))
        _ = machine.start(headWaiter: "head")
        guard case .failHead("head", let error) = machine.transferCompleted(.failure(.shutdown)) else {
            return #expect(Bool(false))
        }
        #expect(error.code == .shutdown)
    }

    @Test func connectionReadyMayRepeatWhenLibcurlRetries() {
        var machine = Machine(watermarks: .init(high: 10, low: 4))
        _ = machine.start(headWaiter: "head")
        _ = machine.curlWillAdd()
        #expect(machine.connectionReady() == .proceed)
        #expect(machine.connectionReady() == .proceed)
    }

    // MARK: Misuse

    @Test func secondConcurrentIteratorGetsAnError() {
        var machine = self.streamingMachine()
        guard case .suspended = machine.waitForChunk("first") else { return #expect(Bool(false)) }
        guard case .resume("second", .failure(let error), _) = machine.waitForChunk("second") else {
            return #expect(Bool(false))
        }
        #expect(error.code == .internalError)
        guard case .end(.failure) = machine.nextChunk() else { return #expect(Bool(false)) }
        // The first waiter is still served.
        guard case .deliver("first", _) = machine.bodyReceived(self.chunk(1)) else { return #expect(Bool(false)) }
    }
}
