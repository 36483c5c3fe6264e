import FlexCatalog
import FlexCore
import FlexHTTP
import FlexJSON
import FlexSim
import FlexTestSupport
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import FlexRouter

/// The router end to end: real HTTP through FlexHTTP (libcurl) to an in-process flexsim, for every
/// API the router routes × every `start_within` outcome × {streamed, unary}. Each test checks the
/// served tier, the fallback reason, that the caller saw nothing from an abandoned attempt, and
/// that the savings record equals what flexsim billed, to the picousd.
@Suite("Router: the race against flexsim", .serialized)
struct RouterRaceTests {
    static let today = CalendarDate("2026-11-26")!
    /// The APIs whose provider sells flex (OpenAI, Gemini).
    static let flexAPIs: [Api] = [.chatCompletions, .responses, .generateContent, .interactions]
    static let allAPIs: [Api] = Api.allCases

    /// The deadline service the tests' routers run their flex budgets on.
    static let timers = DeadlineTimers(on: MultiThreadedEventLoopGroup.singleton.next())

    /// A router on a fresh flexsim with `profile`.
    static func withRouter<T: Sendable>(
        profile: Profile = .instant,
        retry: RaceStateMachine.RetryPolicy = .none,
        responseHeadTimeout: Duration = .seconds(600),
        idleTimeout: Duration = .seconds(120),
        defaultRetry: RetryOption = RetryOption(count: 0),
        flexPolicy: FlexPolicy = .fixed,
        _ body: @Sendable (Router, FlexsimFixture) async throws -> T
    ) async throws -> T {
        try await FlexsimFixture.with(profile: profile) { sim in
            try await withHTTPClient { http in
                let configuration = RouterConfiguration(
                    baseURLs: RouterConfiguration.flexsim("http://127.0.0.1:\(sim.port)"),
                    catalog: try Catalog.builtIn(),
                    flexPolicy: flexPolicy,
                    retryPolicy: retry,
                    defaultRetry: defaultRetry,
                    responseHeadTimeout: responseHeadTimeout,
                    idleTimeout: idleTimeout,
                    today: { RouterRaceTests.today },
                    correlationHeader: "x-flexsim-correlation-id"
                )
                return try await body(Router(configuration: configuration, httpClient: http, timers: Self.timers), sim)
            }
        }
    }

    /// A flex-capable model of the API's provider (Anthropic has no flex).
    static func model(_ api: Api) -> String {
        switch api.provider {
        case .openAI: "gpt-5.4-mini"
        case .anthropic: "claude-haiku-4-5"
        case .gemini: "gemini-3.8-flash"
        }
    }

    static func request(_ api: Api, model: String? = nil, startWithin: String, id: String) -> InferenceRequest {
        let model = model ?? Self.model(api)
        let prompt = "Explain flex processing in one line."
        let json: String =
            switch api {
            case .chatCompletions: #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(prompt)"}]}"#
            case .responses: #"{"model":"\#(model)","input":"\#(prompt)"}"#
            case .messages:
                #"{"model":"\#(model)","max_tokens":512,"messages":[{"role":"user","content":"\#(prompt)"}]}"#
            case .generateContent: #"{"contents":[{"role":"user","parts":[{"text":"\#(prompt)"}]}]}"#
            case .interactions: #"{"model":"\#(model)","input":"\#(prompt)"}"#
            }
        let key: String =
            switch api.provider {
            case .openAI: "sk-test-router"
            case .anthropic: "sk-ant-test-router"
            case .gemini: "AIza-test-router"
            }
        return InferenceRequest(
            requestID: id,
            provider: api.provider,
            api: api,
            model: model,
            startWithin: startWithin,
            providerKey: Secret(key),
            body: .nativeJSON(ByteBuffer(string: json))
        )
    }

    /// What one call produced.
    struct Outcome: Sendable {
        var record: SavingsRecord
        var body: ByteBuffer?
        var events: [StreamEvent]
    }

    static func call(
        _ router: Router,
        _ request: InferenceRequest,
        stream: Bool,
        deadline: ContinuousClock.Instant? = nil
    ) async throws -> Outcome {
        let logger = Logger(label: "test")
        if stream {
            let collected = EventCollector()
            let record = try await router.stream(request, logger: logger, deadline: deadline) {
                await collected.append($0)
            }
            return Outcome(record: record, body: nil, events: await collected.events)
        }
        let (response, record) = try await router.complete(request, logger: logger, deadline: deadline)
        return Outcome(record: record, body: response.nativeJSON, events: [])
    }

    actor EventCollector {
        var events: [StreamEvent] = []
        func append(_ event: StreamEvent) { self.events.append(event) }
    }

    /// flexsim's ledger rows for a correlation id, waiting until `count` are there.
    static func ledger(_ sim: FlexsimFixture, _ id: String, count: Int) async throws -> [JSONValue] {
        try await sim.ledgerRows(id, count: count)
    }

    /// The savings record must equal what flexsim billed: tokens of the billed row, its tier, and
    /// its cost as the actual cost.
    static func expectMatchesLedger(_ record: SavingsRecord, _ rows: [JSONValue]) {
        let billed = rows.filter { $0["billed"]?.bool == true }
        #expect(billed.count == 1, "exactly one billed attempt, got \(billed.count)")
        guard let row = billed.first else { return }
        #expect(record.actualCostPicoUSD == row["cost_picousd"]?.int)
        #expect(record.tierServed?.name == row["tier_served"]?.string)
        let tokens = row["tokens"]
        #expect(Int64(record.tokens.inputTokens) == tokens?["input"]?.int)
        #expect(Int64(record.tokens.cachedInputTokens) == tokens?["cached_input"]?.int)
        #expect(Int64(record.tokens.outputTokens) == tokens?["output"]?.int)
        #expect(Int64(record.tokens.reasoningTokens) == tokens?["reasoning"]?.int)
        #expect(record.actualCostPicoUSD <= record.standardCostPicoUSD || record.tierServed == .priority)
        #expect(record.feePicoUSD == (record.tierServed == .flex ? record.savedPicoUSD / 5 : 0))
    }

    /// The response id of every native event the caller saw that carries one (Chat `id`,
    /// Responses `response.id`, Anthropic `message.id`, Gemini `responseId`, Interactions
    /// `interaction.id`), to prove they all come from one attempt.
    static func responseIDs(_ events: [StreamEvent]) -> Set<String> {
        var ids: Set<String> = []
        for case .native(let event) in events {
            guard let json = try? JSONParser.parse(event.data.readableBytesView) else { continue }
            for id in [
                json["id"], json["response"]?["id"], json["message"]?["id"], json["responseId"],
                json["interaction"]?["id"],
            ] {
                if let id = id?.string { ids.insert(id) }
            }
        }
        return ids
    }

    // MARK: - Flex

    @Test(arguments: flexAPIs, [false, true])
    func flexStartsInTime(_ api: Api, _ stream: Bool) async throws {
        try await Self.withRouter { router, sim in
            let id = "flex-ok-\(api.name)-\(stream)"
            let outcome = try await Self.call(
                router,
                Self.request(api, startWithin: "00h-00m-30s", id: id),
                stream: stream
            )
            #expect(outcome.record.tierRequested == .flex)
            #expect(outcome.record.tierServed == .flex)
            #expect(!outcome.record.fellBack && outcome.record.fallbackReason == nil)
            #expect(outcome.record.flexAttempts == 1)
            #expect(outcome.record.savedPicoUSD > 0 && outcome.record.feePicoUSD > 0)
            Self.expectMatchesLedger(outcome.record, try await Self.ledger(sim, id, count: 1))
            if stream {
                #expect(
                    outcome.events.first
                        == .route(RouteDecision(tier: .flex, flexWaitMicroseconds: outcome.record.flexWaitMicroseconds))
                )
                #expect(Self.responseIDs(outcome.events).count == 1)
            } else {
                // A proper non-streamed answer of the API, reassembled from the stream.
                let json = try JSONParser.parse(outcome.body!.readableBytesView)
                #expect(json.object != nil)
            }
        }
    }

    @Test(arguments: flexAPIs, [false, true])
    func flexRefusedFallsBackAtOnce(_ api: Api, _ stream: Bool) async throws {
        try await Self.withRouter(profile: .outage) { router, sim in
            let id = "flex-refused-\(api.name)-\(stream)"
            let outcome = try await Self.call(
                router,
                Self.request(api, startWithin: "00h-00m-30s", id: id),
                stream: stream
            )
            #expect(outcome.record.tierServed == .standard)
            #expect(outcome.record.fellBack && outcome.record.fallbackReason == .flexCapacity)
            #expect(outcome.record.savedPicoUSD == 0 && outcome.record.feePicoUSD == 0)
            let rows = try await Self.ledger(sim, id, count: 2)
            #expect(rows.contains { $0["tier_served"] == .null && $0["billed"]?.bool == false })
            Self.expectMatchesLedger(outcome.record, rows)
            if stream {
                #expect(
                    outcome.events.first
                        == .route(
                            RouteDecision(
                                tier: .standard,
                                fellBack: true,
                                fallbackReason: .flexCapacity,
                                flexWaitMicroseconds: outcome.record.flexWaitMicroseconds
                            )
                        )
                )
            }
        }
    }

    @Test(arguments: flexAPIs, [false, true])
    func flexTooSlowIsAbandonedUnbilledAndNothingOfItReachesTheCaller(_ api: Api, _ stream: Bool) async throws {
        var slow = Profile.instant
        slow.flex.queueWaitSeconds = .constant(30)
        try await Self.withRouter(profile: slow) { router, sim in
            let id = "flex-slow-\(api.name)-\(stream)"
            let outcome = try await Self.call(
                router,
                Self.request(api, startWithin: "00h-00m-01s", id: id),
                stream: stream
            )
            #expect(outcome.record.tierServed == .standard)
            #expect(outcome.record.fallbackReason == .flexStartTimeout)
            // The budget runs from the call's arrival; the flex wait from the attempt's start, a
            // moment later, so only the time to start is sure to cover the whole budget.
            #expect(outcome.record.timeToStartMicroseconds >= 1_000_000)
            #expect(outcome.record.flexWaitMicroseconds > 0)
            #expect(outcome.record.flexWaitMicroseconds <= outcome.record.timeToStartMicroseconds)
            let rows = try await Self.ledger(sim, id, count: 2)
            let flex = rows.first { $0["tier_asked"]?.string == "flex" }
            #expect(flex?["outcome"]?.string == "cancelled_before_start")
            #expect(flex?["billed"]?.bool == false)
            Self.expectMatchesLedger(outcome.record, rows)
            if stream {
                // flexsim sent the flex attempt's preamble while it was queued; none of it may
                // reach the caller: every event carries the standard attempt's response id.
                let standard = rows.first { $0["tier_asked"]?.string != "flex" }?["response_id"]?.string
                #expect(Self.responseIDs(outcome.events) == Set([standard].compactMap { $0 }))
            }
        }
    }

    @Test func flexRetryAfterARefusalWhenBudgetAllows() async throws {
        // Refuse every flex attempt: with three attempts allowed and room in the budget, the
        // router tries three times, then falls back; each refusal is unbilled.
        let policy = RaceStateMachine.RetryPolicy(
            maxFlexAttempts: 3,
            initialBackoff: .milliseconds(20),
            minimumBudgetForRetry: .milliseconds(100)
        )
        try await Self.withRouter(profile: .outage, retry: policy) { router, sim in
            let id = "flex-retry"
            let outcome = try await Self.call(
                router,
                Self.request(.chatCompletions, startWithin: "00h-00m-10s", id: id),
                stream: false
            )
            #expect(outcome.record.flexAttempts == 3)
            #expect(outcome.record.fallbackReason == .flexCapacity)
            let rows = try await Self.ledger(sim, id, count: 4)
            #expect(rows.filter { $0["billed"]?.bool == false }.count == 3)
            Self.expectMatchesLedger(outcome.record, rows)
        }
    }

    // MARK: - Single tiers

    @Test(arguments: allAPIs, [false, true])
    func singleTiers(_ api: Api, _ stream: Bool) async throws {
        try await Self.withRouter { router, sim in
            let cases: [(String, Tier)] =
                switch api.provider {
                case .gemini: [("priority", .priority), ("default", .standard)]  // Gemini has no auto
                default: [("priority", .priority), ("default", .standard), ("auto", .auto)]
                }
            for (startWithin, requested) in cases {
                let id = "\(startWithin)-\(api.name)-\(stream)"
                let outcome = try await Self.call(
                    router,
                    Self.request(api, startWithin: startWithin, id: id),
                    stream: stream
                )
                #expect(outcome.record.tierRequested == requested)
                #expect(!outcome.record.fellBack && outcome.record.flexAttempts == 0)
                if requested == .standard { #expect(outcome.record.tierServed == .standard) }
                if requested == .priority && api.provider != .anthropic {
                    #expect(outcome.record.tierServed == .priority)
                }
                // Whatever tier served the call, the record bills that tier, as flexsim did.
                Self.expectMatchesLedger(outcome.record, try await Self.ledger(sim, id, count: 1))
                if stream {
                    #expect(outcome.events.first == .route(RouteDecision(tier: requested)))
                    #expect(outcome.events.count > 2)
                } else {
                    #expect(outcome.body.map { (try? JSONParser.parse($0.readableBytesView))?.object != nil } == true)
                }
            }
        }
    }

    // MARK: - Refusals before routing

    @Test func requestsTheRouterRefusesCostNothing() async throws {
        try await Self.withRouter { router, _ in
            let cases: [(InferenceRequest, String)] = [
                (Self.request(.chatCompletions, startWithin: "", id: "a"), "missing_start_within"),
                (Self.request(.chatCompletions, startWithin: "soon", id: "b"), "invalid_start_within"),
                (
                    Self.request(.chatCompletions, model: "gpt-4.1", startWithin: "00h-00m-30s", id: "c"),
                    "model_not_flex_capable"
                ),
                (Self.request(.chatCompletions, model: "gpt-99", startWithin: "default", id: "d"), "unknown_model"),
                (
                    InferenceRequest(provider: .openAI, api: .messages, model: "gpt-5.4-mini", startWithin: "default"),
                    "api_provider_mismatch"
                ),
                (Self.request(.messages, startWithin: "00h-00m-30s", id: "f"), "flex_unsupported_for_anthropic"),
                (Self.request(.generateContent, startWithin: "auto", id: "g"), "auto_unsupported_for_gemini"),
                (
                    Self.request(.interactions, model: "gemini-4-argon", startWithin: "00h-01m-00s", id: "h"),
                    "model_not_flex_capable"
                ),
                (
                    Self.request(.generateContent, model: "gemini-2.5-flash", startWithin: "priority", id: "i"),
                    "tier_not_offered"
                ),
            ]
            for (request, code) in cases {
                do {
                    _ = try await router.complete(request, logger: Logger(label: "test"))
                    Issue.record("\(code): the call succeeded")
                } catch let failure as CallFailure {
                    #expect(failure.status.errorCode == code)
                    #expect(failure.savings == nil)
                } catch {
                    Issue.record("\(code): unexpected \(error)")
                }
            }
            var keyless = Self.request(.chatCompletions, startWithin: "default", id: "e")
            keyless.providerKey = ""
            let error = try await #require(throws: CallFailure.self) {
                try await router.complete(keyless, logger: Logger(label: "test"))
            }
            #expect(error.status.errorCode == "no_provider_key")
        }
    }

    /// A tier set in the native body (the caller's own `service_tier`/`serviceTier`) is refused,
    /// not overwritten; a provider key that no HTTP header can carry is the caller's error, not an
    /// unreachable provider. Neither reaches flexsim.
    @Test func aTierInTheBodyAndAKeyWithControlCharactersAreRefused() async throws {
        try await Self.withRouter { router, _ in
            var cases: [(InferenceRequest, String, String)] = []
            for (api, field) in [
                (Api.chatCompletions, "service_tier"), (.responses, "service_tier"), (.messages, "service_tier"),
                (.generateContent, "serviceTier"), (.interactions, "service_tier"),
            ] {
                var request = Self.request(api, startWithin: "default", id: "tier-\(api.name)")
                guard case .nativeJSON(let body)? = request.body,
                    case .object(var object) = try JSONParser.parse(body.readableBytesView)
                else {
                    Issue.record("the fixture's body is not a JSON object")
                    return
                }
                object[field] = .string("flex")
                var edited = ByteBuffer()
                JSONValue.object(object).write(into: &edited)
                request.body = .nativeJSON(edited)
                cases.append((request, "service_tier_not_allowed", field))
            }
            for key in ["sk-test\r\nX-Injected: 1", "sk-test\n", "sk-\u{7F}test"] {
                var request = Self.request(.chatCompletions, startWithin: "default", id: "key")
                request.providerKey = Secret(key)
                cases.append((request, "invalid_provider_key", "provider_key"))
            }
            for (request, code, field) in cases {
                let failure = try await #require(throws: CallFailure.self) {
                    try await router.complete(request, logger: Logger(label: "test"))
                }
                #expect(failure.status.errorCode == code)
                #expect(failure.status.code == .invalidArgument)
                #expect(failure.status.details["field"] == field)
                #expect(failure.savings == nil)
                #expect(!failure.status.message.contains("sk-test"), "the key must not be echoed")
            }
        }
    }
}
