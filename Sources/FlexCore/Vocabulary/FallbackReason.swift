/// Why a flex-first call was served by the standard tier.
public enum FallbackReason: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The provider refused flex for capacity (OpenAI 429 "Resource Unavailable", Gemini 503).
    case flexCapacity = 1
    /// Flex had not started when the `start_within` budget ran out.
    case flexStartTimeout = 2
    /// Flex failed before starting for another retryable reason (5xx, connection failure).
    case flexUpstreamError = 3

    public var name: String {
        switch self {
        case .flexCapacity: "flex_capacity"
        case .flexStartTimeout: "flex_start_timeout"
        case .flexUpstreamError: "flex_upstream_error"
        }
    }

    public var description: String { self.name }
}
