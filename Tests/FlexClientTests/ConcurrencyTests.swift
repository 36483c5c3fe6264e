import FlexClient
import FlexCodec
import NIOCore
import Testing

/// Many calls on one connection, and the server's max_concurrent_streams.
@Suite(.timeLimit(.minutes(1))) struct ConcurrencyTests {
    @Test func manyConcurrentCallsShareOneConnectionAndGetTheirOwnAnswers() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let count = 50
                let results = Task {
                    try await withThrowingTaskGroup(of: (String, String).self) { group in
                        for n in 0..<count {
                            group.addTask {
                                let (response, savings) = try await client.complete(Fixtures.request(id: "r\(n)"))
                                return (response.requestID, savings?.requestID ?? "")
                            }
                        }
                        return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                    }
                }
                let connection = await server.accept()
                try await connection.handshake()
                var calls: [(StreamID, String)] = []
                for _ in 0..<count {
                    let (id, _, request) = try await connection.readCall()
                    calls.append((id, request.requestID))
                }
                #expect(Set(calls.map(\.0)).count == count)
                // Answer in reverse order, interleaving the frames of different calls.
                for (id, _) in calls.reversed() {
                    try await connection.write(.responseHeaders(id, ResponseHeaders()))
                }
                for (id, requestID) in calls.reversed() {
                    try await connection.writeMessage(Fixtures.response(id: requestID), on: id)
                    try await connection.write(
                        .trailers(id, Trailers(status: .ok, savings: Fixtures.savings(id: requestID)))
                    )
                }
                let answered = try await results.value
                #expect(answered.count == count)
                #expect(answered.allSatisfy { $0.key == $0.value })
                #expect(server.waitingConnections == 0)
            }
        }
    }

    @Test func callsBeyondMaxConcurrentStreamsWaitInsteadOfFailing() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let calls = (0..<3).map { n in Task { try await client.complete(Fixtures.request(id: "w\(n)")) } }
                let connection = await server.accept()
                try await connection.handshake(
                    limits: ResolvedLimits(maxMessageSize: 1 << 22, maxConcurrentStreams: 1, initialWindowSize: 1 << 20)
                )
                var answered: [String] = []
                for expected in 1...3 {
                    let (id, _, request) = try await connection.readCall()
                    #expect(id.rawValue == UInt32(expected))
                    // While this one is open, no other HEADERS arrive: the PING's ACK comes next.
                    try await connection.write(.ping(UInt64(expected), ack: false))
                    #expect(try await connection.readFrame() == .ping(UInt64(expected), ack: true))
                    try await connection.answer(id, Fixtures.response(id: request.requestID))
                    answered.append(request.requestID)
                }
                for (n, call) in calls.enumerated() {
                    #expect(try await call.value.0 == Fixtures.response(id: "w\(n)"))
                }
                #expect(Set(answered) == ["w0", "w1", "w2"])
            }
        }
    }

    @Test func theWaitingQueueIsBounded() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration { $0.maxQueuedCalls = 1 }
            try await withTestClient(server, configuration: configuration) { client in
                // Before the handshake every call waits: one fits in the queue.
                let first = Task { try await client.complete(Fixtures.request(id: "first")) }
                let connection = await server.accept()
                _ = try await connection.readFrame()  // the HELLO; the server does not answer yet
                let second = await failure { try await client.complete(Fixtures.request(id: "second")) }
                #expect(second?.code == .resourceExhausted)
                #expect(second?.status.errorCode == "too_many_pending_calls")
                try await connection.write(.hello(Hello(versions: [1], compression: [])))
                let (id, _, request) = try await connection.readCall()
                #expect(request.requestID == "first")
                try await connection.answer(id, Fixtures.response())
                _ = try await first.value
            }
        }
    }
}
