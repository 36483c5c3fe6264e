internal import NIOConcurrencyHelpers

/// A value set once, which any number of tasks can wait for. Waiting returns nil if the waiting
/// task is cancelled first.
final class OneShotSignal<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `state` is only touched with `lock` held.
    private let lock = NIOLock()
    private var value: Value?
    private var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
    private var nextWaiter = 0

    /// Sets the value (the first call wins) and wakes every waiter.
    func signal(_ value: Value) {
        let waiters: [CheckedContinuation<Value?, Never>] = self.lock.withLock {
            guard self.value == nil else { return [] }
            self.value = value
            defer { self.waiters = [:] }
            return Array(self.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    var isSignalled: Bool { self.lock.withLock { self.value != nil } }

    /// The value, once set; nil if the task is cancelled before.
    func wait() async -> Value? {
        let id: Int = self.lock.withLock {
            self.nextWaiter += 1
            return self.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let ready: Value?? = self.lock.withLock {
                    if let value = self.value { return .some(value) }
                    if Task.isCancelled { return .some(nil) }
                    self.waiters[id] = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = self.lock.withLock { self.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
