public import FlexCore

/// What can go wrong loading the catalog or pricing a request with it.
public enum CatalogError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownModel(provider: Provider, model: String)
    case tierNotOffered(provider: Provider, model: String, tier: Tier)
    case noPriceOnDate(provider: Provider, model: String, date: CalendarDate)
    case reasoningExceedsOutput
    case overflow
    /// The catalog file is unreadable or breaks a rule of the format; the text says which.
    case invalid(String)

    public var description: String {
        switch self {
        case .unknownModel(let provider, let model): "unknown model \(provider)/\(model)"
        case .tierNotOffered(let provider, let model, let tier): "\(provider)/\(model) does not offer the \(tier) tier"
        case .noPriceOnDate(let provider, let model, let date): "\(provider)/\(model) has no price on \(date)"
        case .reasoningExceedsOutput: "reasoning tokens exceed output tokens (reasoning is part of output)"
        case .overflow: "cost overflows Int64 pico-USD"
        case .invalid(let why): "invalid catalog: \(why)"
        }
    }
}
