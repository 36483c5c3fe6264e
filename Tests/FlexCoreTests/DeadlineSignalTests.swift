import FlexCore
import NIOPosix
import Synchronization
import Testing

/// The deadline service: a wait (or an armed action) ends at its deadline, never before, or at the
/// signal, which frees the timer at once (a cancelled `Task.sleep` keeps its wake-up until the
/// deadline).
@Suite struct DeadlineSignalTests {
    /// One deadline service for the tests that do not need their own.
    static let shared = DeadlineTimers(on: MultiThreadedEventLoopGroup.singleton.next())

    @Test func endsAtItsDeadlineNotBefore() async {
        let deadline = ContinuousClock.now + .milliseconds(50)
        await Self.shared.sleep(until: deadline)
        #expect(ContinuousClock.now >= deadline)
        #expect(!Task.isCancelled)
    }

    @Test func aDeadlineInThePastEndsAtOnce() async {
        let live = DeadlineSignal.LiveCount()
        await Self.shared.sleep(until: .now - .seconds(1), live: live)
        #expect(await Self.eventuallyNone(live))
    }

    @Test func cancelledWaitsEndAndHoldNothing() async {
        let hour = ContinuousClock.now + .seconds(3600)
        let live = DeadlineSignal.LiveCount()
        let waits = (0..<1_000).map { _ in
            Task {
                await Self.shared.sleep(until: hour, live: live)
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
        let wait = Task { await Self.shared.sleep(until: .now + .seconds(3600), live: live) }
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

    /// Polls (a signal is freed on the event loop after the cancel).
    private static func eventuallyNone(_ live: DeadlineSignal.LiveCount) async -> Bool {
        for _ in 0..<200 {
            if live.value == 0 { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func theSignalWinsBeforeTheDeadline() async throws {
        let signal = DeadlineSignal(timers: Self.shared)
        let wait = Task { await signal.wait(until: .now + .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(20))
        signal.signal()
        #expect(await wait.value == false, "the signal came first")
        signal.signal()  // a second signal changes nothing
    }

    @Test func aSignalBeforeTheWaitEndsItAtOnce() async {
        let signal = DeadlineSignal(timers: Self.shared)
        signal.signal()
        #expect(await signal.wait(until: .now + .seconds(3600)) == false)
    }

    @Test func theDeadlineWinsWithoutASignal() async {
        let signal = DeadlineSignal(timers: Self.shared)
        let deadline = ContinuousClock.now + .milliseconds(30)
        #expect(await signal.wait(until: deadline) == true)
        #expect(ContinuousClock.now >= deadline)
        signal.signal()  // too late: nothing happens
    }

    // MARK: An armed action (the flex budget cancelling its transfer)

    @Test func anArmedActionRunsAtTheDeadlineNotBefore() async {
        let signal = DeadlineSignal(timers: Self.shared)
        let ran = Flag()
        let deadline = ContinuousClock.now + .milliseconds(30)
        signal.arm(until: deadline) { ran.set(at: .now) }
        #expect(await ran.eventually(), "the action never ran")
        #expect(ran.time.map { $0 >= deadline } == true, "it ran before its deadline")
        #expect(signal.signal() == true, "a signal after the deadline says the deadline came first")
    }

    @Test func aSignalBeforeTheDeadlineKeepsTheActionFromRunning() async throws {
        let live = DeadlineSignal.LiveCount()
        let ran = Flag()
        do {
            let signal = DeadlineSignal(timers: Self.shared, live: live)
            signal.arm(until: .now + .milliseconds(50)) { ran.set(at: .now) }
            #expect(signal.signal() == false, "the signal came first")
            #expect(signal.signal() == false, "and a second signal says so again")
        }
        #expect(await Self.eventuallyNone(live), "the signal still holds its timer")
        // Past the deadline: a cancelled timer never fires.
        try await Task.sleep(for: .milliseconds(100))
        #expect(ran.time == nil)
    }

    @Test func aSignalBeforeArmingMeansTheActionNeverRuns() async throws {
        let ran = Flag()
        let signal = DeadlineSignal(timers: Self.shared)
        #expect(signal.signal() == false)
        signal.arm(until: .now - .seconds(1)) { ran.set(at: .now) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(ran.time == nil)
    }

    @Test func thousandsOfArmedAndSignalledTimersHoldNothing() async {
        let live = DeadlineSignal.LiveCount()
        let ran = Flag()
        for _ in 0..<1_000 {
            let signal = DeadlineSignal(timers: Self.shared, live: live)
            signal.arm(until: .now + .seconds(3600)) { ran.set(at: .now) }
            signal.signal()
        }
        #expect(await Self.eventuallyNone(live), "\(live.value) signals still hold a timer")
        #expect(ran.time == nil)
    }

    /// Signals share one timer: one armed after a later one must still fire at its own, earlier
    /// deadline (the timer is moved up), and the later one stays armed until its event.
    @Test func anEarlierDeadlineArmedAfterALaterOneFiresFirst() async {
        // A heap and timer of its own: no other test's deadline may fire the timer for it.
        let timers = DeadlineTimers(on: MultiThreadedEventLoopGroup.singleton.next())
        let live = DeadlineSignal.LiveCount()
        let late = Flag()
        let early = Flag()
        do {
            let later = DeadlineSignal(timers: timers, live: live)
            later.arm(until: .now + .seconds(3600)) { late.set(at: .now) }
            let sooner = DeadlineSignal(timers: timers, live: live)
            sooner.arm(until: .now + .milliseconds(50)) { early.set(at: .now) }
            #expect(await early.eventually(), "the earlier deadline never fired")
            #expect(late.time == nil)
            #expect(later.signal() == false)
        }
        #expect(await Self.eventuallyNone(live))
    }

    /// Hundreds of signals armed in shuffled order, a third of them signalled before their
    /// deadline (taken out of the middle of the heap): each of the others fires once, in deadline
    /// order, and nothing stays armed.
    @Test func manySignalsFireOnceInDeadlineOrder() async {
        let timers = DeadlineTimers(on: MultiThreadedEventLoopGroup.singleton.next())
        let live = DeadlineSignal.LiveCount()
        let fired = Mutex<[Int]>([])
        let start = ContinuousClock.now
        var generator = SystemRandomNumberGenerator()
        let offsets = (0..<300).map { $0 * 2 }.shuffled(using: &generator)
        var signalled = Set<Int>()
        do {
            var signals: [(Int, DeadlineSignal)] = []
            for offset in offsets {
                let signal = DeadlineSignal(timers: timers, live: live)
                signal.arm(until: start + .milliseconds(200 + offset)) { fired.withLock { $0.append(offset) } }
                signals.append((offset, signal))
            }
            for (offset, signal) in signals where offset % 3 == 0 {
                if signal.signal() == false { signalled.insert(offset) }
            }
        }
        // Bounded generously: the last deadline is 0.8 s away, and the machine may be busy.
        for _ in 0..<1_000 where live.value != 0 {
            try? await Task.sleep(for: .milliseconds(10))
        }
        #expect(live.value == 0, "\(live.value) signals still armed")
        let order = fired.withLock { $0 }
        #expect(order == order.sorted(), "fired out of deadline order")
        #expect(Set(order).count == order.count, "a signal fired twice")
        #expect(Set(order).union(signalled) == Set(offsets), "a signal neither fired nor was signalled")
        #expect(Set(order).isDisjoint(with: signalled))
        #expect(timers.count == 0)
    }

    /// Deadlines already passed, armed from many tasks at once, fire at once (the timer is set
    /// with no delay and may fire before the thread that set it has recorded it); a deadline
    /// armed after them, in the future, must still fire: a timer recorded after it fired would be
    /// thought set for ever, and no later deadline would set one again.
    @Test func aDeadlineArmedAfterPassedOnesStillFires() async {
        let timers = DeadlineTimers(on: MultiThreadedEventLoopGroup.singleton.next())
        for round in 0..<20 {
            let passed = DeadlineSignal.LiveCount()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        for _ in 0..<500 {
                            let signal = DeadlineSignal(timers: timers, live: passed)
                            signal.arm(until: .now) {}
                        }
                    }
                }
            }
            guard await Self.eventuallyNone(passed) else {
                Issue.record("round \(round): a passed deadline never fired")
                return
            }
            let later = Flag()
            let signal = DeadlineSignal(timers: timers)
            signal.arm(until: .now + .milliseconds(5)) { later.set(at: .now) }
            #expect(await later.eventually(), "round \(round): a deadline armed after passed ones never fired")
        }
    }

    /// When an action ran, if it did.
    private final class Flag: Sendable {
        private let state = Mutex<ContinuousClock.Instant?>(nil)
        var time: ContinuousClock.Instant? { self.state.withLock { $0 } }
        func set(at time: ContinuousClock.Instant) { self.state.withLock { $0 = time } }
        func eventually() async -> Bool {
            for _ in 0..<200 {
                if self.time != nil { return true }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return false
        }
    }
}
