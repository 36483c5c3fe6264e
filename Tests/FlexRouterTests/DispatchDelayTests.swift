@testable import FlexRouter
import Testing

/// The flex budget's wait: it ends at its deadline, never before, and a cancelled wait ends at
/// once and frees its timer (a cancelled `Task.sleep` keeps its wake-up until the deadline).
@Suite struct DispatchDelayTests {
    @Test func endsAtItsDeadlineNotBefore() async {
        let deadline = ContinuousClock.now + .milliseconds(50)
        await DispatchDelay.wait(until: deadline)
        #expect(ContinuousClock.now >= deadline)
        #expect(!Task.isCancelled)
    }

    @Test func aDeadlineInThePastEndsAtOnce() async {
        let live = DispatchDelay.LiveCount()
        await DispatchDelay.wait(until: .now - .seconds(1), live: live)
        #expect(await Self.eventuallyNone(live))
    }

    @Test func cancelledWaitsEndAndHoldNothing() async {
        let hour = ContinuousClock.now + .seconds(3600)
        let live = DispatchDelay.LiveCount()
        let waits = (0..<1_000).map { _ in
            Task {
                await DispatchDelay.wait(until: hour, live: live)
                return Task.isCancelled
            }
        }
        // Cancel some before they arm and some while they wait.
        for wait in waits { wait.cancel() }
        for wait in waits { #expect(await wait.value) }
        #expect(await Self.eventuallyNone(live), "\(live.value) delays still hold a timer")
    }

    @Test func cancellingAWaitingTaskEndsItsWait() async throws {
        let live = DispatchDelay.LiveCount()
        let wait = Task { await DispatchDelay.wait(until: .now + .seconds(3600), live: live) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(live.value == 1)
        wait.cancel()
        await wait.value
        #expect(await Self.eventuallyNone(live))
    }

    /// Polls (the timer's handler block is released on Dispatch's queue after the cancel).
    private static func eventuallyNone(_ live: DispatchDelay.LiveCount) async -> Bool {
        for _ in 0..<200 {
            if live.value == 0 { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}
