/// A model the service routes, and what it offers: what a transport lists (the HTTP door's
/// `GET /models`) and how it finds a model's provider.
public struct ModelListing: Sendable, Hashable {
    public var id: String
    public var provider: Provider
    /// Whether a `start_within` duration runs the flex race for it today.
    public var flexRace: Bool
    /// The tiers the service can bill it on today, in ``Tier/served`` order.
    public var tiers: [Tier]

    public init(id: String, provider: Provider, flexRace: Bool, tiers: [Tier]) {
        self.id = id
        self.provider = provider
        self.flexRace = flexRace
        self.tiers = tiers
    }
}
