import FlexClient
import FlexCodec
import NIOCore
import Testing

/// Streaming calls: events, the end with trailers and savings, flow control, abandoning a stream.
@Suite(.timeLimit(.minutes(1))) struct StreamingCallTests {
    @Test func eventsArriveInOrderAndTheEndGivesTrailersAndSavings() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let serverSide = Task {
                    let connection = await server.accept()
                    try await connection.handshake()
                    let (id, headers, request) = try await connection.readCall()
                    #expect(headers.method == "flexinference.v1.Inference/Stream")
                    #expect(request == Fixtures.request())
                    try await connection.write(.responseHeaders(id, ResponseHeaders(metadata: ["served-by": "fake"])))
                    try await connection.writeMessage(Fixtures.route, on: id)
                    for n in 0..<5 {
                        try await connection.writeMessage(Fixtures.nativeEvent(n), on: id)
                    }
                    try await connection.write(
                        .trailers(id, Trailers(status: .ok, savings: Fixtures.savings(), metadata: ["t": "1"]))
                    )
                }
                let (events, trailers, savings, headers) = try await client.stream(Fixtures.request()) { stream in
                    var events: [StreamEvent] = []
                    #expect(stream.trailers == nil)
                    for try await event in stream {
                        events.append(event)
                    }
                    return (events, stream.trailers, stream.savings, stream.responseHeaders)
                }
                try await serverSide.value
                #expect(events == [Fixtures.route] + (0..<5).map { Fixtures.nativeEvent($0) })
                #expect(trailers == Trailers(status: .ok, savings: Fixtures.savings(), metadata: ["t": "1"]))
                #expect(savings == Fixtures.savings())
                #expect(headers == ResponseHeaders(metadata: ["served-by": "fake"]))
            }
        }
    }

    @Test func aStreamWithNoEventsEndsCleanly() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let serverSide = Task {
                    let connection = await server.accept()
                    try await connection.handshake()
                    let (id, _, _) = try await connection.readCall()
                    try await connection.write(.responseHeaders(id, ResponseHeaders()))
                    try await connection.write(.trailers(id, Trailers(status: .ok)))
                }
                let count = try await client.stream(Fixtures.request()) { stream in
                    var count = 0
                    for try await _ in stream { count += 1 }
                    // Reading past the end keeps returning nil.
                    var iterator = stream.makeAsyncIterator()
                    #expect(try await iterator.next() == nil)
                    return count
                }
                try await serverSide.value
                #expect(count == 0)
            }
        }
    }

    @Test func aFailureAfterSomeEventsDeliversTheEventsThenThrowsWithTheSavingsRecord() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let serverSide = Task {
                    let connection = await server.accept()
                    try await connection.handshake()
                    let (id, _, _) = try await connection.readCall()
                    try await connection.write(.responseHeaders(id, ResponseHeaders()))
                    try await connection.writeMessage(Fixtures.route, on: id)
                    try await connection.writeMessage(Fixtures.nativeEvent(0), on: id)
                    let status = Status(
                        code: .dataLoss,
                        message: "the provider's stream ended early",
                        errorCode: "upstream_truncated"
                    )
                    try await connection.write(
                        .trailers(id, Trailers(status: status, savings: Fixtures.savings(saved: 10)))
                    )
                }
                let received = try await client.stream(Fixtures.request()) { stream in
                    var events: [StreamEvent] = []
                    let error = await failure {
                        for try await event in stream { events.append(event) }
                    }
                    return (events, error, stream.savings)
                }
                try await serverSide.value
                #expect(received.0 == [Fixtures.route, Fixtures.nativeEvent(0)])
                #expect(received.1?.code == .dataLoss)
                #expect(received.1?.status.errorCode == "upstream_truncated")
                #expect(received.1?.savings == Fixtures.savings(saved: 10))
                #expect(received.2 == Fixtures.savings(saved: 10))
            }
        }
    }

    @Test func compressedEventsAreDecompressed() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let big = Fixtures.nativeEvent(1, size: 50_000)
                let serverSide = Task {
                    let connection = await server.accept()
                    try await connection.handshake()
                    let (id, _, _) = try await connection.readCall()
                    try await connection.write(.responseHeaders(id, ResponseHeaders()))
                    try await connection.writeMessage(big, on: id)
                    try await connection.write(.trailers(id, Trailers(status: .ok)))
                }
                let events = try await client.stream(Fixtures.request()) { stream in
                    try await stream.collect()
                }
                try await serverSide.value
                #expect(events == [big])
            }
        }
    }

    @Test func anUndecodableEventCancelsThatCallOnly() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let stream = Task {
                    try await client.stream(Fixtures.request()) { stream in try await stream.collect() }
                }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.write(.responseHeaders(id, ResponseHeaders()))
                try await connection.write(.message(id, ByteBuffer(bytes: [0xFF, 0xFF, 0xFF]), endStream: false))
                guard case .cancel(id, let cancel) = try await connection.readFrame() else {
                    Issue.record("expected CANCEL")
                    return
                }
                #expect(cancel.code == .cancelled)
                let error = await failure(of: stream)
                #expect(error?.code == .internal)
                #expect(error?.status.errorCode == "invalid_message")
                // The connection carries on.
                async let next = client.complete(Fixtures.request())
                let (two, _, _) = try await connection.readCall()
                try await connection.answer(two, Fixtures.response())
                _ = try await next
            }
        }
    }

    // MARK: - Flow control

    @Test func theClientReturnsCreditOnlyAsTheCallerReads() async throws {
        try await withFakeServer { server in
            // A 1,000-byte window: events of ~600 bytes exhaust it after two.
            let configuration = Fixtures.configuration { $0.initialWindowSize = 1000 }
            try await withTestClient(server, configuration: configuration) { client in
                let (reads, readsContinuation) = AsyncStream<Void>.makeStream()
                let (received, receivedContinuation) = AsyncStream<StreamEvent>.makeStream()
                let stream = Task {
                    try await client.stream(Fixtures.request()) { stream in
                        var iterator = stream.makeAsyncIterator()
                        // Read one event each time the test says so.
                        for await _ in reads {
                            guard let event = try await iterator.next() else { break }
                            receivedContinuation.yield(event)
                        }
                        receivedContinuation.finish()
                    }
                }
                let connection = await server.accept()
                let hello = try await connection.handshake()
                #expect(hello.limits.initialWindowSize == 1000)
                let (id, _, _) = try await connection.readCall()
                try await connection.write(.responseHeaders(id, ResponseHeaders()))
                let first = Fixtures.nativeEvent(0, size: 560)
                let second = Fixtures.nativeEvent(1, size: 560)
                try await connection.writeMessage(first, on: id)
                try await connection.writeMessage(second, on: id)  // window: 1000 - 2 × ~600 < 0
                let eventLength = try connection.coder.encode(first).readableBytes
                #expect(eventLength > 500 && eventLength < 1000)

                // Nothing has been read: no credit comes back. (A PING is answered in order, so its
                // ACK arriving first proves no WINDOW_UPDATE was sent before it.)
                try await connection.write(.ping(1, ack: false))
                #expect(try await connection.readFrame() == .ping(1, ack: true))

                // The caller reads one event: more than half the window was consumed, credit returns.
                var events = received.makeAsyncIterator()
                readsContinuation.yield()
                #expect(await events.next() == first)
                #expect(try await connection.readFrame() == .windowUpdate(id, increment: UInt32(eventLength)))

                readsContinuation.yield()
                #expect(await events.next() == second)
                #expect(try await connection.readFrame() == .windowUpdate(id, increment: UInt32(eventLength)))

                try await connection.write(.trailers(id, Trailers(status: .ok)))
                readsContinuation.yield()
                readsContinuation.finish()
                #expect(await events.next() == nil)
                try await stream.value
            }
        }
    }

    @Test func aServerThatSendsBeyondTheWindowBreaksTheConnection() async throws {
        try await withFakeServer { server in
            let configuration = Fixtures.configuration { $0.initialWindowSize = 1000 }
            try await withTestClient(server, configuration: configuration) { client in
                let (go, goContinuation) = AsyncStream<Void>.makeStream()
                let stream = Task {
                    try await client.stream(Fixtures.request()) { stream in
                        // Reads only once the server broke the window.
                        for await _ in go { break }
                        return try await stream.collect()
                    }
                }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.write(.responseHeaders(id, ResponseHeaders()))
                for n in 0..<3 {
                    try await connection.writeMessage(Fixtures.nativeEvent(n, size: 560), on: id)
                }
                let frames = try await connection.readUntilClosed()
                guard case .goAway(let goAway) = frames.last else {
                    Issue.record("expected GOAWAY before the close, got \(frames)")
                    return
                }
                #expect(goAway.errorCode == "flow_control_error")
                #expect(goAway.code == .internal)
                goContinuation.yield()
                let error = await failure(of: stream)
                #expect(error?.status.errorCode == "flow_control_error")
            }
        }
    }

    // MARK: - Leaving early

    @Test func leavingTheBodyBeforeTheEndCancelsTheCall() async throws {
        try await withFakeServer { server in
            try await withTestClient(server) { client in
                let stream = Task {
                    try await client.stream(Fixtures.request()) { stream -> StreamEvent? in
                        for try await event in stream {
                            return event  // only the first
                        }
                        return nil
                    }
                }
                let connection = await server.accept()
                try await connection.handshake()
                let (id, _, _) = try await connection.readCall()
                try await connection.write(.responseHeaders(id, ResponseHeaders()))
                try await connection.writeMessage(Fixtures.route, on: id)
                #expect(try await stream.value == Fixtures.route)
                guard case .cancel(id, let cancel) = try await connection.readFrame() else {
                    Issue.record("expected CANCEL")
                    return
                }
                #expect(cancel.code == .cancelled)
                // The server's answer to the CANCEL is ignored, and events that crossed it too.
                try await connection.writeMessage(Fixtures.nativeEvent(1), on: id)
                try await connection.write(
                    .trailers(id, Trailers(status: Status(code: .cancelled, errorCode: "cancelled")))
                )
                async let next = client.complete(Fixtures.request())
                let (two, _, _) = try await connection.readCall()
                try await connection.answer(two, Fixtures.response())
                _ = try await next
            }
        }
    }
}
