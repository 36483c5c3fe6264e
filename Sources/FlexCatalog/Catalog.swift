public import FlexCore

/// The model catalog as data: per provider and model, which tiers exist and what each token class
/// costs on each tier, with dated price changes and long-context rules.
///
/// One copy serves both flexsim and the router. The built-in catalog is
/// `Sources/FlexCatalog/Resources/catalog.json`, compiled into the library as a string
/// (``Catalog/builtIn()``), so loading it never depends on finding a resource bundle at run time.
/// ``Catalog/load(path:)`` reads a file in the same format; ``Catalog/merging(_:)`` overlays one
/// catalog on another model by model. The format is described in the FlexCatalog documentation, *Catalog format*.
public struct Catalog: Sendable, Hashable {
    public var providers: [Provider: ProviderCatalog]
    /// Free-text notes kept from the file (sources, conservative readings).
    public var notes: [String]

    public init(providers: [Provider: ProviderCatalog], notes: [String] = []) {
        self.providers = providers
        self.notes = notes
    }

    /// The model, or nil when the catalog does not list it.
    public func model(_ provider: Provider, _ id: String) -> ModelEntry? {
        self.providers[provider]?.model(id)
    }

    /// The model, or ``CatalogError/unknownModel(provider:model:)``.
    public func requireModel(_ provider: Provider, _ id: String) throws(CatalogError) -> ModelEntry {
        guard let entry = self.model(provider, id) else { throw .unknownModel(provider: provider, model: id) }
        return entry
    }

    /// This catalog with `override`'s providers' tier names and models replacing or adding to ours.
    public func merging(_ override: Catalog) -> Catalog {
        var merged = self
        for (provider, section) in override.providers {
            guard var base = merged.providers[provider] else {
                merged.providers[provider] = section
                continue
            }
            base.tierNames.merge(section.tierNames) { _, new in new }
            base.models.merge(section.models) { _, new in new }
            if let notes = section.notes { base.notes = notes }
            merged.providers[provider] = base
        }
        merged.notes += override.notes
        return merged
    }
}
