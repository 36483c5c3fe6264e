// Profile files: every section but `name` and `tiers` is optional, and so is every field inside
// a section; what is left out takes the default below (the FlexSim documentation, *Profiles*).
// An unknown field is refused rather than ignored: with optional fields, a misspelt one would
// otherwise silently become its default.

extension Profile {
    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.name = try c.decode(String.self, forKey: .name)
        self.description = try c.decodeIfPresent(String.self, forKey: .description)
        self.tiers = try c.decode([String: TierBehaviour].self, forKey: .tiers)
        self.flex = try c.decodeIfPresent(FlexCapacity.self, forKey: .flex) ?? .unlimited
        self.priorityDowngradeProbability =
            try c.decodeIfPresent(Double.self, forKey: .priorityDowngradeProbability) ?? 0
        self.faults = try c.decodeIfPresent([ProfileFault].self, forKey: .faults) ?? []
    }
}

extension Profile.TierBehaviour {
    /// Defaults: `ttft_s` 0, `tokens_per_s` 0 (all output at once).
    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            ttftSeconds: try c.decodeIfPresent(Distribution.self, forKey: .ttftSeconds) ?? .zero,
            tokensPerSecond: try c.decodeIfPresent(Double.self, forKey: .tokensPerSecond) ?? 0
        )
    }
}

extension Profile.FlexCapacity {
    /// The flex section's defaults: no refusals, no scarce windows, no queue wait, no concurrency
    /// limit, no wait limit, the preamble sent while queued.
    public static let unlimited = Profile.FlexCapacity(
        refusalProbability: 0,
        scarce: .none,
        queueWaitSeconds: .zero,
        concurrency: 0,
        maxQueueWaitSeconds: 0,
        preambleWhileQueued: true
    )

    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self.unlimited
        // Read as a number and checked here: the decoder's own error for 1.5 does not say where.
        var concurrency = defaults.concurrency
        if let number = try c.decodeIfPresent(Double.self, forKey: .concurrency) {
            guard number == number.rounded(), abs(number) < 1e9 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .concurrency,
                    in: c,
                    debugDescription: "expected an integer"
                )
            }
            concurrency = Int(number)
        }
        self.init(
            refusalProbability: try c.decodeIfPresent(Double.self, forKey: .refusalProbability)
                ?? defaults.refusalProbability,
            scarce: try c.decodeIfPresent(Profile.Scarcity.self, forKey: .scarce) ?? defaults.scarce,
            queueWaitSeconds: try c.decodeIfPresent(Distribution.self, forKey: .queueWaitSeconds)
                ?? defaults.queueWaitSeconds,
            concurrency: concurrency,
            maxQueueWaitSeconds: try c.decodeIfPresent(Double.self, forKey: .maxQueueWaitSeconds)
                ?? defaults.maxQueueWaitSeconds,
            preambleWhileQueued: try c.decodeIfPresent(Bool.self, forKey: .preambleWhileQueued)
                ?? defaults.preambleWhileQueued
        )
    }
}

extension Profile.Scarcity {
    /// Defaults (those of ``none``): `fraction` 0, `window_s` 60, `refusal_probability` 0,
    /// `wait_multiplier` 1, no `schedule`.
    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self.none
        self.init(
            fraction: try c.decodeIfPresent(Double.self, forKey: .fraction) ?? defaults.fraction,
            windowSeconds: try c.decodeIfPresent(Double.self, forKey: .windowSeconds) ?? defaults.windowSeconds,
            refusalProbability: try c.decodeIfPresent(Double.self, forKey: .refusalProbability)
                ?? defaults.refusalProbability,
            waitMultiplier: try c.decodeIfPresent(Double.self, forKey: .waitMultiplier) ?? defaults.waitMultiplier,
            schedule: try c.decodeIfPresent([Profile.ScarceSpan].self, forKey: .schedule) ?? defaults.schedule
        )
    }
}

extension Profile.ScarceSpan {
    /// Both fields are required.
    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            fromSeconds: try c.decode(Double.self, forKey: .fromSeconds),
            toSeconds: try c.decode(Double.self, forKey: .toSeconds)
        )
    }
}

extension Profile.ProfileFault {
    /// `probability` and `fault` are required; `tier` is optional.
    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            probability: try c.decode(Double.self, forKey: .probability),
            fault: try c.decode(String.self, forKey: .fault),
            tier: try c.decodeIfPresent(String.self, forKey: .tier)
        )
    }
}

/// Any key, to list the keys an object has.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension Decoder {
    /// Throws for the first key of this object that `Keys` does not name (an object only: other
    /// values are left to the decoding that follows, which names the type it expected).
    fileprivate func refuseUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        guard let container = try? self.container(keyedBy: AnyKey.self) else { return }
        let known = Set(Keys.allCases.map(\.stringValue))
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue })
        where !known.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: self.codingPath + [key],
                    debugDescription:
                        "unknown field (known: \(Keys.allCases.map(\.stringValue).joined(separator: ", ")))"
                )
            )
        }
    }
}

extension ProfileError {
    /// The decoder's error as `field.path: what is wrong`.
    init(decoding error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += (text.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return text
        }
        func located(_ keys: [any CodingKey], _ message: String) -> String {
            keys.isEmpty ? message : "\(path(keys)): \(message)"
        }
        if case .typeMismatch(let type, let context) = error {
            self.init(located(context.codingPath, "expected \(Self.describe(type))"))
        } else if case .valueNotFound(let type, let context) = error {
            self.init(located(context.codingPath, "expected \(Self.describe(type)), found null"))
        } else if case .keyNotFound(let key, let context) = error {
            self.init(located(context.codingPath + [key], "required field is missing"))
        } else if case .dataCorrupted(let context) = error, !context.codingPath.isEmpty {
            self.init(located(context.codingPath, context.debugDescription))
        } else if case .dataCorrupted(let context) = error, !context.debugDescription.contains("valid JSON") {
            self.init(context.debugDescription)
        } else {
            self.init("not a valid JSON document")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Double.Type: "a number"
        case is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: type is any ExpressibleByArrayLiteral.Type ? "an array" : "an object"
        }
    }
}
