public import FlexCodec

/// A call that did not end in success, with what the caller is told and, when the call reached a
/// provider, its savings record (a call can fail after it was billed: a stream cut mid-answer).
public struct RouterFailure: Error, Sendable, CustomStringConvertible {
    public var error: RouterError
    public var savings: SavingsRecord?

    public init(_ error: RouterError, savings: SavingsRecord? = nil) {
        self.error = error
        self.savings = savings
    }

    public var description: String { "RouterFailure(\(self.error.status))" }

    static let cancelled = RouterError(.cancelled, "cancelled", "the call was cancelled")
}
