import FlexClient
import FlexCodec
import NIOCore
import Testing

/// The FlexClient documentation's examples (its landing page and *Making calls*), compiled (so that
/// they stay true to the API) and run against the scripted server.
@Suite(.timeLimit(.minutes(1))) struct ReadmeExamplesTests {
    @Test func theExamplesCompileAndRun() async throws {
        try await withFakeServer { server in
            let serverSide = Task {
                let connection = await server.accept()
                try await connection.handshake()
                for _ in 0..<6 {  // the six calls of the examples
                    let (id, headers, request) = try await connection.readCall()
                    if headers.method == RequestHeaders.Method.stream {
                        try await connection.write(.responseHeaders(id, ResponseHeaders()))
                        try await connection.writeMessage(Fixtures.route, on: id)
                        try await connection.write(.trailers(id, Trailers(status: .ok, savings: Fixtures.savings())))
                    } else if request.requestID == "fails" {
                        try await connection.write(
                            .trailers(
                                id,
                                Trailers(status: Status(code: .invalidArgument, errorCode: "missing_start_within"))
                            )
                        )
                    } else {
                        try await connection.answer(
                            id,
                            Fixtures.response(),
                            trailers: Trailers(status: .ok, savings: Fixtures.savings())
                        )
                    }
                }
            }
            try await withFlexClient(host: "127.0.0.1", port: server.port) { client in
                try await Self.examples(
                    client,
                    request: Fixtures.request(),
                    requests: [Fixtures.request(), Fixtures.request()]
                )
            }
            try await serverSide.value
        }
    }

    static func examples(_ client: FlexClient, request: InferenceRequest, requests: [InferenceRequest]) async throws {
        // Unary.
        let (response, savings) = try await client.complete(request)
        #expect(response.nativeJSON != nil && savings?.tierServed == .flex)

        // Streaming.
        let streamed = try await client.stream(request) { events in
            for try await event in events {
                switch event {
                case .route(let route): _ = (route.tier!, route.fellBack ? "(fell back)" : "")
                case .native(let native): _ = (native.event, String(buffer: native.data))
                default: break
                }
            }
            return events.savings
        }
        #expect(streamed == Fixtures.savings())

        // Deadline.
        _ = try await client.complete(request, options: CallOptions(timeout: .seconds(90)))

        // Many calls on one connection: the two requests.
        let saved = try await withThrowingTaskGroup(of: Int64.self) { group in
            for request in requests {
                group.addTask { try await client.complete(request).1?.savedPicoUSD ?? 0 }
            }
            return try await group.reduce(0, +)
        }
        #expect(saved == 2 * Fixtures.savings().savedPicoUSD)

        // Errors.
        var failing = request
        failing.requestID = "fails"
        var caught: FlexClientError.Code?
        do throws(FlexClientError) {
            _ = try await client.complete(failing)
        } catch {
            switch error.code {
            case .invalidArgument: caught = error.code
            case .unavailable where error.isSafeToRetry: break
            case .deadlineExceeded, .cancelled: break
            default: _ = (error.status, error.status.upstream?.httpStatus ?? 0, error.savings?.actualCostPicoUSD ?? 0)
            }
        }
        #expect(caught == .invalidArgument)
    }
}
