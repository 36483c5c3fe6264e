internal import FlexCodec
internal import FlexJSON

/// `GET .../models`: the models the service routes, in the listing shape of the SDK asking, each
/// with a `flexd` member saying what it supports: `{"provider", "flex_race", "tiers"}`.
enum ModelsListing {
    /// The listing of `models` (only `provider`'s, when the path is one provider's) in `envelope`'s
    /// shape.
    static func json(_ models: [ModelListing], provider: Provider?, envelope: Provider) -> JSONValue {
        let listed = models.filter { provider == nil || $0.provider == provider }
        switch envelope {
        case .openAI:
            return .object([
                "object": "list",
                "data": .array(
                    listed.map { model in
                        .object([
                            "id": .string(model.id),
                            "object": "model",
                            "created": 0,
                            "owned_by": .string(model.provider.name),
                            "flexd": Self.flexd(model),
                        ])
                    }
                ),
            ])
        case .anthropic:
            return .object([
                "data": .array(
                    listed.map { model in
                        .object([
                            "type": "model",
                            "id": .string(model.id),
                            "display_name": .string(model.id),
                            "created_at": "1970-01-01T00:00:00Z",
                            "flexd": Self.flexd(model),
                        ])
                    }
                ),
                "has_more": false,
                "first_id": .optional(listed.first?.id),
                "last_id": .optional(listed.last?.id),
            ])
        case .gemini:
            return .object([
                "models": .array(
                    listed.map { model in
                        .object([
                            "name": .string("models/\(model.id)"),
                            "displayName": .string(model.id),
                            "supportedGenerationMethods": ["generateContent", "streamGenerateContent"],
                            "flexd": Self.flexd(model),
                        ])
                    }
                )
            ])
        }
    }

    private static func flexd(_ model: ModelListing) -> JSONValue {
        .object([
            "provider": .string(model.provider.name),
            "flex_race": .bool(model.flexRace),
            "tiers": .array(model.tiers.map { .string($0.name) }),
        ])
    }
}
