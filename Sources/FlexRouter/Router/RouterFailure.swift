public import FlexCodec

/// A call that did not end in success, with what the caller is told and, when the call reached a
/// provider, its savings record (a call can fail after it was billed: a stream cut mid-answer).
///
/// One reference wide: functions that throw it return it in a register rather than through a
/// buffer in every caller's async frame (see README, "FlexRouter", "Memory per call").
public struct RouterFailure: Error, Sendable, CustomStringConvertible {
    private var storage: Storage

    public var error: RouterError {
        get { self.storage.error }
        set { self.storage = Storage(error: newValue, savings: self.storage.savings) }
    }

    public var savings: SavingsRecord? {
        get { self.storage.savings }
        set { self.storage = Storage(error: self.storage.error, savings: newValue) }
    }

    public init(_ error: RouterError, savings: SavingsRecord? = nil) {
        self.storage = Storage(error: error, savings: savings)
    }

    public var description: String { "RouterFailure(\(self.error.status))" }

    static let cancelled = RouterError(.cancelled, "cancelled", "the call was cancelled")

    private final class Storage: Sendable {
        let error: RouterError
        let savings: SavingsRecord?

        init(error: RouterError, savings: SavingsRecord?) {
            self.error = error
            self.savings = savings
        }
    }
}
