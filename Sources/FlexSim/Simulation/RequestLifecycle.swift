/// The life of one simulated request, as an explicit state machine with no I/O:
///
/// ```
/// accepted ──refuse()──▶ refused                       (not billed)
///     │
///  queue() ──▶ queued ──cancel()──▶ cancelled           (before start: not billed)
///                │
///             start() ──▶ started ──emit(n)*──▶ started
///                             │ cancel() / cut() ──▶ cancelled (after start: input + output so far)
///                             └ complete() ──▶ completed (input + all output)
/// ```
///
/// "Started" means the first output token was produced: for a stream, the moment the first
/// output event is sent (the FlexSim documentation, *What counts as started*). Each transition returns what to
/// bill, or nil when it is not allowed from the current state (a late cancel after completion,
/// say), so the handler can call it without checking first.
public struct RequestLifecycle: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case accepted
        case queued
        case started(outputTokens: Int)
        case completed(outputTokens: Int)
        case cancelled(afterStart: Bool, outputTokens: Int)
        case refused
    }

    /// What the ledger records when the request ends.
    public enum Billing: Sendable, Equatable {
        case notBilled(reason: String)
        /// Bill the input and this many output tokens (reasoning included).
        case billed(outputTokens: Int, reason: String)
    }

    public private(set) var state: State = .accepted

    public init() {}

    public var isStarted: Bool { if case .started = self.state { return true } else { return false } }
    public var isFinished: Bool {
        switch self.state {
        case .completed, .cancelled, .refused: true
        default: false
        }
    }

    /// Capacity refusal (or an injected error status) before anything ran.
    public mutating func refuse(reason: String = "refused_capacity") -> Billing? {
        guard self.state == .accepted || self.state == .queued else { return nil }
        self.state = .refused
        return .notBilled(reason: reason)
    }

    /// Admitted: waiting for capacity (a zero wait still passes through here).
    @discardableResult
    public mutating func queue() -> Bool {
        guard self.state == .accepted else { return false }
        self.state = .queued
        return true
    }

    /// The first output token is produced.
    @discardableResult
    public mutating func start() -> Bool {
        guard self.state == .queued else { return false }
        self.state = .started(outputTokens: 0)
        return true
    }

    /// `tokens` more output tokens were produced (sent, for a stream).
    @discardableResult
    public mutating func emit(_ tokens: Int) -> Bool {
        guard case .started(let sofar) = self.state, tokens >= 0 else { return false }
        self.state = .started(outputTokens: sofar + tokens)
        return true
    }

    /// The whole answer was produced; `totalOutputTokens` is what the usage reports.
    public mutating func complete(totalOutputTokens: Int) -> Billing? {
        guard case .started = self.state else { return nil }
        self.state = .completed(outputTokens: totalOutputTokens)
        return .billed(outputTokens: totalOutputTokens, reason: "completed")
    }

    /// The client went away (or the server cut the stream, `reason` says which).
    public mutating func cancel(reason: String? = nil) -> Billing? {
        switch self.state {
        case .accepted, .queued:
            self.state = .cancelled(afterStart: false, outputTokens: 0)
            return .notBilled(reason: reason ?? "cancelled_before_start")
        case .started(let sofar):
            self.state = .cancelled(afterStart: true, outputTokens: sofar)
            return .billed(outputTokens: sofar, reason: reason ?? "cancelled_after_start")
        case .completed, .cancelled, .refused:
            return nil
        }
    }
}
