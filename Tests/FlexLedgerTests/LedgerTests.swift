import FlexLedger
import Foundation
import NIOConcurrencyHelpers
import Testing

/// The ``Ledger`` writer over a scripted in-memory store: batching, durability ordering and
/// failure isolation, without timing.
@Suite struct LedgerTests {
    /// An in-memory store whose writes can be held at a gate and made to fail.
    final class ScriptedStore: LedgerStore, @unchecked Sendable {
        private let state = NIOLockedValueBox(State())
        struct State {
            var stored: [String: LedgerRecord] = [:]
            var batchSizes: [Int] = []
            var gate: CheckedContinuation<Void, Never>?
            var holdNextWrite = false
            var writerHeld = false
            var poisoned: Set<String> = []
            var failEverything: LedgerError?
        }

        func holdNextWrite() { self.state.withLockedValue { $0.holdNextWrite = true } }
        var writerHeld: Bool { self.state.withLockedValue { $0.writerHeld } }
        func release() { self.state.withLockedValue { $0.gate.take() }?.resume() }
        func poison(_ requestID: String) { self.state.withLockedValue { _ = $0.poisoned.insert(requestID) } }
        func failEverything(with error: LedgerError) { self.state.withLockedValue { $0.failEverything = error } }
        var batchSizes: [Int] { self.state.withLockedValue { $0.batchSizes } }
        func isStored(_ requestID: String) -> Bool { self.state.withLockedValue { $0.stored[requestID] != nil } }

        func write(_ records: [LedgerRecord]) async throws(LedgerError) -> [AppendOutcome] {
            if self.state.withLockedValue({ state in
                defer { state.holdNextWrite = false }
                return state.holdNextWrite
            }) {
                await withCheckedContinuation { continuation in
                    self.state.withLockedValue {
                        $0.gate = continuation
                        $0.writerHeld = true
                    }
                }
            }
            let result: Result<[AppendOutcome], LedgerError> = self.state.withLockedValue { state in
                state.batchSizes.append(records.count)
                if let error = state.failEverything { return .failure(error) }
                if let bad = records.first(where: { state.poisoned.contains($0.requestID) }) {
                    return .failure(LedgerError(.storeFailed, "poisoned \(bad.requestID)"))
                }
                return .success(
                    records.map { record in
                        if state.stored[record.requestID] != nil { return .duplicate }
                        state.stored[record.requestID] = record
                        return .recorded
                    }
                )
            }
            return try result.get()
        }

        func monthlyTotals(_ query: ReportQuery) async throws(LedgerError) -> [MonthlyTotals] { [] }
        func record(tenant: String, requestID: String) async throws(LedgerError) -> LedgerRecord? {
            self.state.withLockedValue { $0.stored[requestID] }
        }
        func recordCount(tenant: String?) async throws(LedgerError) -> Int {
            self.state.withLockedValue { $0.stored.count }
        }
        func schemaVersion() async throws(LedgerError) -> Int { 1 }
        func close() async {}
    }

    /// Waits (bounded by a count of yields, not by time) until `condition` holds.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<1_000_000 {
            if condition() { return true }
            await Task.yield()
            usleep(100)
        }
        return condition()
    }

    @Test func recordsArrivingDuringACommitShareTheNextOne() async throws {
        let store = ScriptedStore()
        let ledger = Ledger(store: store)
        store.holdNextWrite()
        async let first = ledger.append(SyntheticRecord.make(0, tenant: "acme"))
        #expect(await Self.eventually { store.writerHeld })
        let others = Task {
            try await withThrowingTaskGroup(of: AppendOutcome.self) { group in
                for index in 1...10 {
                    group.addTask { try await ledger.append(SyntheticRecord.make(index, tenant: "acme")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(await Self.eventually { ledger.statistics.waiting == 10 })
        store.release()
        #expect(try await first == .recorded)
        #expect(try await others.value == Array(repeating: .recorded, count: 10))
        #expect(store.batchSizes == [1, 10])
        #expect(ledger.statistics == Ledger.Statistics(batches: 2, records: 11, waiting: 0))
        await ledger.close()
    }

    @Test func appendReturnsOnlyAfterTheStoreCommitted() async throws {
        let store = ScriptedStore()
        let ledger = Ledger(store: store)
        for index in 0..<50 {
            let record = SyntheticRecord.make(index, tenant: "acme")
            _ = try await ledger.append(record)
            #expect(store.isStored(record.requestID))
        }
        await ledger.close()
    }

    @Test func aFailingRecordFailsAloneAndItsBatchNeighboursAreWritten() async throws {
        let store = ScriptedStore()
        let ledger = Ledger(store: store)
        store.poison("req-3")
        store.holdNextWrite()
        async let first = ledger.append(SyntheticRecord.make(0, tenant: "acme"))
        #expect(await Self.eventually { store.writerHeld })
        let others = Task {
            await withTaskGroup(of: (Int, Result<AppendOutcome, LedgerError>).self) { group in
                for index in 1...5 {
                    group.addTask {
                        do throws(LedgerError) {
                            return (
                                index, .success(try await ledger.append(SyntheticRecord.make(index, tenant: "acme")))
                            )
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: [Int: Result<AppendOutcome, LedgerError>]()) { $0[$1.0] = $1.1 }
            }
        }
        #expect(await Self.eventually { ledger.statistics.waiting == 5 })
        store.release()
        #expect(try await first == .recorded)
        let results = await others.value
        for index in [1, 2, 4, 5] { #expect((try? results[index]?.get()) == .recorded) }
        guard case .failure(let error)? = results[3] else {
            Issue.record("req-3 should fail")
            return
        }
        #expect(error.code == .storeFailed)
        #expect(store.batchSizes == [1, 5, 1, 1, 1, 1, 1])
        await ledger.close()
    }

    @Test func anUnreachableStoreFailsTheWholeBatchAtOnce() async throws {
        let store = ScriptedStore()
        let ledger = Ledger(store: store)
        store.holdNextWrite()
        async let first = ledger.append(SyntheticRecord.make(0, tenant: "acme"))
        #expect(await Self.eventually { store.writerHeld })
        let others = Task {
            await withTaskGroup(of: LedgerError?.self) { group in
                for index in 1...5 {
                    group.addTask {
                        do throws(LedgerError) {
                            _ = try await ledger.append(SyntheticRecord.make(index, tenant: "acme"))
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                return await group.reduce(into: [LedgerError?]()) { $0.append($1) }
            }
        }
        #expect(await Self.eventually { ledger.statistics.waiting == 5 })
        store.failEverything(with: LedgerError(.unavailable, "no connection"))
        store.release()
        do {
            _ = try await first
            Issue.record("the first append should have failed")
        } catch let error as LedgerError {
            #expect(error.code == .unavailable)
        }
        #expect(await others.value.map { $0?.code } == Array(repeating: .unavailable, count: 5))
        #expect(store.batchSizes == [1, 5])
        await ledger.close()
    }

    @Test func closeWritesWhatIsQueuedThenRefuses() async throws {
        let store = ScriptedStore()
        let ledger = Ledger(store: store)
        store.holdNextWrite()
        let appends = Task {
            try await withThrowingTaskGroup(of: AppendOutcome.self) { group in
                for index in 0..<6 {
                    group.addTask { try await ledger.append(SyntheticRecord.make(index, tenant: "acme")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(await Self.eventually { store.writerHeld && ledger.statistics.waiting == 5 })
        let closing = Task { await ledger.close() }
        store.release()
        await closing.value
        #expect(try await appends.value.count == 6)
        #expect(try await store.recordCount(tenant: nil) == 6)
        let error = await #expect(throws: LedgerError.self) {
            try await ledger.append(SyntheticRecord.make(9, tenant: "acme"))
        }
        #expect(error?.code == .closed)
    }
}
