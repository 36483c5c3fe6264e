import FlexCodec
import FlexJSON
import FlexServer
import FlexTestSupport
import NIOCore
import Synchronization
import Testing

/// The HTTP door on its own, over raw sockets and an in-memory service: answers as each provider's
/// SDK expects them, and every kind of bad input or load refused cleanly (no crash, no hang, no
/// unbounded buffer). The official SDKs against the real flexd are in Tests/SDKCompat.
@Suite("FlexServer: the HTTP door over an in-memory service", .serialized)
struct HTTPDoorTests {
    static let openAIBody =
        #"{"model":"gpt-5-mini","messages":[{"role":"user","content":"hi"}],"start_within":"00h-00m-30s"}"#

    static func door(
        _ service: any InferenceService = MemoryService(),
        tenants: TenantDirectory = .open,
        configure: (inout FlexServer.Configuration) -> Void = { _ in },
        _ body: (Int, TransportFixture) async throws -> Void
    ) async throws {
        try await TransportFixture.with(
            service,
            tenants: tenants,
            configure: { configuration in
                configuration.http = FlexServer.HTTPDoorConfiguration(port: 0)
                configure(&configuration)
            }
        ) { fixture in
            try await body(try #require(fixture.httpPort), fixture)
        }
    }

    static func json(_ answer: RawHTTPConnection.Answer) throws -> JSONValue {
        try JSONParser.parse(answer.body)
    }

    @Test func aUnaryCallIsTheServicesJSONWithTheFlexdHeaders() async throws {
        let service = MemoryService()
        try await Self.door(service) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                RawHTTPConnection.request(
                    "POST",
                    "/openai/v1/chat/completions",
                    headers: [("authorization", "Bearer sk-door")],
                    body: Self.openAIBody
                )
            )
            let answer = try #require(try await connection.readAnswer())
            #expect(answer.status == 200 && answer.header("content-type") == "application/json")
            #expect(answer.header("flexd-tier-served") == "flex" && answer.header("flexd-fell-back") == "false")
            let record = try JSONParser.parse(try #require(answer.header("flexd-savings")))
            #expect(record["request_id"]?.string == answer.header("flexd-request-id"))
            #expect(record["saved_picousd"]?.int == 1_000 && record["tier_served"]?.string == "flex")
            // The body went to the service without start_within; the service echoed it.
            let echoed = try Self.json(answer)
            #expect(echoed["start_within"] == nil && echoed["model"]?.string == "gpt-5-mini")
        }
        let request = try #require(service.observed.requests.first)
        #expect(request.startWithin == "00h-00m-30s" && request.providerKey == "sk-door")
        #expect(request.api == .chatCompletions && request.model == "gpt-5-mini")
    }

    /// Removing `start_within` and `retry` leaves every other member as the caller wrote it:
    /// escapes, number spellings and spacing reach the provider byte for byte.
    @Test func theMembersTheDoorDoesNotReadGoOnAsTheCallerWroteThem() async throws {
        let service = MemoryService()
        let rest = #""messages" : [{"role":"user","content":"h\u00e9 \"q\""}], "temperature":5E-1"#
        try await Self.door(service) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                RawHTTPConnection.request(
                    "POST",
                    "/openai/v1/chat/completions",
                    headers: [("authorization", "Bearer sk-door")],
                    body: #"{"start_within":"default", "model":"gpt-5-mini", "# + rest + #", "retry":{"count":2}}"#
                )
            )
            let answer = try #require(try await connection.readAnswer())
            #expect(answer.status == 200)
            #expect(String(decoding: answer.body, as: UTF8.self) == #"{"model":"gpt-5-mini","# + rest + "}")
        }
    }

    /// The body's `retry` object becomes the call's retry option and never goes upstream; the
    /// answer says how many re-sends were made (`flexd-retries`, from the record).
    @Test func theRetryFieldIsTheCallsOptionAndLeavesTheBody() async throws {
        let service = MemoryService()
        try await Self.door(service) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            let body =
                #"{"model":"gpt-5-mini","messages":[],"start_within":"default","retry":{"count":3,"backoff":"linear","jitter":false}}"#
            try connection.write(
                RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: body)
            )
            let answer = try #require(try await connection.readAnswer())
            #expect(answer.status == 200 && answer.header("flexd-retries") == "0")
            #expect(try Self.json(answer)["retry"] == nil, "the retry field went upstream")
            let request = try #require(service.observed.requests.first)
            #expect(request.retry == RetryOption(count: 3, backoff: .linear, jitter: false))
        }
    }

    @Test(arguments: [
        #"{"count":0}"#, #"{"count":6}"#, #"{"count":2.5}"#, #"{"count":"2"}"#, #"{"backoff":"linear"}"#,
        #"{"count":2,"backoff":"fibonacci"}"#, #"{"count":2,"jitter":1}"#, #"{"count":2,"tries":1}"#, "3", "null",
    ])
    func anInvalidRetryIsA400WithItsOwnCode(_ retry: String) async throws {
        let service = MemoryService()
        try await Self.door(service) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            let body = #"{"model":"gpt-5-mini","messages":[],"start_within":"default","retry":"# + retry + "}"
            try connection.write(RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: body))
            let answer = try #require(try await connection.readAnswer())
            #expect(answer.status == 400)
            #expect(try Self.json(answer)["error"]?["code"]?.string == "invalid_retry")
            #expect(service.observed.requests.isEmpty, "an invalid retry reached the service")
        }
    }

    /// The record in `flexd-savings` has every field of `savings.proto`, and a request id with
    /// JSON's special characters comes back escaped, as valid JSON in a valid header.
    @Test func theSavingsHeaderIsTheWholeRecordAsValidJSON() async throws {
        try await Self.door { port, _ in
            let connection = try RawHTTPConnection(port: port)
            let requestID = #"id "quoted" \ back\slash"#
            try connection.write(
                RawHTTPConnection.request(
                    "POST",
                    "/openai/v1/chat/completions",
                    headers: [("authorization", "Bearer sk-door"), ("flexd-request-id", requestID)],
                    body: Self.openAIBody
                )
            )
            let answer = try #require(try await connection.readAnswer())
            let header = try #require(answer.header("flexd-savings"))
            let record = try #require(try JSONParser.parse(header).object)
            #expect(record["request_id"]?.string == requestID)
            #expect(
                Set(record.keys) == [
                    "request_id", "provider", "api", "model", "start_within", "tier_requested", "tier_served",
                    "tier_served_reported", "fell_back", "fallback_reason", "flex_attempts", "flex_wait_us",
                    "time_to_start_us", "tokens", "standard_cost_picousd", "actual_cost_picousd", "saved_picousd",
                    "fee_picousd", "price_date", "retries", "tokens_estimated",
                ]
            )
            #expect(record["fallback_reason"] == .null && record["fell_back"]?.bool == false)
            #expect(
                Set(record["tokens"]?.object?.keys ?? []) == [
                    "input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
                    "output_tokens", "reasoning_tokens",
                ]
            )
        }
    }

    @Test func aStreamIsTheServicesEventsAsSSEThenTheRecordAsACommentAndATrailer() async throws {
        try await Self.door(MemoryService(streaming: MemoryService.events(3))) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            let body = #"{"model":"claude-haiku-4-5","stream":true,"messages":[],"max_tokens":5}"#
            try connection.write(
                RawHTTPConnection.request(
                    "POST",
                    "/anthropic/v1/messages",
                    headers: [("x-api-key", "sk-ant"), ("flexd-start-within", "default")],
                    body: body
                )
            )
            let answer = try #require(try await connection.readAnswer())
            #expect(answer.status == 200 && answer.header("content-type") == "text/event-stream")
            #expect(answer.header("flexd-tier-served") == "flex")
            let text = answer.text
            #expect(text.hasPrefix("event: chunk-0\ndata: xxxxxxxxxx\n\nevent: chunk-1\n"))
            #expect(text.contains("\n: flexd-savings {\"request_id\":"))
            #expect(answer.trailer("flexd-savings").map { (try? JSONParser.parse($0))?["fee_picousd"]?.int } == 200)
        }
    }

    @Test func aFailureAfterTheStartEndsTheStreamWithTheProvidersOwnErrorEvent() async throws {
        let failing = MemoryService(streaming: { request, _, emit throws(CallFailure) in
            do {
                try await emit(.route(RouteDecision(tier: .flex)))
                try await emit(.native(NativeEvent(data: ByteBuffer(string: #"{"choices":[]}"#))))
            } catch {
                throw CallFailure.cancelled
            }
            throw CallFailure(
                Status(.upstreamStreamTruncated, "cut off"),
                savings: MemoryService.record(request, saved: 5)
            )
        })
        try await Self.door(failing) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                RawHTTPConnection.request(
                    "POST",
                    "/openai/v1/chat/completions",
                    body: #"{"model":"gpt-5-mini","stream":true,"start_within":"default"}"#
                )
            )
            let answer = try #require(try await connection.readAnswer())
            #expect(answer.status == 200)
            let events = answer.text.split(separator: "\n\n").filter { $0.hasPrefix("data: ") }
            #expect(events.count == 2)
            let error = try JSONParser.parse(String(events[1].dropFirst("data: ".count)))
            #expect(error["error"]?["code"]?.string == "upstream_stream_truncated")
            #expect(error["error"]?["flexd"]?["retryable"]?.bool == true)
            #expect(answer.trailer("flexd-savings") != nil, "what was billed still comes back")
        }
    }

    @Test(arguments: [
        ("GET", "/openai/v1/nothing", 404, "unknown_route"),
        ("GET", "/openai/v1/chat/completions", 405, "method_not_allowed"),
        ("POST", "/openai/v1/models", 405, "method_not_allowed"),
    ])
    func routesThatDoNotExistAreAnsweredInTheirProvidersEnvelope(
        method: String,
        path: String,
        status: Int,
        code: String
    )
        async throws
    {
        try await Self.door { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(RawHTTPConnection.request(method, path))
            let answer = try #require(try await connection.readAnswer())
            #expect(answer.status == status)
            #expect(try Self.json(answer)["error"]?["code"]?.string == code)
            if status == 405 { #expect(answer.header("allow") != nil) }
            // The connection carries on.
            try connection.write(
                RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: Self.openAIBody)
            )
            #expect(try await connection.readAnswer()?.status == 200)
        }
    }

    @Test func badBodiesAreRefusedInTheEnvelopeOfThePathsProvider() async throws {
        try await Self.door { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                RawHTTPConnection.request(
                    "POST",
                    "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
                    body: "{not json"
                )
            )
            let gemini = try #require(try await connection.readAnswer())
            #expect(gemini.status == 400)
            #expect(try Self.json(gemini)["error"]?["status"]?.string == "INVALID_ARGUMENT")
            #expect(try Self.json(gemini)["error"]?["flexd"]?["code"]?.string == "invalid_request_body")
        }
    }

    @Test func aBodyOverTheLimitIs413AndTheConnectionCloses() async throws {
        try await Self.door(configure: { $0.http?.maxBodyBytes = 2048 }) { port, _ in
            let declared = try RawHTTPConnection(port: port)
            try declared.write(
                RawHTTPConnection.request(
                    "POST",
                    "/openai/v1/chat/completions",
                    body: String(repeating: "x", count: 4096)
                )
            )
            let answer = try #require(try await declared.readAnswer())
            #expect(answer.status == 413)
            #expect(try Self.json(answer)["error"]?["code"]?.string == "request_too_large")
            try await declared.waitUntilClosed()
            // A chunked body that grows past the limit.
            let chunked = try RawHTTPConnection(port: port)
            try chunked.write(
                "POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            for _ in 0..<4 { try chunked.write("400\r\n" + String(repeating: "y", count: 1024) + "\r\n") }
            #expect(try await chunked.readAnswer()?.status == 413)
            try await chunked.waitUntilClosed()
        }
    }

    @Test func aRequestSentByteByByteIsCutOffAtTheRequestTimeout() async throws {
        try await Self.door(configure: { $0.http?.requestTimeout = .milliseconds(400) }) { port, _ in
            // A head that never ends: nothing to answer, the connection closes.
            let slowHead = try RawHTTPConnection(port: port)
            for byte in Array("POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-slow: ".utf8)
                + Array(repeating: 97, count: 200)
            {
                guard (try? slowHead.write([byte])) != nil else { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(try await slowHead.readAnswer() == nil)
            // A whole head and a body that never ends: 408, then the connection closes.
            let slowBody = try RawHTTPConnection(port: port)
            try slowBody.write("POST /anthropic/v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
            let answer = try #require(try await slowBody.readAnswer())
            #expect(answer.status == 408)
            #expect(try Self.json(answer)["error"]?["flexd"]?["code"]?.string == "request_timeout")
            try await slowBody.waitUntilClosed()
        }
    }

    @Test func aHeadOverNIOsLimitIsRefusedAndClosed() async throws {
        try await Self.door { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                "GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n"
            )
            let answer = try await connection.readAnswer()
            #expect(answer?.status == 400 || answer == nil)
            try await connection.waitUntilClosed()
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await Self.door { port, _ in
            let connection = try RawHTTPConnection(port: port)
            let first = #"{"model":"gpt-5-mini","first":true,"start_within":"default"}"#
            let second = #"{"model":"gpt-5-mini","second":true,"start_within":"default"}"#
            try connection.write(
                RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: first)
                    + RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: second)
            )
            let one = try #require(try await connection.readAnswer())
            let two = try #require(try await connection.readAnswer())
            #expect(try Self.json(one)["first"]?.bool == true)
            #expect(try Self.json(two)["second"]?.bool == true)
        }
    }

    @Test func aClientThatHalfClosesAfterItsRequestStillGetsItsAnswer() async throws {
        try await Self.door { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: Self.openAIBody)
            )
            connection.shutdownWrite()
            #expect(try await connection.readAnswer()?.status == 200)
            try await connection.waitUntilClosed()
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosed() async throws {
        try await Self.door(configure: { $0.http?.keepAliveTimeout = .milliseconds(300) }) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(RawHTTPConnection.request("GET", "/v1/models"))
            #expect(try await connection.readAnswer()?.header("connection") == "keep-alive")
            try await connection.waitUntilClosed()
        }
    }

    @Test func connectionsOverTheServersLimitAre503() async throws {
        try await Self.door(configure: { $0.maxConnections = 1 }) { port, fixture in
            let (binary, _) = try await WireClient.connected(port: fixture.port)
            let refused = try RawHTTPConnection(port: port)
            try refused.write(RawHTTPConnection.request("GET", "/v1/models"))
            let answer = try #require(try await refused.readAnswer())
            #expect(answer.status == 503)
            #expect(try Self.json(answer)["error"]?["code"]?.string == "too_many_connections")
            try await refused.waitUntilClosed()
            _ = binary
        }
    }

    @Test func keysAreRequiredWhenTheServerHasAKeysFile() async throws {
        let service = MemoryService()
        let tenants = TenantDirectory(tenants: [(Tenant(id: "acme"), apiKey: "flexd-key-acme")])
        try await Self.door(service, tenants: tenants) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: Self.openAIBody)
            )
            let refused = try #require(try await connection.readAnswer())
            #expect(refused.status == 401)
            #expect(try Self.json(refused)["error"]?["code"]?.string == "missing_api_key")
            try connection.write(
                RawHTTPConnection.request(
                    "POST",
                    "/openai/v1/chat/completions",
                    headers: [("flexd-api-key", "flexd-key-acme")],
                    body: Self.openAIBody
                )
            )
            #expect(try await connection.readAnswer()?.status == 200)
        }
        #expect(service.observed.tenants == ["acme"])
    }

    @Test(arguments: [
        ("/openai/v1/chat/completions", [("authorization", "Bearer sk-openai")], "sk-openai"),
        ("/anthropic/v1/messages", [("x-api-key", "sk-ant-key")], "sk-ant-key"),
        ("/gemini/v1beta/interactions", [("x-goog-api-key", "AIzaHeader")], "AIzaHeader"),
        ("/gemini/v1/models/gemini-2.5-flash:generateContent?key=AIza%2FQuery", [], "AIza/Query"),
    ])
    func theProviderKeyComesFromTheSDKsOwnHeader(path: String, headers: [(String, String)], key: String) async throws {
        let service = MemoryService()
        try await Self.door(service) { port, _ in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                RawHTTPConnection.request(
                    "POST",
                    path,
                    headers: headers,
                    body: #"{"model":"gemini-2.5-flash","start_within":"default"}"#
                )
            )
            #expect(try await connection.readAnswer()?.status == 200)
        }
        #expect(service.observed.requests.first?.providerKey.value == key)
    }

    @Test func aDrainFinishesTheCallInFlightWithConnectionClose() async throws {
        let slow = MemoryService(unary: { request, context throws(CallFailure) in
            try? await Task.sleep(for: .milliseconds(300))
            return try await MemoryService.echo(request, context)
        })
        try await Self.door(slow) { port, fixture in
            let connection = try RawHTTPConnection(port: port)
            try connection.write(
                RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: Self.openAIBody)
            )
            try await Task.sleep(for: .milliseconds(100))
            fixture.server.beginGracefulShutdown()
            let answer = try #require(try await connection.readAnswer())
            #expect(answer.status == 200 && answer.header("connection") == "close")
            try await connection.waitUntilClosed()
        }
    }

    /// A client that connects as the drain closes the listener is answered or sees its connection
    /// close: never left waiting (NIO's accept loop drops a connection whose initializer ends after
    /// the listener closed; `AcceptedConnections`). A race: tried many times, each try in a fresh
    /// server, with the drain begun right after the request is written.
    @Test func aClientConnectingAsTheDrainBeginsIsNeverLeftWaiting() async throws {
        for attempt in 0..<200 {
            try await Self.door { port, fixture in
                let connection = try RawHTTPConnection(port: port)
                try connection.write(
                    RawHTTPConnection.request("POST", "/openai/v1/chat/completions", body: Self.openAIBody)
                )
                fixture.server.beginGracefulShutdown()
                do {
                    // Served (before or during the drain), or refused as a drain refuses requests;
                    // either way the connection then closes.
                    if let answer = try await connection.readAnswer(timeout: .seconds(10)) {
                        #expect([200, 503].contains(answer.status), "try \(attempt)")
                        try await connection.waitUntilClosed(timeout: .seconds(10))
                    }
                } catch {
                    Issue.record("try \(attempt): \(error)")
                }
            }
        }
    }
}
