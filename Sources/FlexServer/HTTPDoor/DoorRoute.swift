internal import FlexCodec

/// What an HTTP request asks of the door, read from its method and path: the routes of each
/// provider's SDK under its base URL, and the single base URL `/v1` of the product flexd rebuilds.
///
/// | base URL the SDK is given | routes |
/// |---|---|
/// | `/openai/v1` | `POST chat/completions`, `POST responses`, `GET models` |
/// | `/anthropic` | `POST v1/messages`, `GET v1/models` |
/// | `/gemini` (`v1beta`, `v1` or `v1alpha`) | `POST {version}/models/{model}:generateContent`, `:streamGenerateContent`, `POST {version}/interactions`, `GET {version}/models` |
/// | `/v1` | `POST chat/completions`, `responses`, `messages`, `interactions`; `GET models` |
struct DoorRoute: Sendable, Hashable {
    enum Target: Sendable, Hashable {
        /// A call of `api`. `modelInPath`: generateContent names its model in the path.
        /// `alwaysStreams`: streamGenerateContent streams whatever the body says.
        case call(Api, modelInPath: String?, alwaysStreams: Bool)
        /// The model listing.
        case models
    }

    var target: Target
    /// Whose error envelope an error on this path is written in.
    var envelope: Provider
    /// The path's own method.
    var method: String

    /// Why a request has no route: an unknown path (404) or a known path with another method (405).
    enum Miss: Error, Sendable, Hashable {
        case notFound(envelope: Provider)
        case methodNotAllowed(envelope: Provider, allowed: String)
    }

    /// The route of `method` `path` (the path without its query).
    static func find(method: String, path: String) throws(Miss) -> DoorRoute {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let route = Self.route(parts) else {
            throw .notFound(envelope: Self.envelope(parts))
        }
        guard route.method == method else {
            throw .methodNotAllowed(envelope: route.envelope, allowed: route.method)
        }
        return route
    }

    private static func route(_ parts: [String]) -> DoorRoute? {
        switch parts.first {
        case "openai":
            guard parts.count == 3 || parts.count == 4, parts[1] == "v1" else { return nil }
            return Self.openAI(Array(parts.dropFirst(2)))
        case "anthropic":
            guard parts.count == 3, parts[1] == "v1" else { return nil }
            return Self.anthropic(parts[2])
        case "gemini":
            guard parts.count >= 3, ["v1beta", "v1", "v1alpha"].contains(parts[1]) else { return nil }
            return Self.gemini(Array(parts.dropFirst(2)))
        case "v1":
            return Self.single(Array(parts.dropFirst()))
        default:
            return nil
        }
    }

    private static func openAI(_ rest: [String]) -> DoorRoute? {
        switch rest {
        case ["chat", "completions"]:
            DoorRoute(
                target: .call(.chatCompletions, modelInPath: nil, alwaysStreams: false),
                envelope: .openAI,
                method: "POST"
            )
        case ["responses"]:
            DoorRoute(
                target: .call(.responses, modelInPath: nil, alwaysStreams: false),
                envelope: .openAI,
                method: "POST"
            )
        case ["models"]: DoorRoute(target: .models, envelope: .openAI, method: "GET")
        default: nil
        }
    }

    private static func anthropic(_ last: String) -> DoorRoute? {
        switch last {
        case "messages":
            DoorRoute(
                target: .call(.messages, modelInPath: nil, alwaysStreams: false),
                envelope: .anthropic,
                method: "POST"
            )
        case "models": DoorRoute(target: .models, envelope: .anthropic, method: "GET")
        default: nil
        }
    }

    private static func gemini(_ rest: [String]) -> DoorRoute? {
        if rest == ["interactions"] {
            return DoorRoute(
                target: .call(.interactions, modelInPath: nil, alwaysStreams: false),
                envelope: .gemini,
                method: "POST"
            )
        }
        if rest == ["models"] {
            return DoorRoute(target: .models, envelope: .gemini, method: "GET")
        }
        guard rest.count == 2, rest[0] == "models", let colon = rest[1].lastIndex(of: ":") else { return nil }
        let model = String(rest[1][..<colon])
        let action = rest[1][rest[1].index(after: colon)...]
        guard !model.isEmpty else { return nil }
        switch action {
        case "generateContent":
            return DoorRoute(
                target: .call(.generateContent, modelInPath: model, alwaysStreams: false),
                envelope: .gemini,
                method: "POST"
            )
        case "streamGenerateContent":
            return DoorRoute(
                target: .call(.generateContent, modelInPath: model, alwaysStreams: true),
                envelope: .gemini,
                method: "POST"
            )
        default:
            return nil
        }
    }

    /// The single base URL: the API from the path, the provider from the model.
    private static func single(_ rest: [String]) -> DoorRoute? {
        switch rest {
        case ["chat", "completions"]:
            DoorRoute(
                target: .call(.chatCompletions, modelInPath: nil, alwaysStreams: false),
                envelope: .openAI,
                method: "POST"
            )
        case ["responses"]:
            DoorRoute(
                target: .call(.responses, modelInPath: nil, alwaysStreams: false),
                envelope: .openAI,
                method: "POST"
            )
        case ["messages"]:
            DoorRoute(
                target: .call(.messages, modelInPath: nil, alwaysStreams: false),
                envelope: .anthropic,
                method: "POST"
            )
        case ["interactions"]:
            DoorRoute(
                target: .call(.interactions, modelInPath: nil, alwaysStreams: false),
                envelope: .gemini,
                method: "POST"
            )
        case ["models"]: DoorRoute(target: .models, envelope: .openAI, method: "GET")
        default: nil
        }
    }

    /// The envelope for an unknown path: its prefix's provider, OpenAI's otherwise.
    private static func envelope(_ parts: [String]) -> Provider {
        switch parts.first {
        case "anthropic": .anthropic
        case "gemini": .gemini
        case "v1" where parts.dropFirst().first == "messages": .anthropic
        case "v1" where parts.dropFirst().first == "interactions": .gemini
        default: .openAI
        }
    }
}
