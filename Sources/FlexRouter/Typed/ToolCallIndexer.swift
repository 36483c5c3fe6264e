internal import FlexCore

/// Numbers a stream's tool calls 0, 1, 2, ... in the order they start, whatever the provider keys
/// them by (Chat's `index`, a Responses `output_index`, an Anthropic content block index, an
/// Interactions step index), and produces their typed deltas: one start per call, carrying its id
/// and name, then argument fragments under the same index.
struct ToolCallIndexer<Key: Hashable & Sendable>: Sendable {
    private var indices: [Key: UInt32] = [:]
    /// Calls started without a name (only an id); their name is sent once it arrives.
    private var unnamed: Set<Key> = []

    /// How many calls started.
    var count: Int { self.indices.count }

    /// The typed index of a started call.
    func index(of key: Key) -> UInt32? { self.indices[key] }

    /// A delta for `key`: the call's start the first time (with id, name and any arguments),
    /// afterwards its argument fragment (nil when there is none). A name repeated on later deltas
    /// (some servers repeat it) is not sent again.
    mutating func delta(_ key: Key, id: String = "", name: String = "", arguments: String = "") -> StreamEvent? {
        guard let index = self.indices[key] else {
            let index = UInt32(truncatingIfNeeded: self.indices.count)
            self.indices[key] = index
            if name.isEmpty { self.unnamed.insert(key) }
            return .toolCall(ToolCallDelta(index: index, id: id, name: name, argumentsFragment: arguments))
        }
        var late = ""
        if !name.isEmpty, self.unnamed.remove(key) != nil { late = name }
        guard !late.isEmpty || !arguments.isEmpty else { return nil }
        return .toolCall(ToolCallDelta(index: index, name: late, argumentsFragment: arguments))
    }
}
