/// A path into a JSON document whose value ``JSONParser/parseObject(_:keeping:probing:reusing:)`` reports
/// on without building it: member names, and ``Step/anyElement`` for every element of an array.
///
/// `JSONProbe(.member("choices"), .anyElement, .member("delta"), .member("content"))` asks whether
/// any choice's `delta.content` is there and not empty.
public struct JSONProbe: Sendable, Hashable {
    public enum Step: Sendable, Hashable {
        /// The member of an object with this name.
        case member(String)
        /// Every element of an array.
        case anyElement
    }

    /// What counts as found at the end of the path.
    public enum Match: Sendable, Hashable {
        /// Any value but `null`, `false`, `""`, `[]` and `{}`.
        case nonEmpty
        /// A string other than `""`.
        case nonEmptyString
        /// An array other than `[]`.
        case nonEmptyArray
        /// An object other than `{}`.
        case nonEmptyObject
    }

    public var steps: [Step]
    public var match: Match

    /// A path of at least one step, the first a member of the document's top-level object.
    public init(_ steps: Step..., matching match: Match = .nonEmpty) {
        precondition(!steps.isEmpty, "a probe names at least one member")
        guard case .member = steps[0] else {
            preconditionFailure("a probe starts with a member of the top-level object")
        }
        self.steps = steps
        self.match = match
    }
}

/// Which probes of ``JSONParser/parseObject(_:keeping:probing:reusing:)`` found a value their ``JSONProbe/Match`` accepts.
public struct JSONProbeResults: Sendable, Hashable {
    /// Bit `i` set: probe `i` found one.
    public internal(set) var bits: UInt64 = 0

    public init() {}

    /// Whether probe `index` (its position in the `probing` list) reached at least one value its
    /// ``JSONProbe/Match`` accepts.
    public subscript(index: Int) -> Bool { self.bits & (1 << UInt64(index)) != 0 }
}

extension JSONValue {
    /// Whether this value, as a document, has a value `probe` finds: what
    /// ``JSONParser/parseObject(_:keeping:probing:reusing:)`` answers without building the document.
    public func contains(_ probe: JSONProbe) -> Bool {
        Self.find(probe.steps[...], probe.match, in: self)
    }

    private static func find(_ steps: ArraySlice<JSONProbe.Step>, _ match: JSONProbe.Match, in value: JSONValue) -> Bool
    {
        guard let step = steps.first else {
            switch (match, value) {
            case (_, .null), (_, .bool(false)): return false
            case (.nonEmpty, .string(let text)), (.nonEmptyString, .string(let text)): return !text.isEmpty
            case (.nonEmpty, .array(let elements)), (.nonEmptyArray, .array(let elements)): return !elements.isEmpty
            case (.nonEmpty, .object(let object)), (.nonEmptyObject, .object(let object)): return !object.fields.isEmpty
            case (.nonEmpty, _): return true
            default: return false
            }
        }
        switch step {
        case .member(let name):
            return value.object?.fields.contains { $0.key == name && Self.find(steps.dropFirst(), match, in: $0.value) }
                ?? false
        case .anyElement:
            return value.array?.contains { Self.find(steps.dropFirst(), match, in: $0) } ?? false
        }
    }
}
