internal import FlexCore

/// The typed ``ReasoningEffort`` in each provider's own knob (the FlexRouter documentation, *Typed field mapping*).
///
/// | effort | OpenAI (both APIs) | Anthropic ≤ 4.5 | Anthropic ≥ 4.6 | Gemini 2.x | Gemini ≥ 3 |
/// |---|---|---|---|---|---|
/// | none | `none` | thinking disabled | thinking disabled | budget 0 | level `minimal` |
/// | minimal | `minimal` | budget 1024 | adaptive, effort `low` | budget 512 | level `minimal` |
/// | low | `low` | budget 2048 | adaptive, effort `low` | budget 1024 | level `low` |
/// | medium | `medium` | budget 8192 | adaptive, effort `medium` | budget 8192 | level `medium` |
/// | high | `high` | budget 24576 | adaptive, effort `high` | budget 24576 | level `high` |
///
/// OpenAI takes the word as is (a model that lacks a level, such as `minimal` on GPT-5.1 or any
/// level on a non-reasoning model, is refused by OpenAI itself). Anthropic models before 4.6 take
/// a thinking budget (at least 1024 tokens, counted inside `max_tokens`); 4.6 and later take
/// adaptive thinking with `output_config.effort`, which is the only form Opus 4.7 accepts. Gemini
/// 2.x takes a `thinkingBudget`; Gemini 3 and later take a `thinkingLevel` and cannot switch
/// thinking off, so `none` becomes their lowest level. Model ids flexd cannot read a version from
/// are treated as the newest family.
enum ReasoningMapping {
    static func openAI(_ effort: ReasoningEffort) -> String {
        switch effort {
        case .none: "none"
        case .minimal: "minimal"
        case .low: "low"
        case .medium: "medium"
        case .high: "high"
        }
    }

    /// Anthropic's thinking setting for a model.
    enum AnthropicThinking: Equatable {
        case disabled
        case budget(Int)
        case adaptive(effort: String)
    }

    static func anthropic(_ effort: ReasoningEffort, model: String) -> AnthropicThinking {
        if effort == .none { return .disabled }
        guard Self.anthropicUsesAdaptiveThinking(model) else { return .budget(Self.anthropicBudget(effort)) }
        switch effort {
        case .none, .minimal, .low: return .adaptive(effort: "low")
        case .medium: return .adaptive(effort: "medium")
        case .high: return .adaptive(effort: "high")
        }
    }

    /// The thinking budget for budget-style models (and the room flexd adds to its default
    /// `max_tokens` for thinking on either style).
    static func anthropicBudget(_ effort: ReasoningEffort) -> Int {
        switch effort {
        case .none: 0
        case .minimal: 1024
        case .low: 2048
        case .medium: 8192
        case .high: 24576
        }
    }

    /// Claude 4.6 and later (and ids without a readable version) think adaptively.
    static func anthropicUsesAdaptiveThinking(_ model: String) -> Bool {
        // claude-opus-4-1-20250805, claude-3-7-sonnet-20250219, claude-haiku-4-5: the first one- or
        // two-digit numbers are the version.
        let numbers = model.split(separator: "-").compactMap { part -> Int? in
            part.count <= 2 ? Int(part) : nil
        }
        guard let major = numbers.first else { return true }
        let minor = numbers.count > 1 ? numbers[1] : 0
        return (major, minor) >= (4, 6)
    }

    /// Gemini 3 and later (and ids without a readable version) take `thinkingLevel`.
    static func geminiUsesThinkingLevel(_ model: String) -> Bool {
        let id = model.hasPrefix("models/") ? model.dropFirst("models/".count) : Substring(model)
        guard id.hasPrefix("gemini-") else { return true }
        let version = id.dropFirst("gemini-".count).prefix { $0 != "-" }
        guard let major = Int(version.prefix { $0 != "." }) else { return true }
        return major >= 3
    }

    static func geminiBudget(_ effort: ReasoningEffort) -> Int {
        switch effort {
        case .none: 0
        case .minimal: 512
        case .low: 1024
        case .medium: 8192
        case .high: 24576
        }
    }

    static func geminiLevel(_ effort: ReasoningEffort) -> String {
        switch effort {
        case .none, .minimal: "minimal"
        case .low: "low"
        case .medium: "medium"
        case .high: "high"
        }
    }
}
