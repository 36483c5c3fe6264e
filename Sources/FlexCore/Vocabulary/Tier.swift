/// A provider service tier, named provider-neutrally.
public enum Tier: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Half-price, best-effort capacity (OpenAI and Gemini "flex").
    case flex = 1
    /// The provider's standard tier (OpenAI "default", Gemini "standard", Anthropic "standard").
    case standard = 2
    /// The provider's priority tier (OpenAI "priority"/"fast").
    case priority = 3
    /// Requested only: let the provider choose. Never a served tier.
    case auto = 4

    /// The lower-case name used in logs, records and catalog files: `flex`, `standard`, `priority`, `auto`.
    public var name: String {
        switch self {
        case .flex: "flex"
        case .standard: "standard"
        case .priority: "priority"
        case .auto: "auto"
        }
    }

    /// The tier with this ``name``, or nil.
    public init?(name: String) {
        guard let tier = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = tier
    }

    /// The tiers a provider can serve and bill (``auto`` is only ever requested).
    public static let served: [Tier] = [.flex, .standard, .priority]

    public var description: String { self.name }
}
