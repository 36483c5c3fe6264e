internal import Synchronization

/// A shared counter for the driver's tasks (an `Atomic` cannot be captured by escaping closures).
final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds one and returns the value before.
    func next() -> Int { self.value.add(1, ordering: .relaxed).oldValue }

    /// Adds one and returns the value after.
    func increment() -> Int { self.value.add(1, ordering: .relaxed).newValue }

    func decrement() { self.value.subtract(1, ordering: .relaxed) }

    func add(_ amount: Int) { self.value.add(amount, ordering: .relaxed) }

    var current: Int { self.value.load(ordering: .relaxed) }
}
