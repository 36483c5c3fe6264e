internal import FlexCore

/// Gemini's spelling of tiers and the places it reports the served one, shared by generateContent
/// and Interactions.
enum GeminiTier {
    /// The header in which the Gemini API reports the tier that served a request.
    static let headerName = "x-gemini-service-tier"

    /// The tier field's value: `flex`, `standard`, `priority` (the google-genai SDK's lower-case
    /// spelling, which flexsim follows; it also accepts the `SERVICE_TIER_` enum names). Gemini has
    /// no auto tier.
    static func wireValue(_ tier: Tier, model: String) throws(RouterError) -> String {
        switch tier {
        case .flex: "flex"
        case .standard: "standard"
        case .priority: "priority"
        case .auto: throw RouterError.autoUnsupportedForGemini(model: model)
        }
    }

    /// A reported tier, in any of the spellings seen: `flex`/`standard`/`priority` in any case, with
    /// or without the `SERVICE_TIER_` prefix, and Vertex's `trafficType` values (`ON_DEMAND`,
    /// `ON_DEMAND_FLEX`, `ON_DEMAND_PRIORITY`). Anything else (`PROVISIONED_THROUGHPUT`,
    /// `unspecified`, ...) is no tier we can price.
    static func served(_ reported: String) -> Tier? {
        var word = reported.lowercased()
        if word.hasPrefix("service_tier_") { word.removeFirst("service_tier_".count) }
        switch word {
        case "flex", "on_demand_flex": return .flex
        case "standard", "on_demand": return .standard
        case "priority", "on_demand_priority": return .priority
        default: return nil
        }
    }

    /// The `x-gemini-service-tier` header's value, or "" when it is absent.
    static func header(_ headers: [(String, String)]) -> String {
        for (name, value) in headers where name.lowercased() == Self.headerName {
            return value.trimmingSpaces
        }
        return ""
    }

    /// The served tier from the body's word when it has one we recognise, else from the header.
    static func result(usage: TokenUsage, bodyWord: String, headerWord: String) -> UpstreamResult {
        if let tier = Self.served(bodyWord) {
            return UpstreamResult(usage: usage, servedTier: tier, servedTierReported: bodyWord)
        }
        if let tier = Self.served(headerWord) {
            return UpstreamResult(usage: usage, servedTier: tier, servedTierReported: headerWord)
        }
        return UpstreamResult(
            usage: usage,
            servedTier: nil,
            servedTierReported: bodyWord.isEmpty ? headerWord : bodyWord
        )
    }

    static func headers(key: Secret, stream: Bool) -> [(String, String)] {
        [
            ("x-goog-api-key", key.value),
            ("content-type", "application/json"),
            ("accept", stream ? "text/event-stream" : "application/json"),
        ]
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (header values).
    var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return String(view)
    }
}
