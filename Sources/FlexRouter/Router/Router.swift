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
    ///
    /// The request is consumed: once the call is prepared its body is dropped (the router keeps the
    /// parsed JSON it builds each attempt from), so a call waiting for flex does not also hold the
    /// bytes of its prompt — as long as the caller keeps no copy either.
    public func complete(_ request: consuming InferenceRequest, logger: Logger) async throws(RouterFailure) -> (InferenceResponse, SavingsRecord) {
        let typed = TypedCall.api(of: request)
        let call = try self.begin(consume request, streaming: false, logger: logger)
        try await self.race(call)
        return try TypedCall.response(typed: typed, answer: await self.deliver(call, emit: nil))
    }

    /// A streaming call: a ``RouteDecision`` event once the call has committed to a tier, then the
    /// provider's events as sent (for a typed call, the typed events they mean: ``TypedCall``);
    /// returns the savings record once the provider's stream ended.
    ///
    /// The request is consumed, as by ``complete(_:logger:)``.
    public func stream(_ request: consuming InferenceRequest, logger: Logger, emit: @escaping Emit) async throws(RouterFailure) -> SavingsRecord {
        let emit = TypedCall.emitter(for: request, emit)
        let call = try self.begin(consume request, streaming: true, logger: logger)
        try await self.race(call)
        return try await self.deliver(call, emit: emit).1
    }

    // MARK: - The call
    //
    // A call waits in `race` for as long as flex takes to start, and in `deliver` for as long as
    // the provider streams; so these async functions hold little more than a reference to the
    // ``Call``, and the synchronous work is in out-of-line functions (``Call``'s methods, `begin`,
    // `finishLive`, ...): see README, "FlexRouter", "Memory per call".

    /// Prepares the call (errors here cost nothing and carry no savings record).
    @inline(never)
    private func begin(_ request: consuming InferenceRequest, streaming: Bool, logger: Logger) throws(RouterFailure) -> Call {
        let arrival = ContinuousClock.now
        let date = self.configuration.today()
        do {
            let (prepared, plan, model) = try self.prepare(request, on: date, streaming: streaming)
            return Call(prepared: prepared, plan: plan, model: model, date: date, arrival: arrival, streaming: streaming,
                        retryPolicy: self.configuration.retryPolicy, logger: logger)
        } catch {
            logger.debug("call refused", metadata: ["request_id": "\(request.requestID)", "error_code": "\(error.errorCode)"])
            throw RouterFailure(error)
        }
    }

    /// Runs attempts as the ``RaceStateMachine`` says until one starts (the call commits to it) or the
    /// call fails.
    @inline(never)
    private func race(_ call: Call) async throws(RouterFailure) {
        var step = try call.start()
        while true {
            switch step {
            case .committed:
                return
            case .flex(let attempt, let budgetEnds):
                step = try await self.raceFlex(call, attempt: attempt, until: budgetEnds)
            case .backoff(let delay):
                step = try await Self.backOff(call, for: delay)
            case .attempt(let tier):
                step = try await self.attempt(call, tier: tier)
            }
        }
    }

    /// Waits before the next flex attempt, after a capacity refusal.
    @inline(never)
    private static func backOff(_ call: Call, for delay: Duration) async throws(RouterFailure) -> Call.Step {
        await DeadlineSignal.sleep(until: .now + delay)
        if Task.isCancelled {
            throw RouterFailure(RouterFailure.cancelled)
        }
        return try call.retryTimerFired()
    }

    /// Runs a standard (or single-tier) attempt until it starts, answers or fails.
    @inline(never)
    private func attempt(_ call: Call, tier: Tier) async throws(RouterFailure) -> Call.Step {
        call.attemptStarting(tier)
        let outcome = await self.runAttempt(call.prepared, tier: tier, stream: call.streaming, flexBudget: nil, logger: call.logger)
        return try call.attemptEnded(outcome)
    }

    /// Forwards (or collects) the committed attempt to the end of the provider's stream, and prices
    /// the call.
    @inline(never)
    private func deliver(_ call: Call, emit: Emit?) async throws(RouterFailure) -> (ByteBuffer?, SavingsRecord) {
        guard var events = call.beginDelivery() else {
            return try self.finishUnary(call)
        }
        do {
            if let emit {
                for event in call.eventsBeforeDelivery() { try await emit(event) }
            }
            reading: while let event = try await events.next() {
                switch call.consume(event) {
                case .forward:
                    if let emit { try await emit(.native(event)) }
                case .skip:
                    continue
                case .stop:
                    break reading
                }
            }
        } catch {
            call.cutOff(by: error)
        }
        return try self.finishLive(call, streaming: emit != nil)
    }

    /// The end of a call whose attempt answered unstreamed (or that has no attempt: a bug).
    @inline(never)
    private func finishUnary(_ call: Call) throws(RouterFailure) -> (ByteBuffer?, SavingsRecord) {
        guard let answer = call.answer else {
            throw RouterFailure(RouterError(.internal, "internal_error", "committed without an attempt"))
        }
        call.record.timeToStartMicroseconds = Self.microseconds(answer.answeredAt - call.arrival)
        let record = try self.price(call.record, model: call.model, result: answer.result, tier: call.attemptTier, date: call.date)
        return (answer.body, record)
    }

    /// The end of a streamed attempt's answer: prices what the provider's usage said, and for a unary
    /// caller reassembles the provider's non-streamed answer.
    @inline(never)
    private func finishLive(_ call: Call, streaming: Bool) throws(RouterFailure) -> (ByteBuffer?, SavingsRecord) {
        guard let live = call.live else {
            throw RouterFailure(RouterError(.internal, "internal_error", "committed without an attempt"))
        }
        call.record.timeToStartMicroseconds = Self.microseconds(live.startedAt - call.arrival)
        let action = call.failure.map { call.machine.committedFailed($0) } ?? call.machine.committedEnded(terminal: call.sawTerminal)
        // Whatever happened, the provider bills what it produced: price what its usage said.
        let result = live.reader.result ?? UpstreamResult(usage: TokenUsage(), servedTier: nil, servedTierReported: "")
        let priced = try self.price(call.record, model: call.model, result: result, tier: call.attemptTier, date: call.date)
        switch action {
        case .finish:
            guard !streaming else { return (nil, priced) }
            do {
                return (try live.reader.assembleResponse(), priced)
            } catch {
                throw RouterFailure(error, savings: priced)
            }
        case .fail(let error):
            call.logger.debug("committed call failed", metadata: ["request_id": "\(priced.requestID)", "error_code": "\(error.errorCode)"])
            throw RouterFailure(error, savings: priced)
        default:
            throw RouterFailure(RouterError(.internal, "internal_error", "unexpected end of a committed call"), savings: priced)
        }
    }

    /// Runs a flex attempt against its budget. If the budget runs out first, the attempt's transfer is
    /// cancelled and the call goes on to standard.
    ///
    /// The attempt runs in the call's own task, not a child: the budget is a timer
    /// (``DeadlineSignal``) whose end cancels the transfer through its cancellation handle, and the
    /// attempt's end (started, refused, failed) disarms it. A waiting call so costs no task and no
    /// task group for its flex attempt.
    @inline(never)
    private func raceFlex(_ call: Call, attempt: Int, until deadline: ContinuousClock.Instant) async throws(RouterFailure) -> Call.Step {
        let began = call.flexAttemptStarting(attempt)
        let budget = DeadlineSignal()
        let cancellation = Self.arm(budget, until: deadline)
        let outcome = await self.runAttempt(call.prepared, tier: .flex, stream: true, flexBudget: max(.zero, deadline - .now),
                                            cancellation: cancellation, logger: call.logger)
        // True when the budget ran out first: its timer has cancelled the transfer (an attempt that
        // started in the same instant is cancelled too, and the call falls back).
        let expired = budget.signal()
        return try call.flexAttemptEnded(outcome, expired: expired, began: began)
    }

    /// Arms the flex budget's timer: at its end, it cancels the attempt's transfer.
    @inline(never)
    private static func arm(_ budget: DeadlineSignal, until deadline: ContinuousClock.Instant) -> HTTPCancellationHandle {
        let cancellation = HTTPCancellationHandle()
        budget.arm(until: deadline) { cancellation.cancel() }
        return cancellation
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
        // The body is in `body` now, parsed: the prepared call keeps the rest of the request.
        var kept = request
        kept.body = nil
        return (PreparedCall(request: kept, provider: provider, adapter: adapter, body: body, baseURL: baseURL), plan, model)
    }

    // MARK: - Helpers

    @inline(never)
    private func price(_ record: SavingsRecord, model: ModelEntry, result: UpstreamResult, tier: Tier, date: CalendarDate) throws(RouterFailure) -> SavingsRecord {
        do {
            return try self.pricing.price(record, model: model, result: result, attemptTier: tier, on: date)
        } catch {
            throw RouterFailure(error, savings: record)
        }
    }

    @inline(never)
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
