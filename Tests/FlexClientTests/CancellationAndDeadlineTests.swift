import FlexClient
import FlexCodec
import NIOCore
import Testing

/// Task cancellation sends CANCEL; deadlines travel in HEADERS and are enforced locally.
@Suite(.timeLimit(.minutes(1))) struct CancellationAndDeadlineTests {
    @Test func cancellingTheTaskOfAUnaryCallSendsCancel() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task { try await client.complete(Fixtures.request()) }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                call.cancel()
                #expect(
                    try await connection.readFrame()
                        == .cancel(id, Cancel(code: .cancelled, reason: "the call's task was cancelled"))
                )
                let error = await failure(of: call)
                #expect(error?.code == .cancelled)
                #expect(error?.origin == .client)
                // The server's TRAILERS for the cancelled call are ignored; the connection is fine.
                try await connection.write(
                    .trailers(id, Trailers(status: Status(code: .cancelled), savings: Fixtures.savings()))
                )
                async let next = client.complete(Fixtures.request())
                let (two, _, _) = try await connection.readCall()
                try await connection.answer(two, Fixtures.response())
                #expect(try await next.0 == Fixtures.response())
            }
        }
    }

    @Test func cancellingTheTaskOfAStreamingCallSendsCancel() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let (firstEvent, firstEventContinuation) = AsyncStream<StreamEvent>.makeStream()
                let call = Task {
                    try await client.stream(Fixtures.request()) { stream in
                        for try await event in stream {
                            firstEventContinuation.yield(event)
                        }
                    }
                }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.write(.responseHeaders(id, ResponseHeaders()))
                try await connection.writeMessage(Fixtures.route, on: id)
                var events = firstEvent.makeAsyncIterator()
                #expect(await events.next() == Fixtures.route)
                call.cancel()  // the body is waiting in next()
                guard case .cancel(id, let cancel) = try await connection.readFrame() else {
                    Issue.record("expected CANCEL")
                    return
                }
                #expect(cancel.code == .cancelled)
                #expect(await failure(of: call)?.code == .cancelled)
            }
        }
    }

    @Test func aCallCancelledBeforeItStartsSendsNothing() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task {
                    withUnsafeCurrentTask { $0?.cancel() }
                    return try await client.complete(Fixtures.request())
                }
                #expect(await failure(of: call)?.code == .cancelled)
                // The next call is the first stream the server sees.
                async let next = client.complete(Fixtures.request())
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                #expect(id == 1)
                try await connection.answer(id, Fixtures.response())
                _ = try await next
            }
        }
    }

    @Test func theDeadlineTravelsInHeadersAndIsEnforcedWithCancel() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                // Long enough for the call to reach the server on a busy machine; the test waits it out.
                let call = Task {
                    try await client.complete(Fixtures.request(), options: CallOptions(timeout: .seconds(2)))
                }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, headers, _) = try await connection.readCall()
                let timeout = try #require(headers.timeout)
                #expect(timeout > .zero && timeout <= .seconds(2))
                // The server never answers: the client gives up at the deadline.
                #expect(
                    try await connection.readFrame()
                        == .cancel(id, Cancel(code: .deadlineExceeded, reason: "the call's deadline passed"))
                )
                let error = await failure(of: call)
                #expect(error?.code == .deadlineExceeded)
                #expect(error?.status.errorCode == "deadline_exceeded")
                #expect(error?.origin == .client)
            }
        }
    }

    @Test func theConfiguredDefaultTimeoutApplies() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration { $0.defaultTimeout = .seconds(42) }
            try await withTestClient(server, configuration: configuration) { client in
                async let result = client.complete(Fixtures.request())
                let connection = await server.accept()
                try await connection.handshake()
                let (id, headers, _) = try await connection.readCall()
                let timeout = try #require(headers.timeout)
                #expect(timeout > .seconds(30) && timeout <= .seconds(42))
                try await connection.answer(id, Fixtures.response())
                _ = try await result
            }
        }
    }

    @Test func aDeadlineThatPassesWhileWaitingForASlotFailsWithoutSending() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let first = Task { try await client.complete(Fixtures.request(id: "first")) }
                let connection = await server.accept()
                try await connection.handshake(
                    limits: ResolvedLimits(maxMessageSize: 1 << 22, maxConcurrentStreams: 1, initialWindowSize: 1 << 20)
                )
                let (one, _, _) = try await connection.readCall()
                // One slot, taken: the second call waits, and its deadline passes while it does.
                let second = Task {
                    try await client.complete(
                        Fixtures.request(id: "second"),
                        options: CallOptions(timeout: .milliseconds(100))
                    )
                }
                #expect(await failure(of: second)?.code == .deadlineExceeded)
                try await connection.answer(one, Fixtures.response())
                _ = try await first.value
                // The second call was never sent: the next frames are a third call's, on stream 2.
                async let third = client.complete(Fixtures.request(id: "third"))
                let (two, _, request) = try await connection.readCall()
                #expect(two == 2 && request.requestID == "third")
                try await connection.answer(two, Fixtures.response())
                _ = try await third
            }
        }
    }

    @Test func aServerSideDeadlineEndsTheCallWithItsSavingsRecord() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let call = Task {
                    try await client.complete(Fixtures.request(), options: CallOptions(timeout: .seconds(30)))
                }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                let status = Status(code: .deadlineExceeded, message: "deadline passed", errorCode: "deadline_exceeded")
                try await connection.write(.trailers(id, Trailers(status: status, savings: Fixtures.savings(saved: 5))))
                let error = await failure(of: call)
                #expect(error?.code == .deadlineExceeded)
                #expect(error?.origin == .server)
                #expect(error?.savings == Fixtures.savings(saved: 5))
            }
        }
    }
}
