public import FlexCore

/// The catalog's section for one provider.
public struct ProviderCatalog: Sendable, Hashable {
    public var provider: Provider
    /// How the provider spells each tier on the wire (OpenAI standard is `default`).
    public var tierNames: [Tier: String]
    public var models: [String: ModelEntry] {
        didSet { self.aliasIndex = Self.index(self.models) }
    }
    public var notes: String?
    /// Alias → model id.
    public private(set) var aliasIndex: [String: String]

    public init(provider: Provider, tierNames: [Tier: String], models: [String: ModelEntry], notes: String? = nil) {
        self.provider = provider
        self.tierNames = tierNames
        self.models = models
        self.notes = notes
        self.aliasIndex = Self.index(models)
    }

    static func index(_ models: [String: ModelEntry]) -> [String: String] {
        var index: [String: String] = [:]
        for (id, model) in models { for alias in model.aliases { index[alias] = id } }
        return index
    }

    /// The model named `id` or by one of its aliases.
    public func model(_ id: String) -> ModelEntry? {
        self.models[id] ?? self.aliasIndex[id].flatMap { self.models[$0] }
    }

    /// The provider's wire name for `tier` (falls back to the neutral name).
    public func wireName(of tier: Tier) -> String { self.tierNames[tier] ?? tier.name }

    /// The neutral tier for a provider's wire name, if any.
    public func tier(wireName: String) -> Tier? {
        self.tierNames.first { $0.value == wireName }?.key
    }
}
