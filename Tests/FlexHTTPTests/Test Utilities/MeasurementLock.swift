import NIOConcurrencyHelpers

/// A readers–writer lock over whole tests, for the few that measure the process's memory.
///
/// Tests run in parallel in one process, so an RSS reading includes what concurrent tests allocate.
/// Every test server takes the lock shared; a test that measures memory takes it exclusively and so
/// runs alone. Waiting writers block new readers, so a measuring test is not starved.
final class MeasurementLock: Sendable {
    static let shared = MeasurementLock()

    private struct State {
        var readers = 0
        var writing = false
        var waitingWriters: [CheckedContinuation<Void, Never>] = []
        var waitingReaders: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    func withShared<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async rethrows -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = self.state.withLockedValue { state in
                if state.writing || !state.waitingWriters.isEmpty {
                    state.waitingReaders.append(continuation)
                    return false
                }
                state.readers += 1
                return true
            }
            if granted {
                continuation.resume()
            }
        }
        defer { self.release { $0.readers -= 1 } }
        return try await body()
    }

    func withExclusive<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async rethrows -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = self.state.withLockedValue { state in
                if state.writing || state.readers > 0 {
                    state.waitingWriters.append(continuation)
                    return false
                }
                state.writing = true
                return true
            }
            if granted {
                continuation.resume()
            }
        }
        defer { self.release { $0.writing = false } }
        return try await body()
    }

    /// Updates the state, then hands the lock on: to one writer if no reader holds it, else to every
    /// waiting reader.
    private func release(_ update: @Sendable (inout State) -> Void) {
        let wake: [CheckedContinuation<Void, Never>] = self.state.withLockedValue { state in
            update(&state)
            guard !state.writing else {
                return []
            }
            if state.readers == 0, !state.waitingWriters.isEmpty {
                state.writing = true
                return [state.waitingWriters.removeFirst()]
            }
            if state.waitingWriters.isEmpty {
                let readers = state.waitingReaders
                state.waitingReaders = []
                state.readers += readers.count
                return readers
            }
            return []
        }
        for waiter in wake { waiter.resume() }
    }
}
