import NIOCore

/// The calls waiting in the client for a connection with a free stream, oldest first. A call that
/// ends while it waits (cancelled, deadline) stays in the buffer until it reaches the front, but
/// no longer counts; the buffer is compacted when such calls pile up.
struct PendingCalls {
    private var buffer = CircularBuffer<ClientCall>()
    /// Calls waiting and not finished.
    private(set) var count = 0

    var isEmpty: Bool { self.count == 0 }

    mutating func append(_ call: ClientCall) {
        call.queuedInPool = true
        self.buffer.append(call)
        self.count += 1
    }

    /// Puts back at the front a call that ``popFirst()`` returned and no connection could take.
    mutating func prepend(_ call: ClientCall) {
        call.queuedInPool = true
        self.buffer.prepend(call)
        self.count += 1
    }

    /// The oldest call still waiting.
    mutating func popFirst() -> ClientCall? {
        while let call = self.buffer.popFirst() {
            guard call.queuedInPool else { continue }
            call.queuedInPool = false
            self.count -= 1
            return call
        }
        return nil
    }

    /// A waiting call ended (it is skipped when it reaches the front).
    mutating func remove(_ call: ClientCall) {
        guard call.queuedInPool else { return }
        call.queuedInPool = false
        self.count -= 1
        if self.buffer.count > 64, self.buffer.count > 2 * self.count {
            self.buffer = CircularBuffer(self.buffer.filter { $0.queuedInPool })
        }
    }

    /// The waiting calls for which `shouldRemove` is true, oldest first, out of the queue.
    mutating func removeAll(where shouldRemove: (ClientCall) -> Bool) -> [ClientCall] {
        var removed: [ClientCall] = []
        for call in self.buffer where call.queuedInPool && shouldRemove(call) {
            call.queuedInPool = false
            self.count -= 1
            removed.append(call)
        }
        if !removed.isEmpty { self.buffer = CircularBuffer(self.buffer.filter { $0.queuedInPool }) }
        return removed
    }

    /// Every waiting call, oldest first; the queue is then empty.
    mutating func removeAll() -> [ClientCall] {
        var calls: [ClientCall] = []
        while let call = self.popFirst() { calls.append(call) }
        self.buffer.removeAll()
        return calls
    }
}
