/// How a call ended when it did not succeed: the status its caller is told and, when the call
/// reached a provider and was billed, its savings record (a call can fail after it was billed: a
/// stream cut mid-answer, a deadline that passed mid-answer).
///
/// The error type of the service seam (``InferenceService``). One reference wide: functions that
/// throw it return it in a register rather than through a buffer in every caller's async frame.
public struct CallFailure: Error, Sendable, CustomStringConvertible {
    private var storage: Storage

    /// What the caller is told.
    public var status: Status {
        get { self.storage.status }
        set { self.storage = Storage(status: newValue, savings: self.storage.savings) }
    }

    /// What was billed, if anything was.
    public var savings: SavingsRecord? {
        get { self.storage.savings }
        set { self.storage = Storage(status: self.storage.status, savings: newValue) }
    }

    public init(_ status: Status, savings: SavingsRecord? = nil) {
        self.storage = Storage(status: status, savings: savings)
    }

    /// A failure with `code`'s status.
    public init(_ code: ErrorCode, _ message: String, savings: SavingsRecord? = nil) {
        self.init(Status(code, message), savings: savings)
    }

    /// The calling task was cancelled (the caller went away, or its deadline or a CANCEL stopped it).
    public static var cancelled: CallFailure { CallFailure(.cancelled, "the call was cancelled") }

    public var description: String { "CallFailure(\(self.status))" }

    private final class Storage: Sendable {
        let status: Status
        let savings: SavingsRecord?

        init(status: Status, savings: SavingsRecord?) {
            self.status = status
            self.savings = savings
        }
    }
}
