/// A provider-neutral service tier. Each provider spells these differently on the wire
/// (``ProviderCatalog/tierNames``): OpenAI calls standard `default`, for instance.
public enum ServiceTier: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// Half-price, best-effort, may be refused or queued (OpenAI flex, Gemini flex).
    case flex
    /// The provider's normal tier.
    case standard
    /// The provider's paid-for speed tier (OpenAI fast/priority, Gemini priority, Anthropic priority).
    case priority

    public var description: String { self.rawValue }
}
