internal import FlexCatalog
public import FlexCore
public import FlexHTTP
public import Logging
internal import NIOCore

/// Routes calls to the providers: the flex→standard deadline race, native passthrough, typed
/// requests, and the savings record. It is FlexCore's `InferenceService`: a transport runs calls
/// through it without knowing anything else about it.
///
/// A call goes through three steps:
/// 1. **Prepare** (`Router+Preparation.swift`): check the request, parse `start_within`, find the
///    model in the catalog and decide the ``TierPlan`` (errors here cost nothing and carry no
///    savings record).
/// 2. **Race** (`Router+Race.swift`): run attempts as the ``RaceStateMachine`` says, until one
///    *starts* (its first output event, by its adapter's rule) or the call fails. A flex attempt
///    always streams upstream so its start is observable; if the budget runs out first, its
///    transfer is cancelled (unbilled) and the call goes to standard. Nothing of an abandoned
///    attempt reaches the caller.
/// 3. **Deliver** (the same driver): forward the committed attempt (streaming callers get a
///    `route` event, then the provider's events as sent), or reassemble the provider's
///    non-streamed answer; then price the call from the tier the provider reported.
///
/// Cancelling the calling task cancels the upstream transfer in flight; the call then fails with
/// `cancelled`, and carries the savings record of what the provider billed if it had started.
public final class Router: Sendable {
    public let configuration: RouterConfiguration
    let http: HTTPClient
    let adapters: [Api: any ProviderAdapter]
    let pricing: SavingsCalculator
    /// Where the flex budgets and the backoffs between flex attempts are armed.
    let timers: DeadlineTimers

    /// The native passthrough adapters, one per API.
    public static var nativeAdapters: [any ProviderAdapter] {
        [
            OpenAIChatAdapter(), OpenAIResponsesAdapter(), AnthropicMessagesAdapter(), GeminiGenerateContentAdapter(),
            GeminiInteractionsAdapter(),
        ]
    }

    /// - Parameters:
    ///   - timers: The deadline service the flex budgets run on (flexd gives it one of its event
    ///     loops).
    public init(
        configuration: RouterConfiguration,
        httpClient: HTTPClient,
        timers: DeadlineTimers,
        adapters: [any ProviderAdapter] = Router.nativeAdapters
    ) {
        self.configuration = configuration
        self.http = httpClient
        self.timers = timers
        self.adapters = Dictionary(adapters.map { ($0.api, $0) }, uniquingKeysWith: { _, last in last })
        self.pricing = SavingsCalculator(catalog: configuration.catalog)
    }

    /// A unary call: the provider's non-streamed answer (for a typed call, the typed result
    /// instead) and the savings record.
    ///
    /// The request is consumed: once the call is prepared its body is dropped (the router keeps the
    /// parsed JSON it builds each attempt from), so a call waiting for flex does not also hold the
    /// bytes of its prompt — as long as the caller keeps no copy either.
    ///
    /// - Parameters:
    ///   - arrival: When the call reached flexd: its `start_within` budget counts from there.
    ///   - deadline: When the caller stops the call; no retry waits past it.
    public func complete(
        _ request: consuming InferenceRequest,
        logger: Logger,
        arrival: ContinuousClock.Instant = .now,
        deadline: ContinuousClock.Instant? = nil
    ) async throws(CallFailure)
        -> (InferenceResponse, SavingsRecord)
    {
        let typed = TypedCall.api(of: request)
        let call = try self.begin(
            consume request,
            streaming: false,
            deadline: deadline,
            logger: logger,
            arrival: arrival
        )
        return try TypedCall.response(typed: typed, answer: await self.run(call, emit: nil))
    }

    /// A streaming call: a `RouteDecision` event once the call has committed to a tier, then the
    /// provider's events as sent (for a typed call, the typed events they mean: ``TypedCall``);
    /// returns the savings record once the provider's stream ended.
    ///
    /// The request is consumed, as by ``complete(_:logger:arrival:deadline:)``.
    public func stream(
        _ request: consuming InferenceRequest,
        logger: Logger,
        arrival: ContinuousClock.Instant = .now,
        deadline: ContinuousClock.Instant? = nil,
        emit: @escaping EventSink
    ) async throws(CallFailure)
        -> SavingsRecord
    {
        let emit = TypedCall.emitter(for: request, emit)
        let call = try self.begin(
            consume request,
            streaming: true,
            deadline: deadline,
            logger: logger,
            arrival: arrival
        )
        return try await self.run(call, emit: emit).1
    }
}

extension Router: InferenceService {
    public func complete(
        _ request: consuming InferenceRequest,
        context: CallContext
    ) async throws(CallFailure)
        -> (InferenceResponse, SavingsRecord)
    {
        try await self.complete(
            Self.withTenantKey(consume request, context),
            logger: context.logger,
            arrival: context.arrival,
            deadline: context.deadline
        )
    }

    public func stream(
        _ request: consuming InferenceRequest,
        context: CallContext,
        emit: @escaping EventSink
    )
        async throws(CallFailure) -> SavingsRecord
    {
        try await self.stream(
            Self.withTenantKey(consume request, context),
            logger: context.logger,
            arrival: context.arrival,
            deadline: context.deadline,
            emit: emit
        )
    }

    /// The catalog's models served today, with whether each runs the flex race and the tiers it can
    /// be billed on.
    public func models() -> [ModelListing] {
        let date = self.configuration.today()
        var listing: [ModelListing] = []
        for provider in Provider.allCases {
            guard let section = self.configuration.catalog.providers[provider] else { continue }
            for model in section.models.values.sorted(by: { $0.id < $1.id }) where model.isServed(on: date) {
                let tiers = Tier.served.filter { model.offers($0, on: date) }
                listing.append(
                    ModelListing(
                        id: model.id,
                        provider: provider,
                        flexRace: model.flexCapable && model.offers(.flex, on: date),
                        tiers: tiers
                    )
                )
            }
        }
        return listing
    }

    /// BYOK first: the caller's key wins; else the tenant's configured key for the provider.
    static func withTenantKey(_ request: consuming InferenceRequest, _ context: CallContext) -> InferenceRequest {
        if request.providerKey.isEmpty, let provider = request.provider, let key = context.tenant.providerKeys[provider]
        {
            request.providerKey = key
        }
        return request
    }
}
