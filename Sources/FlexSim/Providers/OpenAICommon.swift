internal import FlexCatalog
internal import FlexCore
internal import FlexJSON

/// Rules shared by Chat Completions and Responses.
enum OpenAICommon {
    static let serviceTiers = ["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"]

    /// Resolves `service_tier` against the model: absent/auto/default → standard; flex, priority
    /// and fast need the model to offer that tier, else the 400 the API answers.
    static func tier(
        _ asked: String?,
        model: ModelEntry,
        check: Check,
        date: CalendarDate
    ) throws(ProviderError) -> Tier {
        let tier: Tier
        switch asked {
        case nil, "auto", "default": tier = .standard
        case "flex": tier = .flex
        case "priority", "fast": tier = .priority
        default:
            throw check.invalid(
                "Invalid value: '\(asked!)'. The model `\(model.id)` does not support service_tier '\(asked!)'.",
                param: "service_tier",
                code: "invalid_value"
            )
        }
        guard model.offers(tier, on: date) else {
            throw check.invalid(
                "Invalid value: '\(asked!)'. The model `\(model.id)` does not support service_tier '\(asked!)'.",
                param: "service_tier",
                code: "invalid_value"
            )
        }
        return tier
    }

    static let efforts = ["none", "minimal", "low", "medium", "high", "xhigh"]

    /// Reasoning tokens for an effort level, with a deterministic ±25% spread.
    static func reasoningTokens(effort: String?, model: ModelEntry, seed: UInt64, hash: UInt64) -> Int {
        guard model.reasoning else { return 0 }
        let base: Int
        switch effort ?? "medium" {
        case "none", "minimal": return 0
        case "low": base = 64
        case "high": base = 512
        case "xhigh": base = 1024
        default: base = 192
        }
        var random = SimRandom(seed: seed, hash, 0x2EA5)
        return base * 3 / 4 + Int(random.next() % UInt64(base / 2 + 1))
    }

    static func unsupported(_ parameter: String, model: String, check: Check) -> ProviderError {
        check.invalid(
            "Unsupported parameter: '\(parameter)' is not supported with this model.",
            param: parameter,
            code: "unsupported_parameter"
        )
    }

    /// Tools in Chat (`{"type": "function", "function": {...}}`) or Responses (`{"type": "function", "name": ...}`) shape.
    static func tools(_ value: JSONValue?, chatShape: Bool, check: Check) throws(ProviderError) -> [ToolSpec] {
        guard let value, !value.isNull else { return [] }
        var specs: [ToolSpec] = []
        for (index, item) in try check.array(value, "tools").enumerated() {
            let path = check.path("tools", index: index)
            let tool = try check.object(item, path)
            let type = try check.string(try check.required(tool, "type", path), check.path(path, "type"))
            if chatShape {
                guard type == "function" || type == "custom" else {
                    throw check.badValue(check.path(path, "type"), type, allowed: ["function", "custom"])
                }
                let function = try check.object(try check.required(tool, type, path), check.path(path, type))
                let name = try check.string(
                    try check.required(function, "name", check.path(path, type)),
                    check.path(path, "\(type).name")
                )
                specs.append(ToolSpec(name: name, parameters: function["parameters"]))
            } else {
                // Built-in tools (web_search, ...) are accepted and never called.
                guard type == "function" else { continue }
                let name = try check.string(try check.required(tool, "name", path), check.path(path, "name"))
                try check.responsesFunctionTool(tool, path)
                specs.append(ToolSpec(name: name, parameters: tool["parameters"]))
            }
        }
        return specs
    }

    static func toolChoice(_ value: JSONValue?, check: Check) throws(ProviderError) -> ToolChoice {
        guard let value, !value.isNull else { return .auto }
        if let text = value.string {
            switch text {
            case "auto": return .auto
            case "none": return .none
            case "required": return .required
            default: throw check.badValue("tool_choice", text, allowed: ["none", "auto", "required"])
            }
        }
        let object = try check.object(value, "tool_choice")
        if let name = object["function"]?["name"]?.string ?? object["name"]?.string { return .named(name) }
        return .required
    }

    /// Usage in Chat Completions' fields (prompt_tokens includes cached tokens and writes).
    static func chatUsage(_ u: TokenUsage, reportsWrites: Bool) -> JSONValue {
        // cache_write_tokens is always present (0 before GPT-5.6): the SDKs know the field.
        _ = reportsWrites
        let prompt: JSONObject = [
            "cached_tokens": .integer(Int(u.cachedInputTokens)),
            "cache_write_tokens": .integer(Int(u.cacheWriteTokens)), "audio_tokens": 0,
        ]
        return [
            "prompt_tokens": .integer(Int(u.totalInputTokens)),
            "completion_tokens": .integer(Int(u.outputTokens)),
            "total_tokens": .integer(Int(u.totalTokens)),
            "prompt_tokens_details": .object(prompt),
            "completion_tokens_details": [
                "reasoning_tokens": .integer(Int(u.reasoningTokens)), "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            ],
        ]
    }

    /// Usage in the Responses API's fields.
    static func responsesUsage(_ u: TokenUsage, reportsWrites: Bool) -> JSONValue {
        // cache_write_tokens is required by the SDK's ResponseUsage (0 before GPT-5.6).
        _ = reportsWrites
        let details: JSONObject = [
            "cached_tokens": .integer(Int(u.cachedInputTokens)),
            "cache_write_tokens": .integer(Int(u.cacheWriteTokens)),
        ]
        return [
            "input_tokens": .integer(Int(u.totalInputTokens)),
            "input_tokens_details": .object(details),
            "output_tokens": .integer(Int(u.outputTokens)),
            "output_tokens_details": ["reasoning_tokens": .integer(Int(u.reasoningTokens))],
            "total_tokens": .integer(Int(u.totalTokens)),
        ]
    }

    /// Whether the model prices cache writes above input (GPT-5.6+), so usage reports them.
    static func reportsWrites(_ model: ModelEntry, date: CalendarDate) -> Bool {
        guard let prices = model.period(on: date)?.tiers[.standard] else { return false }
        return prices.cacheWrite > prices.input
    }

    /// Image tokens and text tokens of a content value, in Chat or Responses part shapes.
    static func contentTokens(_ value: JSONValue) -> (text: Int, images: Int) {
        switch value {
        case .string(let s): return (TokenEstimator.text(s), 0)
        case .array(let parts):
            var text = 0
            var images = 0
            for part in parts {
                switch part["type"]?.string {
                case "image_url":
                    let url = part["image_url"]?["url"]?.string ?? part["image_url"]?.string
                    images += TokenEstimator.image(
                        provider: .openAI,
                        base64: url?.hasPrefix("data:") == true ? url : nil,
                        lowDetail: part["image_url"]?["detail"]?.string == "low"
                    )
                case "input_image":
                    let url = part["image_url"]?.string
                    images += TokenEstimator.image(
                        provider: .openAI,
                        base64: url?.hasPrefix("data:") == true ? url : nil,
                        lowDetail: part["detail"]?.string == "low"
                    )
                default: text += TokenEstimator.strings(in: part)
                }
            }
            return (text, images)
        default: return (TokenEstimator.strings(in: value), 0)
        }
    }
}
