/// Why a flex-first call was served by the standard tier.
public enum FallbackReason: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The provider refused flex for capacity (OpenAI 429 "Resource Unavailable", Gemini 503).
    case flexCapacity = 1
    /// Flex had not started when the `start_within` budget ran out.
    case flexStartTimeout = 2
    /// Flex failed before starting for another retryable reason (5xx, connection failure).
    case flexUpstreamError = 3
    /// The adaptive flex policy predicted that flex would not start within the call's budget (or
    /// what was left of it while waiting), from what recent flex attempts on the same provider and
    /// model took to start; the call went to standard without waiting out its budget.
    case flexPredictedLate = 4
    /// The adaptive flex policy found flex scarce: recent flex attempts on the same provider and
    /// model were refused so often that waiting could not pay; the call went to standard at once.
    case flexScarce = 5

    public var name: String {
        switch self {
        case .flexCapacity: "flex_capacity"
        case .flexStartTimeout: "flex_start_timeout"
        case .flexUpstreamError: "flex_upstream_error"
        case .flexPredictedLate: "flex_predicted_late"
        case .flexScarce: "flex_scarce"
        }
    }

    /// Whether the adaptive flex policy decided the fallback (rather than the flex attempt's own
    /// end).
    public var isPredicted: Bool { self == .flexPredictedLate || self == .flexScarce }

    public var description: String { self.name }
}
