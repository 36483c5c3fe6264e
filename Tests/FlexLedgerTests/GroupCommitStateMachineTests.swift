import Testing

@testable import FlexLedger

/// The group-commit writer's state machine, without I/O.
@Suite struct GroupCommitStateMachineTests {
    typealias Machine = GroupCommitStateMachine<Int, String>

    static func batch(_ action: Machine.AppendAction) -> [Int]? {
        if case .startWriter(let batch) = action { return batch }
        return nil
    }

    static func next(_ action: Machine.BatchFinishedAction) -> [Int]? {
        if case .writeNext(let batch) = action { return batch }
        return nil
    }

    @Test func anIdleLedgerWritesTheFirstRecordAtOnceAlone() {
        var machine = Machine(configuration: GroupCommitConfiguration(maximumBatchSize: 10))
        #expect(Self.batch(machine.append(1)) == [1])
        guard case .stop = machine.batchFinished() else {
            Issue.record("expected stop")
            return
        }
        #expect(Self.batch(machine.append(2)) == [2])
    }

    @Test func recordsQueuedDuringAWriteGoTogetherInTheNextBatches() {
        var machine = Machine(configuration: GroupCommitConfiguration(maximumBatchSize: 3))
        #expect(Self.batch(machine.append(0)) == [0])
        for value in 1...7 {
            guard case .none = machine.append(value) else {
                Issue.record("expected none")
                return
            }
        }
        #expect(machine.waiting == 7)
        #expect(Self.next(machine.batchFinished()) == [1, 2, 3])
        #expect(Self.next(machine.batchFinished()) == [4, 5, 6])
        #expect(machine.append(8).isNone)
        #expect(Self.next(machine.batchFinished()) == [7, 8])
        guard case .stop = machine.batchFinished() else {
            Issue.record("expected stop")
            return
        }
        #expect(machine.batchesStarted == 4)
        #expect(machine.recordsStarted == 9)
    }

    @Test func aFullQueueParksCallersInOrderWhenWaiting() {
        var machine = Machine(
            configuration: GroupCommitConfiguration(maximumBatchSize: 2, queueCapacity: 2, whenFull: .wait)
        )
        _ = machine.append(0)
        for value in 1...5 { #expect(machine.append(value).isNone) }
        #expect(machine.waiting == 5)
        #expect(Self.next(machine.batchFinished()) == [1, 2])
        #expect(Self.next(machine.batchFinished()) == [3, 4])
        #expect(Self.next(machine.batchFinished()) == [5])
        guard case .stop = machine.batchFinished() else {
            Issue.record("expected stop")
            return
        }
    }

    @Test func aFullQueueRejectsWhenSetTo() {
        var machine = Machine(
            configuration: GroupCommitConfiguration(maximumBatchSize: 2, queueCapacity: 2, whenFull: .reject)
        )
        _ = machine.append(0)
        #expect(machine.append(1).isNone)
        #expect(machine.append(2).isNone)
        guard case .reject(3, let error) = machine.append(3) else {
            Issue.record("expected reject")
            return
        }
        #expect(error.code == .overloaded)
        #expect(Self.next(machine.batchFinished()) == [1, 2])
        #expect(machine.append(4).isNone)
    }

    @Test func closingWhileIdleClosesAtOnce() {
        var machine = Machine(configuration: .defaults)
        guard case .resume("closer") = machine.close("closer") else {
            Issue.record("expected resume")
            return
        }
        guard case .reject(1, let error) = machine.append(1) else {
            Issue.record("expected reject")
            return
        }
        #expect(error.code == .closed)
        guard case .resume("again") = machine.close("again") else {
            Issue.record("expected resume")
            return
        }
    }

    @Test func closingWhileWritingDrainsTheQueueFirst() {
        var machine = Machine(configuration: GroupCommitConfiguration(maximumBatchSize: 2))
        _ = machine.append(0)
        _ = machine.append(1)
        _ = machine.append(2)
        _ = machine.append(3)
        guard case .wait = machine.close("first") else {
            Issue.record("expected wait")
            return
        }
        guard case .wait = machine.close("second") else {
            Issue.record("expected wait")
            return
        }
        guard case .reject(4, _) = machine.append(4) else {
            Issue.record("expected reject")
            return
        }
        #expect(Self.next(machine.batchFinished()) == [1, 2])
        #expect(Self.next(machine.batchFinished()) == [3])
        guard case .stopAndResumeCloseWaiters(let waiters) = machine.batchFinished() else {
            Issue.record("expected stop")
            return
        }
        #expect(waiters == ["first", "second"])
        guard case .reject(5, _) = machine.append(5) else {
            Issue.record("expected reject")
            return
        }
    }
}

extension GroupCommitStateMachine.AppendAction {
    var isNone: Bool {
        if case .none = self { return true }
        return false
    }
}
