internal import FlexCatalog
public import FlexCodec
public import FlexHTTP
internal import FlexJSON
public import Logging
internal import NIOCore

/// Routes calls to the providers: the flex→standard deadline race, native passthrough, and the
/// savings record (brief, section 2).
///
/// A call goes through three steps:
/// 1. **Prepare**: check the request, parse `start_within`, find the model in the catalog and decide
///    the ``TierPlan`` (errors here cost nothing and carry no savings record).
/// 2. **Race**: run attempts as the ``RaceStateMachine`` says, until one *starts* (its first output
///    event, by its adapter's rule) or the call fails. A flex attempt always streams upstream so its
///    start is observable; if the budget runs out first, its transfer is cancelled (unbilled) and
///    the call goes to standard. Nothing of an abandoned attempt reaches the caller.
/// 3. **Deliver**: forward the committed attempt (streaming callers get a `route` event, then the
///    provider's events as sent), or reassemble the provider's non-streamed answer; then price
///    the call from the tier the provider reported.
///
/// Cancelling the calling task cancels the upstream transfer in flight. The caller's deadline is
/// enforced by cancelling the task (the server does it, and reports DEADLINE_EXCEEDED).
public final class Router: Sendable {
    public let configuration: RouterConfiguration
    let http: HTTPClient
    let adapters: [Api: any ProviderAdapter]
    let pricing: SavingsCalculator

    /// Streaming callers get events through this; it suspends while the caller is not ready (that is
    /// the backpressure from the caller to the upstream transfer). Throwing stops the call.
    public typealias Emit = @Sendable (StreamEvent) async throws -> Void

    /// The native passthrough adapters, one per API.
    public static var nativeAdapters: [any ProviderAdapter] {
        [OpenAIChatAdapter(), OpenAIResponsesAdapter(), AnthropicMessagesAdapter(), GeminiGenerateContentAdapter(),
         GeminiInteractionsAdapter()]
    }

    public init(configuration: RouterConfiguration, httpClient: HTTPClient, adapters: [any ProviderAdapter] = Router.nativeAdapters) {
        self.configuration = configuration
        self.http = httpClient
        self.adapters = Dictionary(adapters.map { ($0.api, $0) }, uniquingKeysWith: { _, last in last })
        self.pricing = SavingsCalculator(catalog: configuration.catalog)
    }

    /// A unary call: the provider's non-streamed answer (for a typed call, the typed result
    /// instead) and the savings record.
    public func complete(_ request: InferenceRequest, logger: Logger) async throws(RouterFailure) -> (InferenceResponse, SavingsRecord) {
        let (body, record) = try await self.run(request, emit: nil, logger: logger)
        return (try TypedCall.response(to: request, answer: body, record: record), record)
    }

    /// A streaming call: a ``RouteDecision`` event once the call has committed to a tier, then the
    /// provider's events as sent (for a typed call, the typed events they mean: ``TypedCall``);
    /// returns the savings record once the provider's stream ended.
    public func stream(_ request: InferenceRequest, logger: Logger, emit: @escaping Emit) async throws(RouterFailure) -> SavingsRecord {
        try await self.run(request, emit: TypedCall.emitter(for: request, emit), logger: logger).1
    }

    // MARK: - The call

    private enum Committed {
        case live(LiveAttempt)
        case unary(UnaryAnswer)
    }

    private func run(_ request: InferenceRequest, emit: Emit?, logger: Logger) async throws(RouterFailure) -> (ByteBuffer?, SavingsRecord) {
        let arrival = ContinuousClock.now
        let date = self.configuration.today()
        let call: PreparedCall
        let plan: TierPlan
        let model: ModelEntry
        do {
            (call, plan, model) = try self.prepare(request, on: date, streaming: emit != nil)
        } catch {
            logger.debug("call refused", metadata: ["request_id": "\(request.requestID)", "error_code": "\(error.errorCode)"])
            throw RouterFailure(error)
        }
        var record = SavingsRecord(
            requestID: request.requestID, provider: call.provider, api: call.adapter.api, model: request.model,
            startWithin: request.startWithin, tierRequested: plan.requestedTier
        )
        let streaming = emit != nil

        // Race until an attempt starts.
        var machine = RaceStateMachine(policy: self.configuration.retryPolicy)
        var action = machine.start(plan, now: arrival)
        var flexWait: Duration = .zero
        var attemptTier = Tier.standard
        var committed: Committed?
        decide: while true {
            if Task.isCancelled { throw RouterFailure(RouterFailure.cancelled) }
            switch action {
            case .startFlex(let attempt):
                guard let budgetEnds = machine.flexBudgetEnds else {
                    action = .fail(RouterError(.internal, "internal_error", "flex attempt without a budget"))
                    continue
                }
                logger.debug("flex attempt", metadata: ["request_id": "\(request.requestID)", "attempt": "\(attempt)"])
                let began = ContinuousClock.now
                let (outcome, expired) = await self.raceFlex(call, until: budgetEnds, logger: logger)
                flexWait += ContinuousClock.now - began
                switch outcome {
                case .started(let live)?:
                    attemptTier = .flex
                    committed = .live(live)
                    action = machine.flexStarted()
                case .answered?:
                    action = machine.abort(RouterError(.internal, "internal_error", "a flex attempt answered without streaming"))
                case .failed(let failure)? where !expired:
                    action = machine.flexFailed(failure, now: .now)
                case .failed?, nil:
                    // The budget ran out: the flex transfer was cancelled before it started.
                    action = machine.budgetExpired().last ?? .fail(RouterError(.internal, "internal_error", "budget expired twice"))
                }
            case .scheduleFlexRetry(let delay):
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw RouterFailure(RouterFailure.cancelled)
                }
                action = machine.retryTimerFired(now: .now)
            case .cancelFlex:
                // Only ever returned before .startAttempt by budgetExpired(), which raceFlex has done.
                action = .fail(RouterError(.internal, "internal_error", "unexpected cancelFlex"))
            case .startAttempt(let tier):
                attemptTier = tier
                logger.debug("attempt", metadata: ["request_id": "\(request.requestID)", "tier": "\(tier)"])
                switch await self.runAttempt(call, tier: tier, stream: streaming, flexBudget: nil, logger: logger) {
                case .started(let live):
                    committed = .live(live)
                    action = machine.attemptStarted()
                case .answered(let answer):
                    committed = .unary(answer)
                    action = machine.attemptStarted()
                case .failed(let failure):
                    if Task.isCancelled { throw RouterFailure(RouterFailure.cancelled) }
                    action = machine.attemptFailed(failure)
                }
            case .commit(let commitment):
                record.fellBack = commitment.fellBack
                record.fallbackReason = commitment.fallbackReason
                record.flexAttempts = UInt32(commitment.flexAttempts)
                break decide
            case .fail(let error):
                logger.debug("call failed before starting", metadata: ["request_id": "\(request.requestID)", "error_code": "\(error.errorCode)"])
                throw RouterFailure(error)
            case .finish:
                throw RouterFailure(RouterError(.internal, "internal_error", "the race finished before committing"))
            }
        }
        record.flexWaitMicroseconds = Self.microseconds(flexWait)

        switch committed {
        case .unary(let answer)?:
            record.timeToStartMicroseconds = Self.microseconds(answer.answeredAt - arrival)
            record = try self.price(record, model: model, result: answer.result, tier: attemptTier, date: date)
            return (answer.body, record)
        case .live(let live)?:
            record.timeToStartMicroseconds = Self.microseconds(live.startedAt - arrival)
            return try await self.deliver(live, record: record, machine: &machine, model: model, tier: attemptTier, date: date,
                                          emit: emit, logger: logger)
        case nil:
            throw RouterFailure(RouterError(.internal, "internal_error", "committed without an attempt"))
        }
    }

    /// Forwards (or collects) the committed attempt to the end of the provider's stream.
    private func deliver(
        _ live: LiveAttempt,
        record: SavingsRecord,
        machine: inout RaceStateMachine,
        model: ModelEntry,
        tier: Tier,
        date: CalendarDate,
        emit: Emit?,
        logger: Logger
    ) async throws(RouterFailure) -> (ByteBuffer?, SavingsRecord) {
        var live = live
        var sawTerminal = live.sawTerminal
        var failure: RouterError?
        do {
            if let emit, let commitment = machine.commitment {
                try await emit(.route(RouteDecision(
                    tier: commitment.tier, fellBack: commitment.fellBack, fallbackReason: commitment.fallbackReason,
                    flexWaitMicroseconds: record.flexWaitMicroseconds)))
                for event in live.held { try await emit(.native(event)) }
            }
            while let event = try await live.events.next() {
                switch live.reader.consume(event) {
                case .preamble, .started, .content:
                    if let emit { try await emit(.native(event)) }
                case .terminal:
                    sawTerminal = true
                    if let emit { try await emit(.native(event)) }
                case .internalOnly:
                    continue
                case .error(let attemptFailure):
                    failure = Self.error(of: attemptFailure)
                }
                if failure != nil { break }
            }
        } catch {
            // After the start, a transfer that fails (cut connection, idle timeout, oversized event)
            // leaves the caller an incomplete answer: that is data loss, never a clean end.
            failure = Task.isCancelled
                ? RouterFailure.cancelled
                : RouterError(.dataLoss, "upstream_stream_truncated",
                              "\(record.provider?.name ?? "the provider")'s answer was cut off after it started: \(Self.error(of: Self.transportFailure(error, record.provider ?? .openAI, receivedAnything: true)).status.message)")
        }

        let action = failure.map { machine.committedFailed($0) } ?? machine.committedEnded(terminal: sawTerminal)
        // Whatever happened, the provider bills what it produced: price what its usage said.
        let result = live.reader.result ?? UpstreamResult(usage: TokenUsage(), servedTier: nil, servedTierReported: "")
        let priced = try self.price(record, model: model, result: result, tier: tier, date: date)
        switch action {
        case .finish:
            guard emit == nil else { return (nil, priced) }
            do {
                return (try live.reader.assembleResponse(), priced)
            } catch {
                throw RouterFailure(error, savings: priced)
            }
        case .fail(let error):
            logger.debug("committed call failed", metadata: ["request_id": "\(priced.requestID)", "error_code": "\(error.errorCode)"])
            throw RouterFailure(error, savings: priced)
        default:
            throw RouterFailure(RouterError(.internal, "internal_error", "unexpected end of a committed call"), savings: priced)
        }
    }

    /// Runs a flex attempt against its budget. Returns the attempt's outcome (nil if it was
    /// cancelled without one) and whether the budget ran out first; in that case the attempt was
    /// cancelled, unless it had started in the meantime, which then wins.
    private func raceFlex(_ call: PreparedCall, until deadline: ContinuousClock.Instant, logger: Logger) async -> (AttemptOutcome?, expired: Bool) {
        enum Leg: Sendable {
            case attempt(AttemptOutcome)
            case budget
        }
        let budget = max(.zero, deadline - .now)
        return await withTaskGroup(of: Leg.self) { group in
            group.addTask {
                .attempt(await self.runAttempt(call, tier: .flex, stream: true, flexBudget: budget, logger: logger))
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return .budget
            }
            var outcome: AttemptOutcome?
            var expired = false
            if case .attempt(let first)? = await group.next() {
                outcome = first
            } else {
                expired = true
            }
            group.cancelAll()
            while let leg = await group.next() {
                if case .attempt(let late) = leg { outcome = late }
            }
            if expired, case .started? = outcome {
                // It started just as the budget ran out: keep it (it is billed either way).
                expired = false
            }
            return (outcome, expired)
        }
    }

    // MARK: - Preparation

    func prepare(_ request: InferenceRequest, on date: CalendarDate, streaming: Bool = false) throws(RouterError) -> (PreparedCall, TierPlan, ModelEntry) {
        guard let provider = request.provider else {
            throw RouterError(.invalidArgument, "missing_provider", "set provider: openai, anthropic or gemini", details: ["field": "provider"])
        }
        guard let api = request.api else {
            throw RouterError(.invalidArgument, "missing_api",
                              "set api: \(provider.apis.map(\.name).joined(separator: " or ")) for \(provider.name)", details: ["field": "api"])
        }
        guard api.provider == provider else {
            throw RouterError(.invalidArgument, "api_provider_mismatch",
                              "\(provider.name) does not offer the \(api.name) API; use \(provider.apis.map(\.name).joined(separator: " or "))",
                              details: ["field": "api"])
        }
        guard !request.model.isEmpty else {
            throw RouterError(.invalidArgument, "missing_model", "set model", details: ["field": "model"])
        }
        let startWithin = try StartWithin(parsing: request.startWithin)
        let model = try self.pricing.model(provider, request.model)
        let plan = try TierPlan.decide(
            startWithin, provider: provider, model: request.model,
            flexCapable: model.flexCapable && model.offers(.flex, on: date)
        )
        // Fail closed: a tier the catalog has no price for cannot be billed or checked. (Anthropic's
        // "priority" is a best-effort "auto" that falls back to standard by itself.)
        if case .single(.priority) = plan, provider != .anthropic, !model.offers(.priority, on: date) {
            throw RouterError(.invalidArgument, "tier_not_offered",
                              "\(provider.name) model \(request.model) has no priority tier in flexd's catalog; use \"default\" or a duration",
                              details: ["field": "start_within", "model": request.model])
        }
        guard let adapter = self.adapters[api] else {
            throw RouterError(.unimplemented, "api_not_supported", "flexd does not route the \(api.name) API yet", details: ["field": "api"])
        }
        guard let baseURL = self.configuration.baseURLs[provider] else {
            throw RouterError(.failedPrecondition, "provider_not_configured", "flexd has no base URL for \(provider.name)")
        }
        guard !request.providerKey.isEmpty else {
            throw RouterError(.failedPrecondition, "no_provider_key",
                              "send your \(provider.name) key in provider_key (flexd routes with the caller's own key)",
                              details: ["field": "provider_key"])
        }
        let body: JSONObject
        switch request.body {
        case .nativeJSON(let json):
            body = try NativeBody.parseRequest(json, api: api)
        case .chat(let chat):
            body = try TypedCall.nativeBody(chat, api: api, model: request.model, streaming: streaming)
        case nil:
            throw RouterError(.invalidArgument, "missing_body", "send the \(api.name) request body as native_json", details: ["field": "native_json"])
        }
        return (PreparedCall(request: request, provider: provider, adapter: adapter, body: body, baseURL: baseURL), plan, model)
    }

    // MARK: - Helpers

    private func price(_ record: SavingsRecord, model: ModelEntry, result: UpstreamResult, tier: Tier, date: CalendarDate) throws(RouterFailure) -> SavingsRecord {
        do {
            return try self.pricing.price(record, model: model, result: result, attemptTier: tier, on: date)
        } catch {
            throw RouterFailure(error, savings: record)
        }
    }

    static func error(of failure: RaceStateMachine.AttemptFailure) -> RouterError {
        switch failure {
        case .capacity: RouterError(.unavailable, "upstream_overloaded", "the provider has no capacity for this call right now; retry later")
        case .retryable(let error, _), .fatal(let error): error
        }
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
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
