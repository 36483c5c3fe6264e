import FlexClient
import FlexCodec
import NIOCore
import Testing

/// GOAWAY, lost connections, reconnects, the client's own close, keepalive.
@Suite(.timeLimit(.minutes(1))) struct ConnectionLifecycleTests {
    /// Starts `count` unary calls with ids "c0", "c1", ... and returns their tasks.
    static func startCalls(
        _ client: FlexClient,
        _ count: Int,
        options: CallOptions = .defaults
    ) -> [Task<(InferenceResponse, SavingsRecord?), any Error>] {
        (0..<count).map { n in Task { try await client.complete(Fixtures.request(id: "c\(n)"), options: options) } }
    }

    @Test func aDrainFinishesCallsUpToLastStreamIDAndRetriesTheRestOnANewConnection() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let first = Task { try await client.complete(Fixtures.request(id: "one")) }
                let old = await server.accept()
                try await old.handshake()
                let (one, _, _) = try await old.readCall()
                let second = Task { try await client.complete(Fixtures.request(id: "two")) }
                let (two, _, _) = try await old.readCall()
                #expect((one, two) == (1, 2))

                // Drain: stream 1 was processed, stream 2 was not.
                try await old.write(
                    .goAway(
                        GoAway(lastStreamID: one, code: .ok, message: "draining", errorCode: "server_shutting_down")
                    )
                )

                // Call two is sent again on a new connection; new calls go there too.
                let fresh = await server.accept()
                try await fresh.handshake()
                let (retried, _, request) = try await fresh.readCall()
                #expect(retried == 1 && request.requestID == "two")
                try await fresh.answer(retried, Fixtures.response(id: "two"))
                #expect(try await second.value.0 == Fixtures.response(id: "two"))

                let third = Task { try await client.complete(Fixtures.request(id: "three")) }
                let (next, _, nextRequest) = try await fresh.readCall()
                #expect(next == 2 && nextRequest.requestID == "three")
                try await fresh.answer(next, Fixtures.response(id: "three"))
                _ = try await third.value

                // Call one finishes on the draining connection, which the client then closes.
                try await old.answer(one, Fixtures.response(id: "one"))
                #expect(try await first.value.0 == Fixtures.response(id: "one"))
                #expect(try await old.readUntilClosed().isEmpty)
            }
        }
    }

    @Test func withoutRetriesCallsAboveLastStreamIDFailAsSafeToRetry() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration { $0.maxTransparentRetries = 0 }
            try await withTestClient(server, configuration: configuration) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                try await connection.handshake()
                _ = try await connection.readCall()
                try await connection.write(
                    .goAway(GoAway(lastStreamID: 0, code: .ok, message: "draining", errorCode: "server_shutting_down"))
                )
                let error = await failure(of: call)
                #expect(error?.code == .unavailable)
                #expect(error?.isSafeToRetry == true)
                #expect(error?.origin == .goAway)
                #expect(error?.status.errorCode == "server_shutting_down")
                #expect(try await connection.readUntilClosed().isEmpty)
            }
        }
    }

    @Test func aCallIsRetriedOnlyWithinTheBudget() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                for _ in 0..<2 {
                    let connection = await server.accept()
                    try await connection.handshake()
                    _ = try await connection.readCall()
                    try await connection.write(
                        .goAway(GoAway(lastStreamID: 0, code: .ok, errorCode: "server_shutting_down"))
                    )
                }
                // Sent twice (the default budget is one retry), refused twice: it fails.
                let error = await failure(of: call)
                #expect(error?.isSafeToRetry == true)
                #expect(server.waitingConnections == 0)
            }
        }
    }

    @Test func anErrorGoAwayFailsTheCallsItProcessedWithItsStatus() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.write(
                    .goAway(
                        GoAway(
                            lastStreamID: id,
                            code: .resourceExhausted,
                            message: "overloaded",
                            errorCode: "server_overloaded"
                        )
                    )
                )
                await connection.close()
                let error = await failure(of: call)
                #expect(error?.code == .resourceExhausted)
                #expect(error?.origin == .goAway)
                #expect(error?.status.errorCode == "server_overloaded")
                #expect(error?.isSafeToRetry == false)
            }
        }
    }

    @Test func aConnectionClosedWithoutGoAwayFailsOpenCallsAndTheNextCallReconnects() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let unary = Task { try await client.complete(Fixtures.request()) }
                let stream = Task { try await client.stream(Fixtures.request()) { try await $0.collect() } }
                let connection = await server.accept()
                try await connection.handshake()
                _ = try await connection.readCall()
                let (streamID, _, _) = try await connection.readCall()
                try await connection.write(.responseHeaders(streamID, ResponseHeaders()))
                try await connection.writeMessage(Fixtures.route, on: streamID)
                await connection.close()
                for error in [await failure(of: unary), await failure(of: stream)] {
                    #expect(error?.code == .unavailable)
                    #expect(error?.status.errorCode == "connection_closed")
                    #expect(error?.isSafeToRetry == false)  // it may have been processed
                }

                async let next = client.complete(Fixtures.request())
                let fresh = await server.accept()
                try await fresh.handshake()
                let (id, _, _) = try await fresh.readCall()
                #expect(id == 1)
                try await fresh.answer(id, Fixtures.response())
                _ = try await next
            }
        }
    }

    @Test func aServerThatClosesDuringTheHandshakeFailsTheWaitingCalls() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                _ = try await connection.readFrame()  // the HELLO
                await connection.close()
                let error = await failure(of: call)
                #expect(error?.code == .unavailable)
                #expect(error?.status.errorCode == "connection_closed")
            }
        }
    }

    @Test func aServerThatRefusesTheConnectionWithGoAwayFailsTheCallsWithItsStatus() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                _ = try await connection.readFrame()
                try await connection.write(
                    .goAway(
                        GoAway(
                            lastStreamID: 0,
                            code: .unimplemented,
                            message: "no shared version",
                            errorCode: "unsupported_version"
                        )
                    )
                )
                await connection.close()
                let error = await failure(of: call)
                #expect(error?.code == .unimplemented)
                #expect(error?.status.errorCode == "unsupported_version")
            }
        }
    }

    @Test func aServerThatNeverSaysHelloTimesOut() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration { $0.handshakeTimeout = .milliseconds(200) }
            try await withTestClient(server, configuration: configuration) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                _ = try await connection.readFrame()
                #expect(try await connection.readUntilClosed().isEmpty)
                let error = await failure(of: call)
                #expect(error?.code == .unavailable)
                #expect(error?.status.errorCode == "handshake_timeout")
            }
        }
    }

    // MARK: - The client's close

    @Test func closeLetsCallsInFlightFinishThenSaysGoAwayAndRefusesNewCalls() async throws {
        try await withFakeServer { server in
            let client = try FlexClient(host: "127.0.0.1", port: server.port)
            let call = Task { try await client.complete(Fixtures.request()) }
            let connection = await server.accept()
            try await connection.handshake()
            let (id, _, _) = try await connection.readCall()
            client.beginGracefulShutdown()
            // New calls are refused at once.
            let refused = await failure { try await client.complete(Fixtures.request()) }
            #expect(refused?.code == .unavailable)
            #expect(refused?.status.errorCode == "client_closed")
            // The call in flight finishes; then GOAWAY (OK, 0) and the close.
            try await connection.answer(id, Fixtures.response())
            #expect(try await call.value.0 == Fixtures.response())
            let frames = try await connection.readUntilClosed()
            #expect(frames == [.goAway(GoAway(lastStreamID: 0, code: .ok, message: "client closing"))])
            await client.close()
            await client.close()  // again: returns at once
        }
    }

    @Test func closingAnUnusedClientReturnsAtOnce() async throws {
        let client = try FlexClient(host: "127.0.0.1", port: 9)
        await client.close()
        #expect(await failure { try await client.complete(Fixtures.request()) }?.status.errorCode == "client_closed")
    }

    // MARK: - Keepalive

    @Test func keepalivePingsAreSentAndAnUnansweredOneClosesTheConnection() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration {
                // The timeout leaves the scripted server ample time to answer the first ping.
                $0.keepalive = .init(interval: .milliseconds(100), timeout: .seconds(2))
            }
            try await withTestClient(server, configuration: configuration) { client in
                let call = Task { try await client.stream(Fixtures.request()) { try await $0.collect() } }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                // Answer the first ping, then stay silent.
                guard case .ping(let data, ack: false) = try await connection.readFrame() else {
                    Issue.record("expected a keepalive PING")
                    return
                }
                try await connection.write(.ping(data, ack: true))
                var sawGoAway = false
                for frame in try await connection.readUntilClosed() {
                    if case .goAway(let goAway) = frame {
                        #expect(goAway.errorCode == "keepalive_timeout")
                        #expect(goAway.code == .unavailable)
                        sawGoAway = true
                    }
                }
                #expect(sawGoAway)
                let error = await failure(of: call)
                #expect(error?.code == .unavailable)
                #expect(error?.status.errorCode == "keepalive_timeout")
                _ = id
            }
        }
    }
}
