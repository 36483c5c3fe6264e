/// How often, and how patiently, a call's request is re-sent to the tier the call settled on when
/// that tier answers 429, a 5xx (Anthropic's 529 included) or cannot be reached, before anything
/// was committed to the caller (`InferenceRequest.retry`, the HTTP door's `retry` object).
///
/// A retry never re-sends the flex leg of a race, a stream that has started, or an attempt that
/// timed out; it honours the provider's `Retry-After` (capped at 60 s) and never waits past the
/// call's deadline. The FlexRouter documentation, "Retries", has the rules.
public struct RetryOption: Sendable, Hashable {
    /// How the wait between attempts grows.
    public enum Backoff: Int32, Sendable, Hashable, CaseIterable {
        /// base, 2 × base, 4 × base, ... (the default).
        case exponential = 1
        /// base, 2 × base, 3 × base, ...
        case linear = 2

        /// The name the HTTP door and the docs use.
        public var name: String {
            switch self {
            case .exponential: "exponential"
            case .linear: "linear"
            }
        }

        public init?(name: String) {
            guard let backoff = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = backoff
        }
    }

    /// The largest ``count`` a call may ask for.
    public static let maximumCount = 5

    /// Re-sends at most (0 = none; at most ``maximumCount``; the router refuses more with
    /// `invalid_retry`).
    public var count: UInt32
    public var backoff: Backoff
    /// Full jitter: each wait is drawn uniformly between zero and its backoff.
    public var jitter: Bool

    public init(count: UInt32, backoff: Backoff = .exponential, jitter: Bool = true) {
        self.count = count
        self.backoff = backoff
        self.jitter = jitter
    }
}
