internal import FlexCatalog
internal import FlexCore
internal import FlexJSON

/// Rules shared by generateContent and Interactions.
enum GeminiCommon {
    /// Accepts `flex`, `standard`, `priority`, `unspecified` in any case, with or without the
    /// `SERVICE_TIER_` prefix (the SDK sends lowercase names).
    static func tier(
        _ asked: String?,
        model: ModelEntry,
        check: Check,
        path: String,
        date: CalendarDate
    ) throws(ProviderError) -> Tier {
        guard let asked else { return .standard }
        var name = asked.lowercased()
        if name.hasPrefix("service_tier_") { name = String(name.dropFirst("service_tier_".count)) }
        let tier: Tier
        switch name {
        case "unspecified", "standard": tier = .standard
        case "flex": tier = .flex
        case "priority": tier = .priority
        default: throw check.badValue(path, asked, allowed: ["unspecified", "flex", "standard", "priority"])
        }
        guard model.offers(tier, on: date) else {
            throw check.invalid("Service tier '\(name)' is not supported for model models/\(model.id).")
        }
        return tier
    }

    /// Thought tokens when the model thinks: a budget of 0 turns it off, -1 or absent is dynamic.
    static func thoughtTokens(model: ModelEntry, budget: Int?, level: String?, seed: UInt64, hash: UInt64) -> Int {
        guard model.reasoning else { return 0 }
        if budget == 0 || level == "minimal" { return 0 }
        var random = SimRandom(seed: seed, hash, 0x7409)
        let dynamic = (level == "low" ? 48 : 128) + Int(random.next() % 192)
        if let budget, budget > 0 { return min(budget, dynamic) }
        return dynamic
    }

    static func usageMetadata(_ u: TokenUsage, tier: String, imageTokens: Int) -> JSONValue {
        var details: [JSONValue] = [
            ["modality": "TEXT", "tokenCount": .integer(Int(u.totalInputTokens) - imageTokens)]
        ]
        if imageTokens > 0 { details.append(["modality": "IMAGE", "tokenCount": .integer(imageTokens)]) }
        var object: JSONObject = [
            "promptTokenCount": .integer(Int(u.totalInputTokens)),
            "candidatesTokenCount": .integer(Int(u.outputTokens - u.reasoningTokens)),
            "totalTokenCount": .integer(Int(u.totalTokens)),
        ]
        if u.cachedInputTokens > 0 { object["cachedContentTokenCount"] = .integer(Int(u.cachedInputTokens)) }
        object["promptTokensDetails"] = .array(details)
        if u.reasoningTokens > 0 { object["thoughtsTokenCount"] = .integer(Int(u.reasoningTokens)) }
        object["serviceTier"] = .string(tier)
        return .object(object)
    }

    static func interactionUsage(_ u: TokenUsage) -> JSONValue {
        [
            "total_input_tokens": .integer(Int(u.totalInputTokens)),
            "total_cached_tokens": .integer(Int(u.cachedInputTokens)),
            "total_output_tokens": .integer(Int(u.outputTokens - u.reasoningTokens)),
            "total_thought_tokens": .integer(Int(u.reasoningTokens)),
            "total_tool_use_tokens": 0,
            "total_tokens": .integer(Int(u.totalTokens)),
        ]
    }
}
