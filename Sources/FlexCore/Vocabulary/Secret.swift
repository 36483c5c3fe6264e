/// A credential (a provider key or a flexd API key) that must never be printed.
///
/// `description`, `debugDescription` and reflection (`dump`, `Mirror`) all show `<redacted>`, so a
/// request logged or interpolated by mistake does not leak the key. Read ``value`` only where the
/// key is actually used.
public struct Secret: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// The credential itself.
    public var value: String

    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }

    /// True when no credential is set.
    public var isEmpty: Bool { self.value.isEmpty }

    public var description: String { self.value.isEmpty ? "<none>" : "<redacted>" }
    public var debugDescription: String { self.description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
