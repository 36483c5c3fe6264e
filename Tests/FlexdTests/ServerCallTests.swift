import FlexCodec
import FlexJSON
import FlexServer
import FlexSim
import FlexTestSupport
import NIOCore
import Testing

/// Calls over real TCP: the server speaks PROTOCOL.md and routes through the real router to flexsim.
@Suite("FlexServer: calls over TCP", .serialized)
struct ServerCallTests {
    @Test func handshakeAnswersWithOneVersionLZ4AndTheServersLimits() async throws {
        try await ServerFixture.with { fixture in
            let (_, hello) = try await WireClient.connected(port: fixture.port)
            #expect(hello.versions == [1])
            #expect(hello.compression == [.lz4])
            #expect(hello.limits.maxConcurrentStreams == UInt32(ProtocolDefaults.maxConcurrentStreams))
            #expect(hello.agent == "flexd")
        }
    }

    @Test func aUnaryCallReturnsHeadersTheAnswerAndTrailersWithTheSavingsRecord() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("unary-1"))
            let frames = try await client.readCall(1)
            #expect(frames.count == 3)
            guard case .responseHeaders = frames.first else {
                Issue.record("HEADERS first, got \(frames)")
                return
            }
            let response = try #require(try frames.messages(InferenceResponse.self).first)
            #expect(response.requestID == "unary-1")
            let json = try JSONParser.parse(try #require(response.nativeJSON).readableBytesView)
            #expect(json["object"]?.string == "chat.completion")
            let trailers = try #require(frames.trailers)
            #expect(trailers.status.code == .ok)
            let savings = try #require(trailers.savings)
            #expect(savings.tierServed == .flex && savings.savedPicoUSD > 0)
            let row = try #require(try await fixture.sim.ledgerRows("unary-1", count: 1).first)
            #expect(row["cost_picousd"]?.int == savings.actualCostPicoUSD)
        }
    }

    @Test func aStreamingCallSendsTheRouteFirstThenTheProvidersEvents() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("stream-1", api: .responses), method: RequestHeaders.Method.stream)
            let frames = try await client.readCall(1)
            let events = try frames.messages(StreamEvent.self)
            guard case .route(let route) = events.first else {
                Issue.record("the first event must be the route, got \(String(describing: events.first))")
                return
            }
            #expect(route.tier == .flex)
            let natives = events.compactMap { event -> NativeEvent? in
                if case .native(let native) = event { native } else { nil }
            }
            #expect(natives.first?.event == "response.created")
            #expect(natives.last?.event == "response.completed")
            #expect(frames.trailers?.status.code == .ok)
            #expect(frames.trailers?.savings?.tierServed == .flex)
        }
    }

    @Test func manyCallsShareOneConnection() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            let count: UInt32 = 60
            for id in 1...count {
                try client.call(
                    StreamID(id),
                    ServerFixture.request("many-\(id)"),
                    method: id % 2 == 0 ? RequestHeaders.Method.stream : RequestHeaders.Method.complete
                )
            }
            var finished: Set<UInt32> = []
            while finished.count < count, let frame = try await client.readFrame() {
                if case .trailers(let id, let trailers) = frame {
                    #expect(trailers.status.code == .ok, "stream \(id): \(trailers.status)")
                    finished.insert(id.rawValue)
                }
            }
            #expect(finished == Set(1...count))
        }
    }

    @Test func pingIsAnswered() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.send(.ping(0xFEED, ack: false))
            #expect(try await client.readFrame() == .ping(0xFEED, ack: true))
        }
    }

    @Test func callErrorsComeBackAsTrailers() async throws {
        try await ServerFixture.with { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            // A router refusal: no savings record.
            try client.call(1, ServerFixture.request("bad-sw", startWithin: "soon"))
            let refused = try #require(try await client.readCall(1).trailers)
            #expect(refused.status.code == .invalidArgument)
            #expect(refused.status.errorCode == "invalid_start_within")
            #expect(refused.savings == nil)
            // An unknown method.
            try client.send(.requestHeaders(3, RequestHeaders(method: "flexinference.v1.Inference/Nope")))
            #expect(try await client.readCall(3).trailers?.status.errorCode == "unknown_method")
            // A request that is not an InferenceRequest.
            try client.send(.requestHeaders(5, RequestHeaders(method: RequestHeaders.Method.complete)))
            try client.send(.message(5, ByteBuffer(bytes: [0x0A, 0x05, 0x61]), endStream: true))
            #expect(try await client.readCall(5).trailers?.status.errorCode == "invalid_message")
            // A request MESSAGE without END_STREAM.
            try client.send(.requestHeaders(7, RequestHeaders(method: RequestHeaders.Method.complete)))
            try client.send(.message(7, try MessageCoder().encode(ServerFixture.request("x")), endStream: false))
            #expect(try await client.readCall(7).trailers?.status.errorCode == "invalid_message")
            // The connection is still fine.
            try client.call(9, ServerFixture.request("after-errors"))
            #expect(try await client.readCall(9).trailers?.status.code == .ok)
        }
    }
}

@Suite("FlexServer: API keys and tenants", .serialized)
struct ServerAuthTests {
    static let tenants = TenantDirectory(tenants: [
        (Tenant(id: "acme", providerKeys: [.openAI: "sk-tenant-acme-key"]), apiKey: "fxk_acme_secret_1"),
        (Tenant(id: "globex"), apiKey: "fxk_globex_secret_2"),
    ])

    @Test func everyCallMustCarryAValidKey() async throws {
        try await ServerFixture.with(tenants: Self.tenants) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("no-key"))
            #expect(try await client.readCall(1).trailers?.status.errorCode == "missing_api_key")
            try client.call(3, ServerFixture.request("bad-key"), apiKey: "fxk_acme_secret_X")
            let bad = try #require(try await client.readCall(3).trailers)
            #expect(bad.status.code == .unauthenticated && bad.status.errorCode == "invalid_api_key")
            #expect(!bad.status.message.contains("fxk_"))
            try client.call(5, ServerFixture.request("good-key"), apiKey: "fxk_globex_secret_2")
            #expect(try await client.readCall(5).trailers?.status.code == .ok)
        }
    }

    @Test func theTenantsProviderKeyIsUsedWhenTheCallBringsNone() async throws {
        try await ServerFixture.with(tenants: Self.tenants) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            var request = ServerFixture.request("tenant-key")
            request.providerKey = ""
            try client.call(1, request, apiKey: "fxk_acme_secret_1")
            #expect(try await client.readCall(1).trailers?.status.code == .ok)
            // globex has no OpenAI key configured: the call cannot run.
            try client.call(3, request, apiKey: "fxk_globex_secret_2")
            #expect(try await client.readCall(3).trailers?.status.errorCode == "no_provider_key")
        }
    }

    @Test func keysAreComparedByHash() {
        #expect(TenantDirectory.hashHex("fxk_acme_secret_1").count == 64)
        #expect(Self.tenants.authenticate("fxk_acme_secret_1")?.id == "acme")
        #expect(Self.tenants.authenticate("fxk_acme_secret_") == nil)
        #expect(Self.tenants.authenticate("") == nil)
        #expect(TenantDirectory.open.authenticate("")?.id == "anonymous")
    }
}
