import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import FlexTestSupport
import Logging
import NIOCore
import Testing

@testable import FlexRouter

/// Typed requests end to end: the router, real HTTP through FlexHTTP, an in-process flexsim whose
/// strict validation must accept every translated request, for every API × {unary, stream} × the
/// scenarios of issue 8. The typed result must be what the scenario expects, the streamed events
/// must add up to the unary result, and the savings record must equal what flexsim billed.
@Suite("Typed requests end to end through the router and flexsim", .serialized)
struct TypedRouterMatrixTests {
    typealias Scenario = TypedFixtures.Scenario

    static func request(_ api: Api, _ scenario: Scenario, startWithin: String, id: String) -> InferenceRequest {
        var request = RouterRaceTests.request(api, startWithin: startWithin, id: id)
        request.body = .chat(scenario.chat)
        return request
    }

    /// What a scenario's typed result must show on an API (nil: the API cannot express it).
    static func expectation(_ scenario: Scenario, _ api: Api) -> Expectation? {
        switch scenario {
        case .plainText, .imageInput: Expectation(finish: .stop)
        case .singleToolCall: Expectation(finish: .toolCalls, calls: ["get_weather"])
        case .parallelToolCalls: Expectation(finish: .toolCalls, calls: ["get_weather", "get_time"])
        case .toolResultTurn: Expectation(finish: .stop)
        case .structuredOutput: Expectation(finish: .stop, jsonKeys: ["celsius", "city"])
        case .reasoningEffort:
            switch api.provider {
            case .openAI: Expectation(finish: .stop, reasoningTokens: true)
            // Anthropic does not count thinking apart.
            case .anthropic: Expectation(finish: .stop, reasoningSummary: true)
            case .gemini: Expectation(finish: .stop, reasoningTokens: true, reasoningSummary: true)
            }
        case .stopSequence: api == .responses ? nil : Expectation(finish: .stop)
        case .maxTokensReached: Expectation(finish: .length)
        }
    }

    struct Expectation {
        var finish: FinishReason
        var calls: [String] = []
        var jsonKeys: [String]? = nil
        var reasoningTokens = false
        var reasoningSummary = false

        func check(_ result: ChatResult, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(
                result.finishReason == self.finish,
                "\(label): \(TypedContent(result))",
                sourceLocation: sourceLocation
            )
            #expect(!result.nativeFinishReason.isEmpty, "\(label)", sourceLocation: sourceLocation)
            #expect(result.toolCalls.map(\.name) == self.calls, "\(label)", sourceLocation: sourceLocation)
            for call in result.toolCalls {
                let arguments = (try? JSONParser.parse(call.argumentsJSON))?.object
                #expect(arguments != nil, "\(label): arguments \(call.argumentsJSON)", sourceLocation: sourceLocation)
                #expect(!call.id.isEmpty, "\(label): a call without an id", sourceLocation: sourceLocation)
                // The schemas require their one property: flexsim fills it in.
                let required = call.name == "get_weather" ? "city" : "zone"
                #expect(
                    arguments?[required]?.string != nil,
                    "\(label): \(call.argumentsJSON)",
                    sourceLocation: sourceLocation
                )
            }
            if self.calls.isEmpty {
                #expect(!result.text.isEmpty, "\(label): no text", sourceLocation: sourceLocation)
            }
            if let keys = self.jsonKeys {
                let object = (try? JSONParser.parse(result.text))?.object
                #expect(object?.keys.sorted() == keys, "\(label): \(result.text)", sourceLocation: sourceLocation)
                #expect(
                    object?["city"]?.string != nil && object?["celsius"]?.number != nil,
                    "\(label)",
                    sourceLocation: sourceLocation
                )
            }
            if self.reasoningTokens {
                #expect(
                    (result.usage?.reasoningTokens ?? 0) > 0,
                    "\(label): no reasoning tokens",
                    sourceLocation: sourceLocation
                )
            }
            #expect(
                result.reasoningSummary.isEmpty != self.reasoningSummary,
                "\(label): reasoning summary \(result.reasoningSummary.count) chars",
                sourceLocation: sourceLocation
            )
            #expect(result.refusal.isEmpty, sourceLocation: sourceLocation)
        }
    }

    /// ``RouterRaceTests/expectMatchesLedger(_:_:)``, except that Anthropic does not report
    /// thinking tokens apart (its adapter's records count them as plain output, which costs the
    /// same), while flexsim's ledger does.
    static func expectMatchesLedger(_ record: SavingsRecord, _ rows: [JSONValue], _ api: Api) {
        guard api.provider == .anthropic else {
            RouterRaceTests.expectMatchesLedger(record, rows)
            return
        }
        var record = record
        #expect(record.tokens.reasoningTokens == 0)
        record.tokens.reasoningTokens = UInt64(
            rows.first { $0["billed"]?.bool == true }?["tokens"]?["reasoning"]?.int ?? 0
        )
        RouterRaceTests.expectMatchesLedger(record, rows)
    }

    static func complete(_ router: Router, _ request: InferenceRequest) async throws -> (ChatResult, SavingsRecord) {
        let (response, record) = try await router.complete(request, logger: Logger(label: "test"))
        #expect(response.nativeJSON == nil, "a typed call answers with the typed result only")
        #expect(response.requestID == request.requestID)
        return (try #require(response.chat), record)
    }

    static func stream(_ router: Router, _ request: InferenceRequest) async throws -> ([StreamEvent], SavingsRecord) {
        let collected = RouterRaceTests.EventCollector()
        let record = try await router.stream(request, logger: Logger(label: "test")) { await collected.append($0) }
        return (await collected.events, record)
    }

    @Test(arguments: Api.allCases, Scenario.allCases)
    func unaryAndStreamed(_ api: Api, _ scenario: Scenario) async throws {
        try await RouterRaceTests.withRouter { router, sim in
            let label = "\(api.name)/\(scenario.rawValue)"
            let unaryID = "typed-\(api.name)-\(scenario.rawValue)-unary"
            let streamID = "typed-\(api.name)-\(scenario.rawValue)-stream"
            guard let expected = Self.expectation(scenario, api) else {
                // The API cannot express the scenario: refused before any provider call, both ways.
                for stream in [false, true] {
                    let request = Self.request(api, scenario, startWithin: "default", id: stream ? streamID : unaryID)
                    let failure = await #expect(throws: CallFailure.self) {
                        if stream {
                            _ = try await Self.stream(router, request)
                        } else {
                            _ = try await Self.complete(router, request)
                        }
                    }
                    #expect(failure?.status.errorCode == "unsupported_for_provider", "\(label)")
                    #expect(failure?.savings == nil)
                }
                let ledger = try LoopbackHTTP.send(port: sim.port, method: "GET", path: "/sim/ledger")
                #expect(ledger.text.isEmpty, "nothing reached the provider")
                return
            }

            let (unary, unaryRecord) = try await Self.complete(
                router,
                Self.request(api, scenario, startWithin: "default", id: unaryID)
            )
            expected.check(unary, "\(label) unary")
            #expect(unary.usage == unaryRecord.tokens, "\(label): the result's usage is what was billed")
            #expect(!unary.id.isEmpty && !unary.model.isEmpty, "\(label)")
            Self.expectMatchesLedger(unaryRecord, try await RouterRaceTests.ledger(sim, unaryID, count: 1), api)

            let (events, streamRecord) = try await Self.stream(
                router,
                Self.request(api, scenario, startWithin: "default", id: streamID)
            )
            let streamed = TypedStreamAccumulator(events)
            #expect(streamed.problems.isEmpty, "\(label): \(streamed.problems)")
            #expect(events.first == .route(RouteDecision(tier: .standard)), "\(label)")
            expected.check(streamed.result, "\(label) stream")
            #expect(streamed.result.usage == streamRecord.tokens, "\(label): the finish carries what was billed")
            Self.expectMatchesLedger(streamRecord, try await RouterRaceTests.ledger(sim, streamID, count: 1), api)

            // flexsim answers the same request with the same content, streamed or not.
            #expect(TypedContent(streamed.result) == TypedContent(unary), "\(label)")
            #expect(streamed.result.usage == unary.usage, "\(label)")
        }
    }

    /// A unary typed call on flex streams upstream and the adapter reassembles the native answer:
    /// the typed result must be the one the non-streamed standard answer gives.
    @Test(arguments: RouterRaceTests.flexAPIs, Scenario.allCases.filter { $0 != .stopSequence })
    func unaryOnFlexIsReassembledToTheSameResult(_ api: Api, _ scenario: Scenario) async throws {
        try await RouterRaceTests.withRouter { router, sim in
            let label = "\(api.name)/\(scenario.rawValue)"
            let id = "typed-flex-\(api.name)-\(scenario.rawValue)"
            let (flex, flexRecord) = try await Self.complete(
                router,
                Self.request(api, scenario, startWithin: "00h-00m-30s", id: id)
            )
            #expect(flexRecord.tierServed == .flex, "\(label)")
            Self.expectMatchesLedger(flexRecord, try await RouterRaceTests.ledger(sim, id, count: 1), api)
            let (standard, _) = try await Self.complete(
                router,
                Self.request(api, scenario, startWithin: "default", id: id + "-standard")
            )
            #expect(TypedContent(flex) == TypedContent(standard), "\(label)")
            #expect(flex.usage == flexRecord.tokens, "\(label)")
            Self.expectation(scenario, api)?.check(flex, "\(label) flex")
        }
    }

    /// A streamed typed call on flex: the `route` event says flex, and the events the router held
    /// back until the start (the provider's preamble) translate like the rest.
    @Test(arguments: RouterRaceTests.flexAPIs, [Scenario.parallelToolCalls, .reasoningEffort])
    func streamedOnFlex(_ api: Api, _ scenario: Scenario) async throws {
        try await RouterRaceTests.withRouter { router, sim in
            let label = "\(api.name)/\(scenario.rawValue)"
            let id = "typed-flex-stream-\(api.name)-\(scenario.rawValue)"
            let (events, record) = try await Self.stream(
                router,
                Self.request(api, scenario, startWithin: "00h-00m-30s", id: id)
            )
            #expect(
                events.first == .route(RouteDecision(tier: .flex, flexWaitMicroseconds: record.flexWaitMicroseconds)),
                "\(label)"
            )
            let streamed = TypedStreamAccumulator(events)
            #expect(streamed.problems.isEmpty, "\(label): \(streamed.problems)")
            Self.expectation(scenario, api)?.check(streamed.result, label)
            #expect(streamed.result.usage == record.tokens)
            Self.expectMatchesLedger(record, try await RouterRaceTests.ledger(sim, id, count: 1), api)
        }
    }
}
