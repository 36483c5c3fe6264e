internal import FlexCatalog
internal import FlexCore
internal import FlexJSON
internal import Logging
internal import NIOCore

extension Router {
    /// Prepares the call (errors here cost nothing and carry no savings record).
    @inline(never)
    func begin(
        _ request: consuming InferenceRequest,
        streaming: Bool,
        deadline: ContinuousClock.Instant?,
        logger: Logger,
        arrival: ContinuousClock.Instant
    ) throws(CallFailure) -> Call {
        let date = self.configuration.today()
        do {
            let settled = try self.settledRetries(request.retry, deadline: deadline)
            let (prepared, plan, model) = try self.prepare(request, on: date, streaming: streaming)
            return Call(
                prepared: prepared,
                plan: plan,
                model: model,
                date: date,
                arrival: arrival,
                streaming: streaming,
                retryPolicy: self.configuration.retryPolicy,
                settled: settled,
                logger: logger
            )
        } catch {
            logger.debug(
                "call refused",
                metadata: ["request_id": "\(request.requestID)", "error_code": "\(error.errorCode)"]
            )
            throw error.failure()
        }
    }

    /// The call's retries on its settled tier: its own option, or the server's default.
    func settledRetries(
        _ option: RetryOption?,
        deadline: ContinuousClock.Instant?
    ) throws(RouterError) -> RaceStateMachine.SettledRetries {
        let option = option ?? self.configuration.defaultRetry
        guard option.count <= UInt32(RetryOption.maximumCount) else {
            throw RouterError(
                .invalidRetry,
                "retry.count is \(option.count); it must be 0 to \(RetryOption.maximumCount)",
                details: ["field": "retry.count"]
            )
        }
        return RaceStateMachine.SettledRetries(option, base: self.configuration.retryBase, deadline: deadline)
    }

    /// Checks the request and decides what the call will do: its adapter, its tier plan, its model's
    /// catalog entry, and its body parsed (a typed request translated to the API's native body).
    func prepare(
        _ request: InferenceRequest,
        on date: CalendarDate,
        streaming: Bool = false
    ) throws(RouterError)
        -> (PreparedCall, TierPlan, ModelEntry)
    {
        guard let provider = request.provider else {
            throw RouterError(
                .missingProvider,
                "set provider: openai, anthropic or gemini",
                details: ["field": "provider"]
            )
        }
        guard let api = request.api else {
            throw RouterError(
                .missingAPI,
                "set api: \(provider.apis.map(\.name).joined(separator: " or ")) for \(provider.name)",
                details: ["field": "api"]
            )
        }
        guard api.provider == provider else {
            throw RouterError(
                .apiProviderMismatch,
                "\(provider.name) does not offer the \(api.name) API; use \(provider.apis.map(\.name).joined(separator: " or "))",
                details: ["field": "api"]
            )
        }
        guard !request.model.isEmpty else {
            throw RouterError(.missingModel, "set model", details: ["field": "model"])
        }
        let startWithin = try StartWithin(parsing: request.startWithin)
        let model = try self.pricing.model(provider, request.model)
        let plan = try TierPlan.decide(
            startWithin,
            provider: provider,
            model: request.model,
            flexCapable: model.flexCapable && model.offers(.flex, on: date)
        )
        // Fail closed: a tier the catalog has no price for cannot be billed or checked. (Anthropic's
        // "priority" is a best-effort "auto" that falls back to standard by itself.)
        if case .single(.priority) = plan, provider != .anthropic, !model.offers(.priority, on: date) {
            throw RouterError(
                .tierNotOffered,
                "\(provider.name) model \(request.model) has no priority tier in flexd's catalog; use \"default\" or a duration",
                details: ["field": "start_within", "model": request.model]
            )
        }
        guard let adapter = self.adapters[api] else {
            throw RouterError(
                .apiNotSupported,
                "flexd does not route the \(api.name) API yet",
                details: ["field": "api"]
            )
        }
        guard let baseURL = self.configuration.baseURLs[provider] else {
            throw RouterError(.providerNotConfigured, "flexd has no base URL for \(provider.name)")
        }
        guard !request.providerKey.isEmpty else {
            throw RouterError(
                .noProviderKey,
                "send your \(provider.name) key in provider_key (flexd routes with the caller's own key)",
                details: ["field": "provider_key"]
            )
        }
        // The key goes upstream in a header: a CR, LF or other control character there could only
        // fail (or split the header), so it is the caller's error, not an unreachable provider.
        guard !Self.holdsControlCharacters(request.providerKey.value) else {
            throw RouterError(
                .invalidProviderKey,
                "the \(provider.name) key in provider_key holds control characters (such as CR or LF); send the key alone",
                details: ["field": "provider_key"]
            )
        }
        let body: JSONObject
        var passed = PassedMembers.none
        switch request.body {
        case .nativeJSON(let json):
            (body, passed) = try NativeBody.parseRequest(json, api: api)
            try NativeBody.refuseTierField(body, api: api)
        case .chat(let chat):
            body = try TypedCall.nativeBody(chat, api: api, model: request.model, streaming: streaming)
        case nil:
            throw RouterError(
                .missingBody,
                "send the \(api.name) request body as native_json",
                details: ["field": "native_json"]
            )
        }
        // The body is in `body` now, parsed: the prepared call keeps the rest of the request.
        var kept = request
        kept.body = nil
        return (
            PreparedCall(
                request: kept,
                provider: provider,
                adapter: adapter,
                body: body,
                passed: passed,
                baseURL: baseURL
            ), plan, model
        )
    }

    /// Whether `key` holds a C0 control character or DEL, which no HTTP header value may carry.
    static func holdsControlCharacters(_ key: String) -> Bool {
        key.utf8.contains { $0 < 0x20 || $0 == 0x7F }
    }
}

extension TierPlan {
    /// The tier the caller asked for, for the savings record.
    var requestedTier: Tier {
        switch self {
        case .single(let tier): tier
        case .flexRace: .flex
        }
    }
}
