@testable import FlexRouter
import Testing

/// The flex budget's timer: a wait ends at its deadline, never before, or at the signal, which
/// frees the timer at once (a cancelled `Task.sleep` keeps its wake-up until the deadline).
@Suite struct DeadlineSignalTests {
    @Test func endsAtItsDeadlineNotBefore() async {
        let deadline = ContinuousClock.now + .milliseconds(50)
        await DeadlineSignal.sleep(until: deadline)
        #expect(ContinuousClock.now >= deadline)
        #expect(!Task.isCancelled)
    }

    @Test func aDeadlineInThePastEndsAtOnce() async {
        let live = DeadlineSignal.LiveCount()
        await DeadlineSignal.sleep(until: .now - .seconds(1), live: live)
        #expect(await Self.eventuallyNone(live))
    }

    @Test func cancelledWaitsEndAndHoldNothing() async {
        let hour = ContinuousClock.now + .seconds(3600)
        let live = DeadlineSignal.LiveCount()
        let waits = (0..<1_000).map { _ in
            Task {
                await DeadlineSignal.sleep(until: hour, live: live)
                return Task.isCancelled
            }
        }
        // Cancel some before they arm and some while they wait.
        for wait in waits { wait.cancel() }
        for wait in waits { #expect(await wait.value) }
        #expect(await Self.eventuallyNone(live), "\(live.value) delays still hold a timer")
    }

    @Test func cancellingAWaitingTaskEndsItsWait() async throws {
        let live = DeadlineSignal.LiveCount()
        let wait = Task { await DeadlineSignal.sleep(until: .now + .seconds(3600), live: live) }
        // Cancel it once it is waiting (its signal exists), not before it has started.
        for _ in 0..<200 {
            if live.value > 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(live.value == 1, "the task never began to wait")
        wait.cancel()
        await wait.value
        #expect(await Self.eventuallyNone(live))
    }

    /// Polls (the timer's handler block is released on Dispatch's queue after the cancel).
    private static func eventuallyNone(_ live: DeadlineSignal.LiveCount) async -> Bool {
        for _ in 0..<200 {
            if live.value == 0 { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func theSignalWinsBeforeTheDeadline() async throws {
        let signal = DeadlineSignal()
        let wait = Task { await signal.wait(until: .now + .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(20))
        signal.signal()
        #expect(await wait.value == false, "the signal came first")
        signal.signal()  // a second signal changes nothing
    }

    @Test func aSignalBeforeTheWaitEndsItAtOnce() async {
        let signal = DeadlineSignal()
        signal.signal()
        #expect(await signal.wait(until: .now + .seconds(3600)) == false)
    }

    @Test func theDeadlineWinsWithoutASignal() async {
        let signal = DeadlineSignal()
        let deadline = ContinuousClock.now + .milliseconds(30)
        #expect(await signal.wait(until: deadline) == true)
        #expect(ContinuousClock.now >= deadline)
        signal.signal()  // too late: nothing happens
    }
}
