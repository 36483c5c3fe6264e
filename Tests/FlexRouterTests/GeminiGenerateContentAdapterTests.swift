import FlexCore
import FlexJSON
import FlexSim
import NIOCore
import Testing

@testable import FlexRouter

@Suite("GeminiGenerateContentAdapter")
struct GeminiGenerateContentAdapterTests {
    let adapter = GeminiGenerateContentAdapter()
    static let model = "gemini-3.8-flash"

    // MARK: Request building

    static let hello: JSONObject = ["contents": [["role": "user", "parts": [["text": "Hi"]]]]]

    func request(
        _ body: JSONObject = hello,
        model: String = model,
        tier: Tier = .flex,
        stream: Bool = false
    ) throws(RouterError) -> (UpstreamRequest, JSONObject) {
        let request = try self.adapter.makeRequest(
            body: body,
            model: model,
            tier: tier,
            stream: stream,
            key: "AIzaSecret"
        )
        return (request, try NativeBody.parsedWhole(request.body))
    }

    @Test func tierSpellingAndNoAuto() throws {
        #expect(try request(tier: .flex).1["serviceTier"] == "flex")
        #expect(try request(tier: .standard).1["serviceTier"] == "standard")
        #expect(try request(tier: .priority).1["serviceTier"] == "priority")
        let error = try #require(throws: RouterError.self) { try request(tier: .auto) }
        #expect(error.errorCode == "auto_unsupported_for_gemini")
    }

    @Test func theCallersTierFieldsAreReplaced() throws {
        var body = Self.hello
        body["service_tier"] = "priority"
        body["serviceTier"] = "SERVICE_TIER_PRIORITY"
        body["generationConfig"] = ["temperature": 0.2]
        let (_, sent) = try request(body, tier: .flex)
        #expect(sent.keys == ["contents", "serviceTier", "generationConfig"])
        #expect(sent["serviceTier"] == "flex")
    }

    @Test func theModelGoesInThePathNotTheBody() throws {
        let (unary, body) = try request()
        #expect(unary.path == "/models/gemini-3.8-flash:generateContent")
        #expect(body["model"] == nil)
        let (streamed, streamedBody) = try request(stream: true)
        #expect(streamed.path == "/models/gemini-3.8-flash:streamGenerateContent?alt=sse" && streamed.stream)
        #expect(streamedBody["stream"] == nil)

        var withModel = Self.hello
        withModel["model"] = "models/gemini-3.8-flash"
        #expect(try request(withModel, model: "models/gemini-3.8-flash").1["model"] == nil)
        #expect(try request(withModel).0.path == "/models/gemini-3.8-flash:generateContent")
        withModel["model"] = "gemini-2.5-pro"
        #expect(throws: RouterError.self) { try request(withModel) }
        let mismatch = try #require(throws: RouterError.self) { try request(withModel) }
        #expect(mismatch.errorCode == "model_mismatch")

        for bad in ["", "../../v1/models", "gemini?key=x", "a/b", "gémini", String(repeating: "a", count: 200)] {
            let error = try #require(throws: RouterError.self) { try request(model: bad) }
            #expect(error.errorCode == "invalid_model", "\(bad)")
        }
    }

    @Test func headersCarryTheKeyAndNothingElseDoes() throws {
        let (request, _) = try request(stream: true)
        let headers = Dictionary(request.headers, uniquingKeysWith: { $1 })
        #expect(headers["x-goog-api-key"] == "AIzaSecret")
        #expect(headers["accept"] == "text/event-stream")
        #expect(!String(buffer: request.body).contains("AIzaSecret") && !request.path.contains("AIza"))
    }

    // MARK: Real flexsim streams

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var body: String
        var tier: Tier = .flex
        var testDescription: String { self.name }
    }

    static let user =
        #"[{"role":"user","parts":[{"text":"What does the flex tier cost, and when should a router fall back?"}]}]"#
    static let tools = #"""
        [{"functionDeclarations":[
          {"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city","unit"]}},
          {"name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}}]}]
        """#

    static let scenarios: [Scenario] = [
        Scenario(name: "text on flex", body: #"{"contents":\#(user)}"#),
        Scenario(name: "text on standard", body: #"{"contents":\#(user)}"#, tier: .standard),
        Scenario(name: "text on priority", body: #"{"contents":\#(user)}"#, tier: .priority),
        Scenario(
            name: "stopped by maxOutputTokens",
            body:
                #"{"contents":\#(user),"generationConfig":{"maxOutputTokens":6,"thinkingConfig":{"thinkingBudget":0}}}"#
        ),
        Scenario(
            name: "visible thinking",
            body:
                #"{"contents":\#(user),"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":1024}}}"#
        ),
        Scenario(
            name: "hidden thinking",
            body: #"{"contents":\#(user),"generationConfig":{"thinkingConfig":{"thinkingBudget":512}}}"#
        ),
        Scenario(
            name: "parallel function calls",
            body: #"{"contents":\#(user),"tools":\#(tools),"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}"#
        ),
        Scenario(
            name: "structured output",
            body:
                #"{"contents":\#(user),"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"}},"required":["answer","confidence"]}}}"#
        ),
        Scenario(
            name: "function response turn",
            body:
                #"{"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo","unit":"c"}}}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temperature":3}}}]}],"tools":\#(tools)}"#
        ),
    ]

    @Test(arguments: scenarios)
    func streamedAnswerClassifiesBillsAndReassemblesExactly(_ scenario: Scenario) async throws {
        try await SimHarness.with { sim in
            let round = try await AdapterRound.run(
                sim,
                adapter,
                body: scenario.body,
                model: Self.model,
                tier: scenario.tier
            )
            #expect(round.streamResponse.status == 200 && round.unaryResponse.status == 200)

            // flexsim sends nothing before the first chunk; the first chunk has output; the last finishes.
            let stream = round.stream
            #expect(stream.isWellFormed, "\(stream.dispositions)")
            #expect(stream.dispositions.first == .started)
            #expect(stream.events.count >= 2)

            let streamed = try #require(stream.reader.result)
            try Self.expectBilled(streamed, row: round.streamRow, sim: sim, headers: round.streamResponse.headers)
            try Self.expectBilled(
                round.unaryResult,
                row: round.unaryRow,
                sim: sim,
                headers: round.unaryResponse.headers
            )
            #expect(streamed.servedTier == scenario.tier)

            let mask: Set<String> = ["responseId"]
            let assembled = masking(try round.assembled(), keys: mask)
            let unary = masking(try #require(round.unaryResponse.json), keys: mask)
            let same = assembled == unary
            #expect(same, "assembled \(assembled.jsonString)\nunary     \(unary.jsonString)")
        }
    }

    static func expectBilled(
        _ result: UpstreamResult,
        row: JSONValue,
        sim: SimHarness,
        headers: [(String, String)]
    ) throws {
        #expect(result.usage == ledgerTokens(row))
        #expect(result.servedTier?.name == row["tier_served"]?.string)
        #expect(GeminiTier.header(headers) == row["tier_served"]?.string)
        let tier = try #require(result.servedTier)
        #expect(try catalogCost(sim.catalog, .gemini, Self.model, tier, result.usage) == row["cost_picousd"]?.int)
    }

    @Test func scenariosProduceWhatTheyAreNamedAfter() async throws {
        try await SimHarness.with { sim in
            func round(_ name: String) async throws -> AdapterRound {
                let scenario = try #require(Self.scenarios.first { $0.name == name })
                return try await AdapterRound.run(
                    sim,
                    adapter,
                    body: scenario.body,
                    model: Self.model,
                    tier: scenario.tier
                )
            }
            let thinking = try await round("visible thinking")
            let parts = try thinking.assembled()["candidates"]?[0]?["content"]?["parts"]?.array ?? []
            #expect(parts.count == 2 && parts.first?["thought"] == true)
            #expect(thinking.stream.events.count > 3)
            #expect(try #require(thinking.stream.reader.result).usage.reasoningTokens > 0)

            let hidden = try await round("hidden thinking")
            #expect(try #require(hidden.stream.reader.result).usage.reasoningTokens > 0)

            let tools = try await round("parallel function calls")
            let calls = (try tools.assembled()["candidates"]?[0]?["content"]?["parts"]?.array ?? []).compactMap {
                $0["functionCall"]
            }
            #expect(calls.map { $0["name"]?.string } == ["get_weather", "get_time"])

            let limited = try await round("stopped by maxOutputTokens")
            #expect(try limited.assembled()["candidates"]?[0]?["finishReason"] == "MAX_TOKENS")
        }
    }

    @Test func implicitCachingIsBilledAsCachedInput() async throws {
        try await SimHarness.with { sim in
            let long = String(repeating: "The flex tier trades latency for half the price of standard. ", count: 110)
            let (body, passed) = try NativeBody.parseRequest(
                ByteBuffer(
                    string: #"""
                        {"contents":[{"role":"user","parts":[{"text":"\#(long)"}]},{"role":"model","parts":[{"text":"Understood."}]},
                                     {"role":"user","parts":[{"text":"Summarise."}]}]}
                        """#
                ),
                api: .generateContent
            )
            try sim.reset()
            var cached: [UInt64] = []
            for attempt in 0..<2 {
                let request = try adapter.makeRequest(
                    body: body,
                    passing: passed,
                    model: Self.model,
                    tier: .flex,
                    stream: true,
                    key: "AIzaTest"
                )
                let response = try sim.send(request, provider: .gemini, correlation: "cache-\(attempt)")
                let stream = read(
                    SSEDecoder.events(response.body),
                    with: adapter.makeStreamReader(for: body, tier: .flex, headers: response.headers)
                )
                #expect(stream.isWellFormed)
                let result = try #require(stream.reader.result)
                try Self.expectBilled(
                    result,
                    row: try await sim.ledgerRow("cache-\(attempt)"),
                    sim: sim,
                    headers: response.headers
                )
                cached.append(result.usage.cachedInputTokens)
            }
            #expect(cached[0] == 0 && cached[1] > 1000)
        }
    }

    @Test func aLargeAnswerReassemblesExactly() async throws {
        // About 25,000 output tokens, one event each: text is appended in place, never copied per event.
        try await SimHarness.with { sim in
            let round = try await AdapterRound.run(
                sim,
                adapter,
                body: Self.scenarios[0].body,
                model: Self.model,
                tier: Self.scenarios[0].tier,
                faults: "large_response=100000"
            )
            #expect(round.stream.isWellFormed)
            #expect(round.stream.events.count > 3_000)
            let streamed = try #require(round.stream.reader.result)
            #expect(streamed.usage.outputTokens == UInt64(round.streamRow["tokens"]?["output"]?.int ?? -1))
            let mask: Set<String> = ["responseId"]
            let same =
                masking(try round.assembled(), keys: mask)
                == masking(try #require(round.unaryResponse.json), keys: mask)
            #expect(same)
            #expect(round.unaryResponse.body.count > 100_000)
        }
    }

    // MARK: flexsim faults

    func faulted(_ fault: String, tier: Tier, sim: SimHarness) throws -> ReadStream {
        let (body, passed) = try NativeBody.parseRequest(
            ByteBuffer(string: Self.scenarios[0].body),
            api: .generateContent
        )
        let request = try adapter.makeRequest(
            body: body,
            passing: passed,
            model: Self.model,
            tier: tier,
            stream: true,
            key: "AIzaTest"
        )
        let response = try sim.send(
            request,
            provider: .gemini,
            correlation: fault,
            extraHeaders: [("x-flexsim-fault", fault)]
        )
        #expect(response.status == 200)
        return read(
            SSEDecoder.events(response.body),
            with: adapter.makeStreamReader(for: body, tier: tier, headers: response.headers)
        )
    }

    @Test func flexsimOverloadChunkIsACapacityRefusalOnFlexOnly() async throws {
        try await SimHarness.with { sim in
            let flex = try faulted("stream_error", tier: .flex, sim: sim)
            #expect(flex.dispositions == [.error(.capacity)])
            let standard = try faulted("stream_error", tier: .standard, sim: sim)
            guard case .retryable(let error, _)? = standard.dispositions.last?.failure else {
                Issue.record("\(standard.dispositions)")
                return
            }
            #expect(error.status.upstream?.type == "UNAVAILABLE" && error.status.upstream?.httpStatus == 503)
        }
    }

    @Test func flexsimCutAndMalformedStreamsNeverLookComplete() async throws {
        try await SimHarness.with { sim in
            let cut = try faulted("cut_mid_stream", tier: .flex, sim: sim)
            #expect(cut.startIndex != nil && !cut.dispositions.contains(.terminal))
            let malformed = try faulted("malformed_sse", tier: .flex, sim: sim)
            guard case .retryable(let error, _)? = malformed.dispositions.first(where: \.isError)?.failure else {
                Issue.record("\(malformed.dispositions)")
                return
            }
            #expect(error.errorCode == "upstream_malformed_event")
            let mid = try faulted("stream_error_mid", tier: .flex, sim: sim)
            // After the start a 503 is no longer a refusal: it fails the committed call.
            #expect(mid.startIndex != nil && !mid.dispositions.contains(.terminal))
            guard case .retryable(let midError, _)? = mid.dispositions.last?.failure else {
                Issue.record("\(mid.dispositions)")
                return
            }
            #expect(midError.status.upstream?.httpStatus == 503 && midError.status.code == .unavailable)
        }
    }

    // MARK: Hand-written sequences

    func reader(_ tier: Tier = .flex, headers: [(String, String)] = []) -> any StreamReader {
        adapter.makeStreamReader(for: [:], tier: tier, headers: headers)
    }

    @Test func aBlockedPromptIsOneTerminalChunkReturnedAsIs() throws {
        let body = #"""
            {"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH"}]},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9,"serviceTier":"flex"},"modelVersion":"gemini-3.8-flash","responseId":"r1"}
            """#
        let stream = read([chunk(body)], with: reader())
        #expect(stream.dispositions == [.terminal])
        #expect(try json(stream.reader.assembleResponse()) == JSONParser.parse(body))
        #expect(stream.reader.result?.usage == TokenUsage(inputTokens: 9))
        #expect(stream.reader.result?.servedTier == .flex)
    }

    @Test func aSafetyStopEndsTheAnswerWithWhatCameBefore() throws {
        let stream = read(
            [
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"Sure, "}],"role":"model"},"index":0}],"modelVersion":"m","responseId":"r"}"#
                ),
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"here"}],"role":"model"},"index":0}],"modelVersion":"m","responseId":"r"}"#
                ),
                chunk(
                    #"{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":7},"modelVersion":"m","responseId":"r"}"#
                ),
            ],
            with: reader()
        )
        #expect(stream.dispositions == [.started, .content, .terminal])
        let expected = try JSONParser.parse(
            #"""
            {"candidates":[{"content":{"parts":[{"text":"Sure, here"}],"role":"model"},"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":7},"modelVersion":"m","responseId":"r"}
            """#
        )
        #expect(try json(stream.reader.assembleResponse()) == expected)

        // Blocked before any output: one chunk, no content at all.
        let blocked = read(
            [
                chunk(
                    #"{"candidates":[{"finishReason":"PROHIBITED_CONTENT","index":0}],"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5}}"#
                )
            ],
            with: reader()
        )
        #expect(blocked.dispositions == [.terminal])
        #expect(try json(blocked.reader.assembleResponse())["candidates"]?[0]?["content"] == nil)
    }

    @Test func textAndFunctionCallsInOneChunkKeepEveryName() throws {
        let stream = read(
            [
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"Checking both. "},{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}},{"functionCall":{"name":"get_time","args":{"zone":"CET"}}}],"role":"model"},"index":0}]}"#
                ),
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":12,"totalTokenCount":16}}"#
                ),
            ],
            with: reader()
        )
        #expect(stream.dispositions == [.started, .terminal])
        let parts = try json(stream.reader.assembleResponse())["candidates"]?[0]?["content"]?["parts"]
        #expect(
            parts == [
                ["text": "Checking both. "], ["functionCall": ["name": "get_weather", "args": ["city": "Oslo"]]],
                ["functionCall": ["name": "get_time", "args": ["zone": "CET"]]],
            ]
        )
    }

    @Test func aOneChunkAnswerIsTerminalAtOnce() throws {
        let body =
            #"{"candidates":[{"content":{"parts":[{"text":"Yes."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4},"modelVersion":"m","responseId":"r"}"#
        let stream = read([chunk(body)], with: reader())
        #expect(stream.dispositions == [.terminal])
        #expect(try json(stream.reader.assembleResponse()) == JSONParser.parse(body))
    }

    @Test func chunksWithoutOutputArePreamble() throws {
        let stream = read(
            [
                chunk(#"{"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3},"modelVersion":"m"}"#),
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"","thoughtSignature":"c2ln"}],"role":"model"},"index":0}]}"#
                ),
                chunk(#"{"candidates":[{"content":{"parts":[{"text":"Answer"}],"role":"model"},"index":0}]}"#),
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}]}"#
                ),
            ],
            with: reader()
        )
        #expect(stream.dispositions == [.preamble, .preamble, .started, .terminal])
        // The signature's empty part and the text after it are one run: one part, as unstreamed.
        let parts = try json(stream.reader.assembleResponse())["candidates"]?[0]?["content"]?["parts"]
        #expect(parts == [["text": "Answer", "thoughtSignature": "c2ln"]])
    }

    @Test func textRunsMergeByKindAndKeepTheirSignature() throws {
        let stream = read(
            [
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"Plan","thought":true}],"role":"model"},"index":0}]}"#
                ),
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":" more","thought":true}],"role":"model"},"index":0}]}"#
                ),
                chunk(#"{"candidates":[{"content":{"parts":[{"text":"Answer"}],"role":"model"},"index":0}]}"#),
                chunk(#"{"candidates":[{"content":{"parts":[{"text":" done"}],"role":"model"},"index":0}]}"#),
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"","thoughtSignature":"c2ln"}],"role":"model"},"finishReason":"STOP","index":0}]}"#
                ),
            ],
            with: reader()
        )
        #expect(stream.isWellFormed)
        let parts = try json(stream.reader.assembleResponse())["candidates"]?[0]?["content"]?["parts"]
        #expect(
            parts == [["text": "Plan more", "thought": true], ["text": "Answer done", "thoughtSignature": "c2ln"]]
        )
    }

    @Test func candidatesAreKeptApartByIndex() throws {
        let stream = read(
            [
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"A"}],"role":"model"},"index":0},{"content":{"parts":[{"text":"B"}],"role":"model"},"index":1}]}"#
                ),
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"a"}],"role":"model"},"finishReason":"STOP","index":0},{"content":{"parts":[{"text":"b"}],"role":"model"},"index":1}]}"#
                ),
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":1}]}"#
                ),
            ],
            with: reader()
        )
        // Complete only once both candidates finished.
        #expect(stream.dispositions == [.started, .content, .terminal])
        let candidates = try json(stream.reader.assembleResponse())["candidates"]?.array ?? []
        #expect(candidates.map { $0["content"]?["parts"]?[0]?["text"] } == ["Aa", "Bb"])
    }

    @Test func errorChunksAreClassifiedLikeHTTPErrors() throws {
        let unavailable = chunk(#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#)
        #expect(read([unavailable], with: reader(.flex)).dispositions == [.error(.capacity)])
        guard case .retryable? = read([unavailable], with: reader(.standard)).dispositions.last?.failure else {
            Issue.record("503 off flex is retryable")
            return
        }
        guard
            case .fatal(let limited)? = read(
                [chunk(#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#)],
                with: reader()
            ).dispositions.last?.failure
        else {
            Issue.record("429 is the caller's rate limit")
            return
        }
        #expect(limited.status.code == .resourceExhausted)
        guard
            case .fatal(let invalid)? = read(
                [chunk(#"{"error":{"status":"INVALID_ARGUMENT","message":"bad"}}"#)],
                with: reader()
            ).dispositions.last?.failure
        else {
            Issue.record("a status name without a code still maps")
            return
        }
        #expect(invalid.status.code == .invalidArgument)
    }

    @Test func malformedChunksAreRetryableErrors() throws {
        for data in ["{\"candidates\": [", "[]", "42", ""] {
            guard
                case .retryable(let error, beforeAnyByte: false)? = read([chunk(data)], with: reader()).dispositions
                    .last?.failure
            else {
                Issue.record("\(data)")
                continue
            }
            #expect(error.errorCode == "upstream_malformed_event")
        }
        // Odd but well-formed JSON never traps.
        let odd = read(
            [
                chunk(
                    #"{"candidates":[7,{"index":"x","content":{"parts":[1,{"text":7}]}}],"usageMetadata":{"promptTokenCount":-5}}"#
                )
            ],
            with: reader()
        )
        #expect(!odd.dispositions.contains { $0.isError })
        #expect(odd.reader.result?.usage == TokenUsage())
    }

    @Test func aChunkAfterTheLastIsReadForUsage() throws {
        let stream = read(
            [
                chunk(
                    #"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}"#
                ),
                chunk(#"{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}"#),
            ],
            with: reader()
        )
        #expect(stream.dispositions == [.terminal, .content])
        #expect(stream.reader.result?.usage == TokenUsage(inputTokens: 3, outputTokens: 1))
    }

    // MARK: Usage and tiers

    @Test func usageClasses() {
        let usage = GeminiGenerateContentAdapter.usage([
            "promptTokenCount": 1200, "cachedContentTokenCount": 1000, "toolUsePromptTokenCount": 30,
            "candidatesTokenCount": 40, "thoughtsTokenCount": 60, "totalTokenCount": 1330,
        ])
        #expect(usage == TokenUsage(inputTokens: 230, cachedInputTokens: 1000, outputTokens: 100, reasoningTokens: 60))
        #expect(
            GeminiGenerateContentAdapter.usage(["promptTokenCount": 5, "cachedContentTokenCount": 9])
                == TokenUsage(cachedInputTokens: 5)
        )
    }

    @Test func theServedTierComesFromTheBodyThenTheHeader() throws {
        let noTier = chunk(
            #"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1}}"#
        )
        let fromHeader = read([noTier], with: reader(headers: [("X-Gemini-Service-Tier", " flex ")])).reader.result
        #expect(fromHeader?.servedTier == .flex && fromHeader?.servedTierReported == "flex")
        #expect(read([noTier], with: reader(headers: [])).reader.result?.servedTier == nil)

        let bodyTier = chunk(
            #"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"serviceTier":"SERVICE_TIER_STANDARD"}}"#
        )
        let both = read([bodyTier], with: reader(headers: [("x-gemini-service-tier", "flex")])).reader.result
        #expect(both?.servedTier == .standard && both?.servedTierReported == "SERVICE_TIER_STANDARD")

        let vertex = try adapter.readResponse(
            ByteBuffer(string: #"{"usageMetadata":{"trafficType":"ON_DEMAND_FLEX"}}"#),
            headers: []
        )
        #expect(vertex.servedTier == .flex)
        let header = try adapter.readResponse(
            ByteBuffer(string: #"{"usageMetadata":{}}"#),
            headers: [("x-gemini-service-tier", "priority")]
        )
        #expect(header.servedTier == .priority)
        #expect(GeminiTier.served("PROVISIONED_THROUGHPUT") == nil && GeminiTier.served("unspecified") == nil)
    }

    @Test func httpFailuresUseTheOneTable() {
        let body = ByteBuffer(
            string: #"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#
        )
        #expect(adapter.classifyFailure(status: 503, headers: [], body: body, flex: true) == .capacity)
        guard case .retryable = adapter.classifyFailure(status: 503, headers: [], body: body, flex: false) else {
            Issue.record("503 off flex is retryable")
            return
        }
        guard case .fatal = adapter.classifyFailure(status: 429, headers: [], body: ByteBuffer(), flex: true) else {
            Issue.record("429 on flex is a rate limit, not capacity")
            return
        }
    }
}
