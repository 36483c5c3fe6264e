import FlexCatalog
import FlexCore
import FlexSim
import Foundation
import NIOCore
import Testing

@Suite struct RequestLifecycleTests {
    @Test func refusedIsNotBilled() {
        var lifecycle = RequestLifecycle()
        let result1 = lifecycle.refuse()
        #expect(result1 == .notBilled(reason: "refused_capacity"))
        let result2 = lifecycle.start()
        #expect(result2 == false)
        let result3 = lifecycle.cancel()
        #expect(result3 == nil)
    }

    @Test func cancelledWhileQueuedIsNotBilled() {
        var lifecycle = RequestLifecycle()
        let result4 = lifecycle.queue()
        #expect(result4)
        let result5 = lifecycle.cancel()
        #expect(result5 == .notBilled(reason: "cancelled_before_start"))
        #expect(lifecycle.state == .cancelled(afterStart: false, outputTokens: 0))
        let result6 = lifecycle.complete(totalOutputTokens: 5)
        #expect(result6 == nil)
    }

    @Test func cancelledAfterStartBillsOutputSoFar() {
        var lifecycle = RequestLifecycle()
        lifecycle.queue()
        let result7 = lifecycle.start()
        #expect(result7)
        lifecycle.emit(3)
        lifecycle.emit(4)
        let result8 = lifecycle.cancel()
        #expect(result8 == .billed(outputTokens: 7, reason: "cancelled_after_start"))
        #expect(lifecycle.isFinished)
    }

    @Test func completedBillsEverythingOnce() {
        var lifecycle = RequestLifecycle()
        lifecycle.queue()
        lifecycle.start()
        lifecycle.emit(2)
        let result9 = lifecycle.complete(totalOutputTokens: 10)
        #expect(result9 == .billed(outputTokens: 10, reason: "completed"))
        let result10 = lifecycle.cancel()
        #expect(result10 == nil)
        let result11 = lifecycle.emit(1)
        #expect(result11 == false)
    }

    @Test func transitionsOutOfOrderAreRefused() {
        var lifecycle = RequestLifecycle()
        let result12 = lifecycle.start()  // must queue first
        #expect(result12 == false)
        let result13 = lifecycle.complete(totalOutputTokens: 1)
        #expect(result13 == nil)
        lifecycle.queue()
        let result14 = lifecycle.queue()
        #expect(result14 == false)
        let result15 = lifecycle.emit(1)  // nothing before start
        #expect(result15 == false)
    }
}
