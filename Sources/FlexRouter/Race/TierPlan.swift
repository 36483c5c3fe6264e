public import FlexCore

/// What the router will do with a call, decided from `start_within`, the provider and the model
/// before any I/O (the brief's table, section 2).
public enum TierPlan: Hashable, Sendable {
    /// One attempt on one tier: `Tier.priority`, `Tier.standard` or `Tier.auto`. Each
    /// provider adapter spells the tier its own way (Anthropic's standard is `standard_only`, its
    /// priority is best-effort `auto`).
    case single(Tier)
    /// Try flex; fall back to standard when flex has not started within `budget`.
    case flexRace(budget: Duration)

    /// Decides the plan.
    /// - Parameters:
    ///   - startWithin: The parsed `start_within`.
    ///   - provider: The call's provider.
    ///   - model: The model id (for messages).
    ///   - flexCapable: Whether the catalog lists flex for this model (today).
    /// - Throws: ``RouterError`` `auto_unsupported_for_gemini`, `flex_unsupported_for_anthropic` or
    ///   `model_not_flex_capable`.
    public static func decide(
        _ startWithin: StartWithin,
        provider: Provider,
        model: String,
        flexCapable: Bool
    ) throws(RouterError) -> TierPlan {
        switch startWithin {
        case .priority:
            // On Anthropic, which no longer sells a priority tier, the adapter sends "auto", its
            // best effort (brief, section 2).
            return .single(.priority)
        case .default:
            return .single(.standard)
        case .auto:
            if provider == .gemini { throw RouterError.autoUnsupportedForGemini(model: model) }
            return .single(.auto)
        case .flex(let budget):
            if provider == .anthropic { throw RouterError.flexUnsupportedForAnthropic(model: model) }
            guard flexCapable else { throw RouterError.modelNotFlexCapable(provider: provider, model: model) }
            return .flexRace(budget: budget)
        }
    }
}
