import FlexClient
import FlexCodec
import NIOCore
import Testing

/// The client's pool over real sockets: more connections when the open ones are full, a bounded
/// queue past the maximum, several endpoints with calls spread by load, unreachable endpoints
/// skipped for a backoff, and unprocessed calls sent to another endpoint with their request id.
@Suite(.timeLimit(.minutes(1))) struct ConnectionPoolTests {
    static let twoStreams = ResolvedLimits(
        maxMessageSize: ProtocolDefaults.maxMessageSize,
        maxConcurrentStreams: 2,
        initialWindowSize: ProtocolDefaults.initialWindowSize
    )

    static func call(_ client: FlexClient, id: String) -> Task<(InferenceResponse, SavingsRecord?), any Error> {
        Task { try await client.complete(Fixtures.request(id: id)) }
    }

    /// Waits (bounded) until the client's statistics satisfy `condition`.
    static func waitFor(
        _ client: FlexClient,
        _ condition: (FlexClient.Statistics) -> Bool
    ) async throws -> FlexClient.Statistics {
        for _ in 0..<500 {
            let statistics = await client.statistics()
            if condition(statistics) { return statistics }
            try await Task.sleep(for: .milliseconds(10))
        }
        let statistics = await client.statistics()
        Issue.record("the client never reached the expected state: \(statistics)")
        return statistics
    }

    // MARK: - Growing and bounding

    @Test func aClientOpensAnotherConnectionWhenTheOpenOnesAreAtTheStreamLimit() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let calls = (0..<3).map { Self.call(client, id: "c\($0)") }
                let first = await server.accept()
                try await first.handshake(limits: Self.twoStreams)
                let (a, _, requestA) = try await first.readCall()
                let (b, _, requestB) = try await first.readCall()

                // The third call does not wait for a slot on the first connection: it opens a second.
                let second = await server.accept()
                try await second.handshake(limits: Self.twoStreams)
                let (c, _, requestC) = try await second.readCall()
                #expect(Set([requestA.requestID, requestB.requestID, requestC.requestID]) == ["c0", "c1", "c2"])
                let statistics = await client.statistics()
                #expect(statistics.connections == 2)
                #expect(statistics.callsOnConnections == 3)
                #expect(statistics.queuedCalls == 0)

                try await first.answer(a, Fixtures.response(id: requestA.requestID))
                try await first.answer(b, Fixtures.response(id: requestB.requestID))
                try await second.answer(c, Fixtures.response(id: requestC.requestID))
                for call in calls { _ = try await call.value }
            }
        }
    }

    @Test func pastTheMostConnectionsCallsWaitInABoundedQueueAndStartWhenAStreamFrees() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration {
                $0.maxConnectionsPerEndpoint = 1
                $0.maxQueuedCalls = 1
            }
            try await withTestClient(server, configuration: configuration) { client in
                let first = Self.call(client, id: "first")
                let connection = await server.accept()
                try await connection.handshake(limits: Self.twoStreams)
                let (one, _, _) = try await connection.readCall()
                let second = Self.call(client, id: "second")
                let (two, _, _) = try await connection.readCall()

                let waiting = Self.call(client, id: "waiting")
                _ = try await Self.waitFor(client) { $0.queuedCalls == 1 }
                let refused = await failure(of: { try await client.complete(Fixtures.request(id: "refused")) })
                #expect(refused?.code == .resourceExhausted)
                #expect(refused?.status.errorCode == "too_many_pending_calls")
                #expect(refused?.isSafeToRetry == true)
                #expect(await client.statistics().rejectedCalls == 1)

                // A stream frees: the waiting call takes it, on the same connection.
                try await connection.answer(one, Fixtures.response(id: "first"))
                let (three, _, request) = try await connection.readCall()
                #expect(request.requestID == "waiting")
                #expect(await client.statistics().queuedCalls == 0)
                try await connection.answer(two, Fixtures.response(id: "second"))
                try await connection.answer(three, Fixtures.response(id: "waiting"))
                for call in [first, second, waiting] { _ = try await call.value }
            }
        }
    }

    @Test func aQueuedCallWhoseDeadlinePassesLeavesTheQueue() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration { $0.maxConnectionsPerEndpoint = 1 }
            try await withTestClient(server, configuration: configuration) { client in
                let first = Self.call(client, id: "first")
                let connection = await server.accept()
                try await connection.handshake(limits: Self.twoStreams)
                let second = Self.call(client, id: "second")
                let (one, _, _) = try await connection.readCall()
                let (two, _, _) = try await connection.readCall()
                let late = Task {
                    try await client.complete(
                        Fixtures.request(id: "late"),
                        options: CallOptions(timeout: .milliseconds(100))
                    )
                }
                let error = await failure(of: late)
                #expect(error?.code == .deadlineExceeded)
                #expect(await client.statistics().queuedCalls == 0)
                try await connection.answer(one, Fixtures.response(id: "first"))
                try await connection.answer(two, Fixtures.response(id: "second"))
                for call in [first, second] { _ = try await call.value }
            }
        }
    }

    // MARK: - Several endpoints

    @Test func callsSpreadOverEveryEndpoint() async throws {
        try await withFakeServer { a in
            try await withFakeServer { b in
                let endpoints = [a, b].map { FlexClient.Endpoint(host: "127.0.0.1", port: $0.port) }
                try await withFlexClient(endpoints: endpoints, configuration: Fixtures.configuration()) { client in
                    let calls = (0..<4).map { Self.call(client, id: "c\($0)") }
                    let first = await a.accept()
                    let second = await b.accept()
                    try await first.handshake()
                    try await second.handshake()
                    var served: [String] = []
                    for connection in [first, second] {
                        for _ in 0..<2 {
                            let (id, _, request) = try await connection.readCall()
                            served.append(request.requestID)
                            try await connection.answer(id, Fixtures.response(id: request.requestID))
                        }
                    }
                    #expect(Set(served) == ["c0", "c1", "c2", "c3"])
                    for call in calls { _ = try await call.value }
                    #expect(await client.statistics().connections == 2)
                }
            }
        }
    }

    @Test func anUnreachableEndpointIsSkippedAndCallsGoToTheOthers() async throws {
        try await withRefusingPort { refusing in
            try await withFakeServer { server in
                let endpoints = [refusing, server.port].map { FlexClient.Endpoint(host: "127.0.0.1", port: $0) }
                let configuration = Fixtures.configuration {
                    $0.reconnectBackoff = .init(initial: .seconds(30), maximum: .seconds(30))
                }
                try await withFlexClient(endpoints: endpoints, configuration: configuration) { client in
                    let calls = (0..<4).map { Self.call(client, id: "c\($0)") }
                    let connection = await server.accept()
                    try await connection.handshake()
                    for _ in 0..<4 {
                        let (id, _, request) = try await connection.readCall()
                        try await connection.answer(id, Fixtures.response(id: request.requestID))
                    }
                    for call in calls { _ = try await call.value }
                    let statistics = await client.statistics()
                    #expect(statistics.addresses == 2)
                    #expect(statistics.reachableAddresses == 1)
                    #expect(statistics.failedConnects == 1, "one attempt, then the backoff: \(statistics)")
                }
            }
        }
    }

    @Test func whenNoEndpointIsReachableCallsFailAtOnceAsSafeToRetry() async throws {
        try await withRefusingPort { first in
            try await withRefusingPort { second in
                let endpoints = [first, second].map { FlexClient.Endpoint(host: "127.0.0.1", port: $0) }
                try await withFlexClient(endpoints: endpoints, configuration: Fixtures.configuration()) { client in
                    let error = await failure(of: { try await client.complete(Fixtures.request()) })
                    #expect(error?.code == .unavailable)
                    #expect(error?.status.errorCode == "connection_failed")
                    #expect(error?.isSafeToRetry == true)
                    #expect(error?.message.contains("no endpoint is reachable") == true)
                }
            }
        }
    }

    @Test func aCallMadeDuringABackoffWaitsForTheNextAttemptAndFailsOnlyIfItFails() async throws {
        try await withRefusingPort { port in
            let configuration = Fixtures.configuration {
                $0.reconnectBackoff = .init(initial: .milliseconds(200), maximum: .milliseconds(200), jitter: 0)
            }
            try await withFlexClient(
                endpoints: [.init(host: "127.0.0.1", port: port)],
                configuration: configuration
            ) { client in
                // The attempt made for the first call fails: the call fails.
                _ = await failure(of: { try await client.complete(Fixtures.request()) })
                #expect(await client.statistics().failedConnects == 1)
                // Within the backoff: the call waits for the next attempt (an instance that was
                // restarting is often back by then), and fails only when that one fails too.
                let error = await failure(of: { try await client.complete(Fixtures.request()) })
                #expect(error?.status.errorCode == "connection_failed")
                #expect(await client.statistics().failedConnects == 2)
            }
        }
    }

    @Test func aCallADrainingServerDidNotProcessIsSentToAnotherEndpointWithItsRequestID() async throws {
        try await withFakeServer { a in
            try await withFakeServer { b in
                let endpoints = [a, b].map { FlexClient.Endpoint(host: "127.0.0.1", port: $0.port) }
                try await withFlexClient(endpoints: endpoints, configuration: Fixtures.configuration()) { client in
                    // No request id: the client gives it one, kept when the call is sent again.
                    let call = Task { try await client.complete(Fixtures.request(id: "")) }
                    let draining = await a.accept()
                    let other = await b.accept()
                    try await draining.handshake()
                    try await other.handshake()
                    let (stream, _, first) = try await draining.readCall()
                    #expect(first.requestID.hasPrefix("fc-"))
                    try await draining.write(
                        .goAway(
                            GoAway(
                                lastStreamID: StreamID(stream.rawValue - 1),
                                code: .ok,
                                message: "draining",
                                errorCode: "server_shutting_down"
                            )
                        )
                    )
                    let (id, _, again) = try await other.readCall()
                    #expect(again.requestID == first.requestID)
                    try await other.answer(id, Fixtures.response(id: again.requestID))
                    _ = try await call.value
                    #expect(await client.statistics().resentCalls == 1)
                }
            }
        }
    }

    @Test func aCallRefusedBecauseTheServerIsBusyIsSentToAnotherEndpoint() async throws {
        try await withFakeServer { a in
            try await withFakeServer { b in
                let endpoints = [a, b].map { FlexClient.Endpoint(host: "127.0.0.1", port: $0.port) }
                try await withFlexClient(endpoints: endpoints, configuration: Fixtures.configuration()) { client in
                    let call = Self.call(client, id: "busy")
                    let busy = await a.accept()
                    let other = await b.accept()
                    try await busy.handshake()
                    try await other.handshake()
                    let (stream, _, _) = try await busy.readCall()
                    try await busy.write(
                        .trailers(
                            stream,
                            Trailers(
                                status: Status(code: .resourceExhausted, message: "busy", errorCode: "server_busy")
                            )
                        )
                    )
                    let (id, _, request) = try await other.readCall()
                    #expect(request.requestID == "busy")
                    try await other.answer(id, Fixtures.response(id: "busy"))
                    _ = try await call.value
                }
            }
        }
    }

    @Test func aHostNameIsResolved() async throws {
        try await withFakeServer { server in
            try await withFlexClient(
                endpoints: [.init(host: "localhost", port: server.port)],
                configuration: Fixtures.configuration()
            ) { client in
                let call = Self.call(client, id: "named")
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.answer(id, Fixtures.response(id: "named"))
                _ = try await call.value
                #expect(await client.statistics().addresses >= 1)
            }
        }
    }

    @Test func aHostNameThatDoesNotResolveFailsTheCall() async throws {
        try await withFlexClient(
            endpoints: [.init(host: "no-such-host.invalid", port: 7400)],
            configuration: Fixtures.configuration()
        ) { client in
            let error = await failure(of: { try await client.complete(Fixtures.request()) })
            #expect(error?.code == .unavailable)
            #expect(error?.status.errorCode == "resolution_failed")
            #expect(error?.isSafeToRetry == true)
        }
    }

    // MARK: - Values

    @Test(arguments: [
        ("127.0.0.1:7400", "127.0.0.1", 7400),
        ("flexd.internal:1", "flexd.internal", 1),
        ("[::1]:7400", "::1", 7400),
    ])
    func endpointsParse(_ text: String, _ host: String, _ port: Int) throws {
        let endpoint = try FlexClient.Endpoint(text)
        #expect(endpoint == FlexClient.Endpoint(host: host, port: port))
        #expect(endpoint.description == text)
    }

    @Test(arguments: ["7400", "host:", ":7400", "host:0", "host:65536", "::1:7400", "[::1]7400", "host:port"])
    func malformedEndpointsAreRefused(_ text: String) {
        #expect(throws: FlexClientError.self) { try FlexClient.Endpoint(text) }
    }

    @Test func aClientNeedsAnEndpoint() {
        #expect(throws: FlexClientError.self) { try FlexClient(endpoints: []) }
    }
}
