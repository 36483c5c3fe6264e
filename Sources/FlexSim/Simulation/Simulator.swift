internal import FlexCatalog
internal import FlexCore
internal import FlexJSON
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The request → plan half of flexsim, with no I/O: routes a complete HTTP request, checks the
/// key, validates the body, applies the capacity model and faults, generates the answer and
/// decides its timeline. `SimHTTPHandler` then carries the plan out on the connection.
public final class Simulator: Sendable {
    public let configuration: SimConfiguration
    public let ledger: SimLedger
    public let capacity: CapacityModel
    let cache = PromptCache()
    private let counter = NIOLockedValueBox<UInt64>(0)
    /// Requests seen per correlation id that carried a `fail_first` fault (its count).
    private let failFirstSeen = NIOLockedValueBox<[String: Int]>([:])
    private let nonce = UInt64.random(in: 1...UInt64.max)
    private let profileFaults: [(probability: Double, faults: [Fault], tier: String?)]

    static let adapters: [Api: any APIAdapter] = [
        .chatCompletions: OpenAIChatAdapter(), .responses: OpenAIResponsesAdapter(),
        .messages: AnthropicMessagesAdapter(),
        .generateContent: GeminiGenerateContentAdapter(), .interactions: GeminiInteractionsAdapter(),
    ]

    public init(configuration: SimConfiguration) {
        self.configuration = configuration
        self.ledger = SimLedger(capacity: configuration.ledgerCapacity)
        self.capacity = CapacityModel(
            profile: configuration.profile,
            seed: configuration.seed,
            timeScale: configuration.timeScale
        )
        self.profileFaults = configuration.profile.faults.map {
            ($0.probability, (try? Fault.parseList($0.fault)) ?? [], $0.tier)
        }
    }

    /// Whether an injected status applies to this request: always, unless `fail_first=N` limits it
    /// to the first N requests of the correlation id (a request without one always fails).
    private func failsThisTime(_ faults: [Fault], correlation: String?) -> Bool {
        var limit: Int?
        for case .failFirst(let count) in faults { limit = count }
        guard let limit, let correlation else { return true }
        return self.failFirstSeen.withLockedValue { seen in
            if seen.count >= 100_000 { seen.removeAll() }  // a test knob: bounded all the same
            let count = seen[correlation, default: 0] + 1
            seen[correlation] = count
            return count <= limit
        }
    }

    /// Forgets the ledger, the prompt cache and the capacity reservations.
    public func reset() {
        self.ledger.reset()
        self.failFirstSeen.withLockedValue { $0.removeAll() }
        self.cache.reset()
        self.capacity.reset()
    }

    // MARK: Plans

    /// What to do with one request.
    enum Plan {
        case respond(HTTPResponse)
        case simulate(SimulatedExchange)
    }

    struct Route {
        var api: Api
        var urlModel: String?
        var stream: Bool?
        /// Gemini's API version from the path (`v1beta` or `v1`); nil for the other providers.
        var apiVersion: String?
    }

    /// The Gemini API versions flexsim serves, each with the same handlers: `v1beta`, and `v1`,
    /// the google-genai SDK's default.
    static let geminiVersions = ["v1beta", "v1"]

    static func route(method: HTTPMethod, uri: String) -> (Route?, query: Substring) {
        let parts = uri.split(separator: "?", maxSplits: 1)
        let path = parts.first ?? ""
        let query = parts.count > 1 ? parts[1] : ""
        switch path {
        case "/openai/v1/chat/completions": return (Route(api: .chatCompletions), query)
        case "/openai/v1/responses": return (Route(api: .responses), query)
        case "/anthropic/v1/messages": return (Route(api: .messages), query)
        default: break
        }
        for version in Self.geminiVersions {
            let base = "/gemini/" + version
            guard path.hasPrefix(base + "/") else { continue }
            let rest = path.dropFirst(base.count)
            if rest == "/interactions" { return (Route(api: .interactions, apiVersion: version), query) }
            guard rest.hasPrefix("/models/") else { break }
            let name = rest.dropFirst("/models/".count)
            guard let colon = name.lastIndex(of: ":") else { break }
            let model = String(name[..<colon])
            switch name[name.index(after: colon)...] {
            case "generateContent":
                return (Route(api: .generateContent, urlModel: model, stream: false, apiVersion: version), query)
            case "streamGenerateContent":
                return (Route(api: .generateContent, urlModel: model, stream: true, apiVersion: version), query)
            default: break
            }
        }
        return (nil, query)
    }

    static func queryValue(_ query: Substring, _ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.first.map(String.init) == name { return kv.count > 1 ? String(kv[1]) : "" }
        }
        return nil
    }

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        var body = ByteBuffer()
        value.write(into: &body)
        return HTTPResponse(status: status, headers: [("content-type", "application/json")] + headers, body: body)
    }

    func nextNumber() -> UInt64 {
        self.counter.withLockedValue {
            $0 &+= 1
            return $0
        }
    }

    /// Provider requests received and not yet in the ledger (queued, generating or streaming).
    var inFlight: Int { max(0, Int(self.counter.withLockedValue { $0 }) - self.ledger.appended) }

    static func nowSeconds() -> Int64 { Int64(time(nil)) }

    /// Wall-clock milliseconds since 1970 (the ledger's `received_at_ms`).
    static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Plans the answer to one complete request.
    func plan(head: HTTPRequestHead, body: ByteBuffer, bodyTooLarge: Bool) -> Plan {
        let (route, query) = Self.route(method: head.method, uri: head.uri)
        guard let route else {
            let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
            switch (head.method, path) {
            case (.GET, "/healthz"):
                return .respond(
                    Self.json(
                        200,
                        [
                            "status": "ok", "profile": .string(self.configuration.profile.name),
                            "seed": .int(Int64(bitPattern: self.configuration.seed)),
                            "time_scale": .double(self.configuration.timeScale),
                            "ledger_lines": .integer(self.ledger.count),
                            "in_flight": .integer(self.inFlight),
                        ]
                    )
                )
            case (.GET, "/sim/ledger"):
                let after = Self.queryValue(query, "after").flatMap { Int($0) } ?? 0
                return .respond(
                    HTTPResponse(
                        status: 200,
                        headers: [("content-type", "application/x-ndjson")],
                        body: self.ledger.lines(after: after)
                    )
                )
            case (.POST, "/sim/reset"):
                self.reset()
                return .respond(Self.json(200, ["status": "reset"]))
            default:
                return .respond(
                    Self.json(
                        404,
                        [
                            "error": [
                                "code": 404, "message": .string("flexsim has no route \(head.method) \(path)"),
                                "status": "NOT_FOUND",
                            ]
                        ]
                    )
                )
            }
        }
        let api = route.api
        let provider = api.provider
        let number = self.nextNumber()
        var ids = IDSource(requestNumber: number, nonce: self.nonce)
        let requestID = "req_" + ids.token(24)
        let correlation = head.headers.first(name: "x-flexsim-correlation-id").map { String($0.prefix(128)) }
        let date = self.configuration.priceDate ?? CalendarDate(unixSeconds: Self.nowSeconds())
        var idHeaders: [(String, String)] = [("x-flexsim-request-id", requestID)]
        switch provider {
        case .openAI: idHeaders.append(("x-request-id", requestID))
        case .anthropic: idHeaders.append(("request-id", requestID))
        case .gemini: break
        }
        if let correlation { idHeaders.append(("x-flexsim-correlation-id", correlation)) }
        var entry = LedgerEntry(
            id: requestID,
            correlationID: correlation,
            provider: provider,
            api: api.name,
            model: route.urlModel,
            responseID: nil,
            stream: route.stream ?? false,
            status: 0,
            tierAsked: nil,
            tierServed: nil,
            outcome: "rejected",
            billed: false,
            reason: "",
            tokens: TokenUsage(),
            cost: .zero,
            queueWaitMS: nil,
            fault: nil,
            receivedAtMS: Self.nowMilliseconds()
        )

        func fail(_ error: ProviderError, outcome: String = "rejected", retryAfter: Int? = nil) -> Plan {
            entry.status = error.status
            entry.outcome = outcome
            entry.reason = error.ledgerReason
            self.ledger.append(entry)
            var headers = idHeaders
            if let retryAfter {
                headers.append(("retry-after", String(retryAfter)))
            } else if error.status == 429 || error.status == 503 || error.status == 529 {
                headers.append(("retry-after", "1"))
            }
            return .respond(
                Self.json(error.status, error.body(provider: provider, requestID: requestID), headers: headers)
            )
        }

        guard head.method == .POST else {
            return fail(Check(provider: provider).invalid("Method \(head.method) is not allowed here; use POST."))
        }
        // Authentication first, as the real APIs do.
        switch provider {
        case .openAI:
            guard let auth = head.headers.first(name: "authorization"), auth.hasPrefix("Bearer "), auth.count > 7 else {
                return fail(.unauthorized(provider, missing: true))
            }
            guard self.configuration.accepts(key: String(auth.dropFirst(7)), for: provider) else {
                return fail(.unauthorized(provider, missing: false))
            }
        case .anthropic:
            // x-api-key, or (as the current Python SDK sends it) Authorization: Bearer.
            let bearer = head.headers.first(name: "authorization").flatMap {
                $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil
            }
            guard let key = head.headers.first(name: "x-api-key") ?? bearer, !key.isEmpty else {
                return fail(.unauthorized(provider, missing: true))
            }
            guard self.configuration.accepts(key: key, for: provider) else {
                return fail(.unauthorized(provider, missing: false))
            }
            guard head.headers.first(name: "anthropic-version") != nil else {
                return fail(Check(provider: .anthropic).invalid("anthropic-version: header is required"))
            }
        case .gemini:
            guard let key = head.headers.first(name: "x-goog-api-key") ?? Self.queryValue(query, "key"), !key.isEmpty
            else {
                return fail(.unauthorized(provider, missing: true))
            }
            guard self.configuration.accepts(key: key, for: provider) else {
                return fail(.unauthorized(provider, missing: false))
            }
        }
        if bodyTooLarge { return fail(.bodyTooLarge(provider, limit: self.configuration.maxBodyBytes)) }
        if route.stream == true && Self.queryValue(query, "alt") != "sse" {
            return fail(
                Check(provider: .gemini).invalid(
                    "flexsim serves streamGenerateContent as server-sent events only: add ?alt=sse."
                )
            )
        }

        // Faults asked for by header, or drawn from the profile.
        var faults: [Fault] = []
        if let text = head.headers.first(name: "x-flexsim-fault") {
            do { faults = try Fault.parseList(text) } catch {
                return fail(
                    Check(provider: provider).invalid(
                        "x-flexsim-fault: cannot read \"\(error.item)\" (see the FlexSim documentation, *Fault injection*)"
                    )
                )
            }
        }
        var forced: Int?
        if let text = head.headers.first(name: "x-flexsim-output-tokens") {
            guard let n = Int(text), (0...1_000_000).contains(n) else {
                return fail(
                    Check(provider: provider).invalid("x-flexsim-output-tokens must be an integer from 0 to 1000000")
                )
            }
            forced = n
        }
        let parsed: JSONValue
        do { parsed = try JSONParser.parse(body.readableBytesView) } catch {
            return fail(.invalidJSON(provider, error))
        }
        // The answer depends on what was asked, not on how it is carried: the same request streamed
        // or not, on any tier, gets the same output (as a seeded model would give).
        let contentHash = Self.contentHash(parsed)
        if faults.isEmpty, !self.profileFaults.isEmpty {
            var random = SimRandom(seed: self.configuration.seed, contentHash, number, 0xFA17)
            let tierAsked = (parsed["service_tier"] ?? parsed["serviceTier"])?.string
            for candidate in self.profileFaults where random.unit() < candidate.probability {
                if let tier = candidate.tier, tier != tierAsked { continue }
                faults += candidate.faults
            }
        }
        for case .largeResponse(let bytes) in faults { forced = bytes / 4 }
        entry.fault = faults.isEmpty ? nil : faults.map(\.description).joined(separator: ",")
        let adapter = Self.adapters[api]!
        let context = ParseContext(
            catalog: self.configuration.catalog,
            cache: self.cache,
            seed: self.configuration.seed,
            contentHash: contentHash,
            forcedOutputTokens: forced,
            date: date,
            apiVersion: route.apiVersion ?? ""
        )
        var request: SimRequest
        do {
            request = try adapter.parse(
                parsed,
                urlModel: route.urlModel,
                stream: route.stream ?? false,
                context: context
            )
        } catch {
            entry.model = parsed["model"]?.string ?? route.urlModel
            return fail(error)
        }
        if let stream = route.stream { request.stream = stream }
        entry.model = request.model.id
        entry.stream = request.stream
        entry.tierAsked = request.tierAsked

        for case .status(let status) in faults where self.failsThisTime(faults, correlation: correlation) {
            var retryAfter: Int?
            for case .retryAfter(let seconds) in faults { retryAfter = seconds }
            return fail(.injected(provider, status: status), outcome: "fault", retryAfter: retryAfter)
        }

        // The tier that serves: flex through the capacity model, priority perhaps downgraded.
        var random = SimRandom(seed: self.configuration.seed, contentHash, number, 0x71E2)
        let profile = self.configuration.profile
        var served = request.tier
        if served == .priority && profile.priorityDowngradeProbability > 0
            && random.unit() < profile.priorityDowngradeProbability
        {
            served = .standard
        }
        let behaviour = profile.behaviour(of: served)
        let output = OutputGenerator(seed: self.configuration.seed).generate(request, ids: &ids)
        let tokensPerSecond = behaviour.tokensPerSecond
        let ttft = behaviour.ttftSeconds.sample(&random)
        let generationSeconds = tokensPerSecond > 0 ? Double(output.outputTokens) / tokensPerSecond : 0
        var waitSeconds = 0.0
        var ticket: CapacityModel.Ticket?
        if served == .flex {
            switch self.capacity.admit(
                provider: provider,
                requestHash: contentHash,
                serviceSeconds: ttft + generationSeconds
            ) {
            case .refused(let reason):
                var error = ProviderError.flexRefused(provider)
                error.ledgerReason = reason
                entry.tierServed = nil
                return fail(error, outcome: "refused")
            case .admitted(let wait, let reservation):
                waitSeconds = wait
                ticket = reservation
            }
        }
        entry.tierServed = served
        entry.queueWaitMS = served == .flex ? Int(waitSeconds * 1000) : nil
        let tierWire =
            provider == .openAI
            ? (self.configuration.catalog.providers[provider]?.wireName(of: served) ?? served.name)
            : served.name
        var usage = request.input
        usage.outputTokens = UInt64(output.outputTokens + output.reasoningTokens)
        usage.reasoningTokens = UInt64(output.reasoningTokens)
        var renderContext = RenderContext(
            requestID: requestID,
            responseID: adapter.responseID(&ids),
            createdAt: Self.nowSeconds(),
            model: request.requestedModel.isEmpty ? request.model.id : request.requestedModel,
            servedTier: served,
            servedTierWire: tierWire,
            usage: usage,
            ids: ids,
            date: date
        )
        entry.responseID = renderContext.responseID
        var headers = idHeaders
        if provider == .gemini { headers.append(("x-gemini-service-tier", served.name)) }

        let scale = self.configuration.timeScale
        var exchange = SimulatedExchange(
            simulator: self,
            entry: entry,
            request: request,
            usage: usage,
            servedTier: served,
            date: date,
            ticket: ticket,
            stream: request.stream,
            headers: headers,
            body: ByteBuffer(),
            plan: StreamPlan(),
            faults: faults,
            waitSeconds: waitSeconds / scale,
            ttftSeconds: ttft / scale,
            tokensPerSecond: tokensPerSecond * scale,
            preambleWhileQueued: profile.flex.preambleWhileQueued,
            outputTokens: output.outputTokens,
            reasoningTokens: output.reasoningTokens
        )
        if request.stream {
            exchange.headers.insert(("content-type", "text/event-stream; charset=utf-8"), at: 0)
            exchange.headers.insert(("cache-control", "no-cache"), at: 1)
            exchange.plan = adapter.stream(output, request: request, context: &renderContext)
            for case .streamError(let mid) in faults {
                // Responses numbers every event: the error takes the next number where it lands.
                let sequence = exchange.plan.preamble.count + (mid ? exchange.plan.body.count / 2 : 0)
                let events = adapter.streamError(sequence: sequence, request: request, context: &renderContext)
                if mid { exchange.plan.errorMidStream = events } else { exchange.plan.errorBeforeOutput = events }
            }
        } else {
            exchange.headers.insert(("content-type", "application/json"), at: 0)
            adapter.responseBody(output, request: request, context: &renderContext).write(into: &exchange.body)
        }
        return .simulate(exchange)
    }

    /// Transport fields, which do not change what the model answers.
    static let transportFields: Set<String> = ["stream", "stream_options", "service_tier", "serviceTier"]

    static func contentHash(_ body: JSONValue) -> UInt64 {
        guard case .object(var object) = body else { return SimRandom.hash(body.jsonString.utf8) }
        object.fields.removeAll { Self.transportFields.contains($0.key) }
        return SimRandom.hash(JSONValue.object(object).jsonString.utf8)
    }

    // MARK: Billing

    /// The ledger line for a finished exchange.
    func record(_ exchange: SimulatedExchange, billing: RequestLifecycle.Billing, outcome: String, status: Int) {
        var entry = exchange.entry
        entry.status = status
        entry.outcome = outcome
        switch billing {
        case .notBilled(let reason):
            entry.billed = false
            entry.reason = reason
            entry.tokens = TokenUsage()
            entry.cost = .zero
        case .billed(let outputTokens, let reason):
            // Reasoning is produced first: a cut answer bills reasoning, then visible output.
            var tokens = exchange.usage
            let reasoning = min(exchange.reasoningTokens, outputTokens)
            tokens.reasoningTokens = UInt64(reasoning)
            tokens.outputTokens = UInt64(reasoning + min(exchange.outputTokens, outputTokens - reasoning))
            entry.billed = true
            entry.reason = reason
            entry.tokens = tokens
            entry.cost =
                (try? exchange.request.model.cost(tier: exchange.servedTier, tokens: tokens, on: exchange.date).total)
                ?? .zero
        }
        self.ledger.append(entry)
        if case .notBilled = billing {
            self.capacity.release(exchange.ticket)
        } else if outcome != "completed" {
            self.capacity.release(exchange.ticket)
        }
    }
}

/// A planned simulated answer, ready for `SimHTTPHandler` to carry out. Times are real seconds
/// (already divided by the time scale).
struct SimulatedExchange {
    let simulator: Simulator
    var entry: LedgerEntry
    var request: SimRequest
    var usage: TokenUsage
    var servedTier: Tier
    var date: CalendarDate
    var ticket: CapacityModel.Ticket?
    var stream: Bool
    var headers: [(String, String)]
    /// Non-streaming body.
    var body: ByteBuffer
    /// Streaming events.
    var plan: StreamPlan
    var faults: [Fault]
    var waitSeconds: Double
    var ttftSeconds: Double
    /// 0 = everything at once.
    var tokensPerSecond: Double
    var preambleWhileQueued: Bool
    var outputTokens: Int
    var reasoningTokens: Int

    /// Seconds from arrival to the first output token.
    var startDelay: Double { self.waitSeconds + self.ttftSeconds }
}
