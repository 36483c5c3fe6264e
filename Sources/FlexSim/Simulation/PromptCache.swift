internal import NIOConcurrencyHelpers

/// Which prompt prefixes the simulated providers have seen recently, so that a repeated prefix is
/// reported (and billed) as cached input, and its first sighting as a cache write where the
/// provider charges one. Bounded: when full it forgets everything (a cold cache is realistic).
final class PromptCache: Sendable {
    private let seen = NIOLockedValueBox<Set<UInt64>>([])
    private let limit: Int

    init(limit: Int = 200_000) { self.limit = limit }

    /// True when `key` was seen before; records it either way.
    func lookupAndInsert(_ key: UInt64) -> Bool {
        self.seen.withLockedValue { seen in
            if seen.contains(key) { return true }
            if seen.count >= self.limit { seen.removeAll(keepingCapacity: true) }
            seen.insert(key)
            return false
        }
    }

    func reset() { self.seen.withLockedValue { $0.removeAll() } }
}
