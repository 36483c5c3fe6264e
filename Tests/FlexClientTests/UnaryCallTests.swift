import FlexClient
import FlexCodec
import NIOCore
import Testing

/// Handshake, unary calls, compression and trailers against the scripted server.
@Suite(.timeLimit(.minutes(1))) struct UnaryCallTests {
    @Test func handshakeOffersLZ4AndTheClientsLimitsAndTheCallCarriesKeyDeadlineAndMetadata() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration {
                $0.maxMessageSize = 1 << 20
                $0.initialWindowSize = 65_536
                $0.agent = "test-agent/1"
                $0.apiKey = Secret(Fixtures.apiKey)
            }
            try await withFlexClient(host: "127.0.0.1", port: server.port, configuration: configuration) { client in
                async let result = client.complete(
                    Fixtures.request(),
                    options: CallOptions(timeout: .seconds(60), metadata: ["trace-id": "t-1"])
                )
                let connection = await server.accept()
                let hello = try await connection.handshake()
                #expect(
                    hello
                        == Hello(
                            versions: [1],
                            compression: [.lz4],
                            limits: Limits(maxMessageSize: 1 << 20, maxConcurrentStreams: 0, initialWindowSize: 65_536),
                            agent: "test-agent/1"
                        )
                )
                let (id, headers, request) = try await connection.readCall()
                #expect(id == 1)
                #expect(headers.method == "flexinference.v1.Inference/Complete")
                #expect(headers.apiKey.value == Fixtures.apiKey)
                #expect(headers.metadata == ["trace-id": "t-1"])
                // The time left when the HEADERS were written: positive, at most the deadline.
                let timeout = try #require(headers.timeout)
                #expect(timeout > .zero && timeout <= .seconds(60))
                #expect(request == Fixtures.request())
                try await connection.answer(
                    id,
                    Fixtures.response(),
                    trailers: Trailers(status: .ok, savings: Fixtures.savings())
                )
                let (response, savings) = try await result
                #expect(response == Fixtures.response())
                #expect(savings == Fixtures.savings())
            }
        }
    }

    @Test func aPerCallKeyOverridesTheConfiguredOneAndNoKeyMeansEmpty() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                async let first = client.complete(Fixtures.request())
                let connection = await server.accept()
                try await connection.handshake()
                let (one, headersOne, _) = try await connection.readCall()
                #expect(headersOne.apiKey.isEmpty)
                #expect(headersOne.timeout == nil)
                try await connection.answer(one, Fixtures.response())
                _ = try await first

                async let second = client.complete(Fixtures.request(), options: CallOptions(apiKey: "fxk_per_call"))
                let (two, headersTwo, _) = try await connection.readCall()
                #expect(two == 2)  // the same connection, the next stream id
                #expect(headersTwo.apiKey.value == "fxk_per_call")
                try await connection.answer(two, Fixtures.response())
                _ = try await second
            }
        }
    }

    @Test func largeRequestsAndResponsesTravelCompressed() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let big = Fixtures.largeRequest(bytes: 20_000)
                async let result = client.complete(big)
                let connection = await server.accept()
                try await connection.handshake()
                guard case .requestHeaders(let id, _) = try await connection.readFrame() else {
                    Issue.record("expected HEADERS")
                    return
                }
                let (frame, wireLength) = try await connection.readFrameWithLength()
                guard case .message(id, let payload, endStream: true) = frame else {
                    Issue.record("expected the request, got \(frame)")
                    return
                }
                #expect(connection.decoder.statistics.compressedMessages == 1)
                #expect(wireLength < payload.readableBytes / 4)
                #expect(try connection.coder.decode(InferenceRequest.self, from: payload) == big)

                let response = Fixtures.response(text: String(repeating: "All good. ", count: 3000))
                try await connection.answer(id, response)
                let (received, _) = try await result
                #expect(received == response)
            }
        }
    }

    @Test func withoutCompressionNothingIsOfferedOrCompressed() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration { $0.compression = false }
            try await withTestClient(server, configuration: configuration) { client in
                async let result = client.complete(Fixtures.largeRequest(bytes: 20_000))
                let connection = await server.accept()
                let hello = try await connection.handshake()
                #expect(hello.compression.isEmpty)
                let (id, _, _) = try await connection.readCall()
                #expect(connection.decoder.statistics.compressedMessages == 0)
                try await connection.answer(id, Fixtures.response())
                _ = try await result
            }
        }
    }

    @Test func aServerThatChoosesNoCompressionGetsUncompressedRequests() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                async let result = client.complete(Fixtures.largeRequest(bytes: 20_000))
                let connection = await server.accept()
                try await connection.handshake(compression: [])
                let (id, _, _) = try await connection.readCall()
                #expect(connection.decoder.statistics.compressedMessages == 0)
                try await connection.answer(id, Fixtures.response())
                _ = try await result
            }
        }
    }

    @Test func aFailedCallThrowsTheServersStatusWithTheSavingsRecord() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let result = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                let status = Status(
                    code: .unavailable,
                    message: "the provider failed",
                    errorCode: "upstream_error",
                    details: ["attempt": "standard"],
                    upstream: UpstreamError(
                        httpStatus: 503,
                        type: "server_error",
                        message: "overloaded",
                        body: ByteBuffer(string: "{}")
                    )
                )
                let savings = Fixtures.savings(saved: 0)
                try await connection.write(.responseHeaders(id, ResponseHeaders()))
                try await connection.write(
                    .trailers(id, Trailers(status: status, savings: savings, metadata: ["k": "v"]))
                )
                let error = try #require(await failure(of: result))
                #expect(error.code == .unavailable)
                #expect(error.status == status)
                #expect(error.savings == savings)
                #expect(error.trailersMetadata == ["k": "v"])
                #expect(error.origin == .server)
                #expect(!error.isSafeToRetry)
            }
        }
    }

    @Test func aCallRefusedWithTooManyStreamsIsSentAgainWithinTheBudget() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let result = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                try await connection.handshake()
                let refusal = Trailers(status: Status(code: .resourceExhausted, errorCode: "too_many_streams"))
                let (first, _, _) = try await connection.readCall()
                try await connection.write(.trailers(first, refusal))
                // Sent again on the same connection, on a new stream.
                let (second, _, request) = try await connection.readCall()
                #expect(second == 2 && request == Fixtures.request())
                try await connection.write(.trailers(second, refusal))
                // Refused twice: the budget (one retry) is spent.
                let error = await failure(of: result)
                #expect(error?.isSafeToRetry == true)
                #expect(error?.code == .resourceExhausted)
                #expect(error?.status.errorCode == "too_many_streams")
            }
        }
    }

    @Test func aRequestLargerThanTheServersLimitFailsBeforeAnythingIsSent() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let connectionTask = Task { await server.accept() }
                // The server accepts 16 KiB; this request is 100 KB (and barely compresses).
                var random = SystemRandomNumberGenerator()
                let noise = (0..<100_000).map { _ in
                    Character(Unicode.Scalar(UInt8.random(in: 97...122, using: &random)))
                }
                let tooBig = Fixtures.request(body: String(noise))
                let result = Task { try await client.complete(tooBig) }
                let connection = await connectionTask.value
                try await connection.handshake(
                    limits: ResolvedLimits(
                        maxMessageSize: 16_384,
                        maxConcurrentStreams: 100,
                        initialWindowSize: 1 << 20
                    )
                )
                let error = await failure(of: result)
                #expect(error?.code == .resourceExhausted)
                #expect(error?.status.errorCode == "message_too_large")
                #expect(error?.origin == .client)
                // Nothing reached the server for it; the next call uses a fresh stream on the same connection.
                async let next = client.complete(Fixtures.request())
                let (id, _, _) = try await connection.readCall()
                #expect(id == 2)
                try await connection.answer(id, Fixtures.response())
                _ = try await next
            }
        }
    }

    @Test func pingsFromTheServerAreAnswered() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                async let result = client.complete(Fixtures.request())
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.write(.ping(0x0102_0304_0506_0708, ack: false))
                #expect(try await connection.readFrame() == .ping(0x0102_0304_0506_0708, ack: true))
                try await connection.answer(id, Fixtures.response())
                _ = try await result
            }
        }
    }

    @Test func errorsAndTheirDescriptionsNeverContainKeys() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration { $0.apiKey = Secret(Fixtures.apiKey) }
            try await withTestClient(server, configuration: configuration) { client in
                let result = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.write(
                    .trailers(id, Trailers(status: Status(code: .unauthenticated, errorCode: "invalid_api_key")))
                )
                let error = try #require(await failure(of: result))
                let text = "\(error) \(String(reflecting: error))"
                #expect(!text.contains(Fixtures.apiKey))
                #expect(!text.contains(Fixtures.providerKey))
                #expect(error.code == .unauthenticated)
            }
            #expect("\(configuration)".contains(Fixtures.apiKey) == false)
        }
    }

    @Test func anInvalidConfigurationIsRefused() {
        #expect(throws: FlexClientError.self) {
            _ = try FlexClient(
                host: "127.0.0.1",
                port: 1,
                configuration: Fixtures.configuration { $0.maxMessageSize = 1000 }
            )
        }
        #expect(throws: FlexClientError.self) {
            _ = try FlexClient(
                host: "127.0.0.1",
                port: 1,
                configuration: Fixtures.configuration { $0.initialWindowSize = 0 }
            )
        }
    }

    @Test func aRequestThatDoesNotEncodeFailsAtOnce() async throws {
        let client = try FlexClient(host: "127.0.0.1", port: 1)
        var request = Fixtures.request()
        request.model = "bad\u{0}model"
        let error = await failure { try await client.complete(request) }
        #expect(error?.status.errorCode == "invalid_request")
        #expect(error?.code == .invalidArgument)
        await client.close()
    }

    @Test func aServerThatIsNotThereFailsWithConnectionFailed() async throws {
        let error = try await withRefusingPort { port in
            try await withFlexClient(host: "127.0.0.1", port: port) { client in
                await failure { try await client.complete(Fixtures.request()) }
            }
        }
        #expect(error?.code == .unavailable)
        #expect(error?.status.errorCode == "connection_failed")
    }
}
