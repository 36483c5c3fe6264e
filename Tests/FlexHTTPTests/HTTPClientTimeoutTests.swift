import FlexHTTP
import NIOCore
import Testing

/// Each timeout fires as its own error. Only the kind of error is asserted, never how long it took.
///
/// These tests need the machine to keep up with sub-second timers, so `tools/test` runs this suite
/// on its own, after the rest of the suite (which runs hundreds of tests at once on two cores), and
/// its tests one at a time.
@Suite(.serialized) struct HTTPClientTimeoutTests {
    @Test func connectTimeoutWhileTheTLSHandshakeHangs() async throws {
        try await withTestServer(mode: .silent) { server in
            try await withTestClient { client in
                var request = HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/")
                request.timeouts = HTTPTimeouts(connect: .milliseconds(300))
                let error = await #expect(throws: HTTPClientError.self) { try await client.execute(request) }
                #expect(error?.code == .connectTimeout)
                #expect(error?.curlCode == 28)
                // TCP connected (the kernel completed the handshake); TLS never did.
                #expect(await eventually { server.stats.connectionsAccepted == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func responseHeadTimeoutWhileTheServerSaysNothing() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                // 1 s: time for a busy machine to connect and send, so the server does get the request.
                var request = HTTPClientRequest(url: server.baseURL + "/stall-head")
                request.timeouts = HTTPTimeouts(responseHead: .seconds(1))
                let error = await #expect(throws: HTTPClientError.self) { try await client.execute(request) }
                #expect(error?.code == .responseHeadTimeout)
                #expect(await eventually { server.stats.requestsReceived == 1 })
                // The aborted HTTP/1.1 connection is closed, not returned to the pool.
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func idleTimeoutWhenTheBodyStalls() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var request = HTTPClientRequest(url: server.baseURL + "/stall-body?bytes=100")
                request.timeouts = HTTPTimeouts(idle: .milliseconds(300))
                let response = try await client.execute(request)
                #expect(response.status == 200)
                var received = 0
                let error = await #expect(throws: HTTPClientError.self) {
                    for try await chunk in response.body {
                        received += chunk.readableBytes
                    }
                }
                #expect(error?.code == .idleTimeout)
                #expect(received == 100)
                #expect(await eventually { server.stats.connectionsClosed == 1 })
            }
        }
    }

    @Test func aHandleShortensTheIdleTimeoutOfARunningRequest() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                // Ten minutes of idle timeout, shortened once the first bytes are in. Were the change
                // lost, the 20 s total timeout would end the request instead.
                let handle = HTTPCancellationHandle()
                var request = HTTPClientRequest(url: server.baseURL + "/stall-body?bytes=100")
                request.timeouts = HTTPTimeouts(idle: .seconds(600), total: .seconds(20))
                request.cancellation = handle
                let response = try await client.execute(request)
                var body = response.body.makeAsyncIterator()
                var received = try await body.next()?.readableBytes ?? 0
                handle.setIdleTimeout(.milliseconds(300))
                let error = await #expect(throws: HTTPClientError.self) {
                    while let chunk = try await body.next() {
                        received += chunk.readableBytes
                    }
                }
                #expect(error?.code == .idleTimeout)
                #expect(received == 100)
            }
        }
    }

    @Test func totalTimeoutWhileDataKeepsFlowing() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                // A chunk every 20 ms never trips a 5 s idle timeout; the 2 s total one fires.
                var request = HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=20")
                request.timeouts = HTTPTimeouts(idle: .seconds(5), total: .seconds(2))
                let response = try await client.execute(request)
                var chunks = 0
                let error = await #expect(throws: HTTPClientError.self) {
                    for try await _ in response.body {
                        chunks += 1
                    }
                }
                #expect(error?.code == .totalTimeout)
                #expect(chunks > 1)
            }
        }
    }

    @Test func totalTimeoutBeforeTheHead() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var request = HTTPClientRequest(url: server.baseURL + "/stall-head")
                request.timeouts = HTTPTimeouts(total: .milliseconds(300))
                let error = await #expect(throws: HTTPClientError.self) { try await client.execute(request) }
                #expect(error?.code == .totalTimeout)
            }
        }
    }

    @Test func responseHeadTimeoutStopsMatteringOnceTheHeadArrived() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                // The head timeout is generous so that a loaded machine still delivers the head in
                // time; the body is then read until well past it.
                var request = HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=10")
                request.timeouts = HTTPTimeouts(responseHead: .seconds(1))
                let clock = ContinuousClock()
                let start = clock.now
                let response = try await client.execute(request)
                var chunks = 0
                for try await _ in response.body {
                    chunks += 1
                    if clock.now - start > .milliseconds(1500) {
                        break
                    }
                }
                #expect(chunks > 1)
            }
        }
    }

    @Test func timeSpentPausedForASlowConsumerIsNotIdleTime() async throws {
        var configuration = HTTPClient.Configuration.defaults
        configuration.bodyBuffering = .init(highWatermark: 64 * 1024, lowWatermark: 16 * 1024)
        try await withTestServer { server in
            try await withTestClient(configuration: configuration) { client in
                // The idle timeout is long enough for a busy test machine's server to keep up once
                // reading resumes; the consumer then dawdles for four idle periods.
                var request = HTTPClientRequest(url: server.baseURL + "/huge?bytes=\(64 << 20)")
                request.timeouts = HTTPTimeouts(idle: .seconds(1))
                let response = try await client.execute(request)
                var iterator = response.body.makeAsyncIterator()
                _ = try await iterator.next()
                // The buffer fills and the transfer pauses while the consumer sleeps.
                try await Task.sleep(for: .seconds(4))
                var received = 0
                while let chunk = try await iterator.next() {
                    received += chunk.readableBytes
                    if received > 8 << 20 {
                        break
                    }
                }
                #expect(received > 8 << 20)
            }
        }
    }

    @Test func requestTimeoutsReplaceTheClientDefaults() async throws {
        var configuration = HTTPClient.Configuration.defaults
        configuration.timeouts = HTTPTimeouts(connect: .seconds(10), responseHead: .seconds(60))
        try await withTestServer { server in
            try await withTestClient(configuration: configuration) { client in
                var request = HTTPClientRequest(url: server.baseURL + "/stall-head")
                request.timeouts = HTTPTimeouts(responseHead: .milliseconds(200))
                let error = await #expect(throws: HTTPClientError.self) { try await client.execute(request) }
                #expect(error?.code == .responseHeadTimeout)
            }
        }
    }

    /// A request started on an idle, reused connection goes out on the caller's thread while the
    /// curl thread sleeps (until the first request's hour-long head deadline); the curl thread must
    /// still be woken to watch the new request's much earlier one. No socket event would wake it:
    /// the connection is already open and the server says nothing.
    @Test func aShortHeadTimeoutOnAnIdleReusedConnectionFires() async throws {
        var configuration = HTTPClient.Configuration.defaults
        configuration.timeouts = HTTPTimeouts(connect: .seconds(10), responseHead: .seconds(3600))
        try await withTestServer { server in
            try await withTestClient(configuration: configuration) { client in
                let first = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello"))
                for try await _ in first.body {}
                // Let the curl thread go back to sleep, so that the next request finds libcurl free.
                try await Task.sleep(for: .milliseconds(100))
                var stalled = HTTPClientRequest(url: server.baseURL + "/stall-head")
                stalled.timeouts = HTTPTimeouts(responseHead: .milliseconds(300))
                let request = stalled
                let code = await withTaskGroup(of: HTTPClientError.Code?.self) { group in
                    group.addTask {
                        do throws(HTTPClientError) {
                            _ = try await client.execute(request)
                            return nil
                        } catch {
                            return error.code
                        }
                    }
                    group.addTask {
                        // Bounded: without the wake-up the request would wait for the hour-long deadline.
                        try? await Task.sleep(for: .seconds(30))
                        return .cancelled
                    }
                    let first = await group.next() ?? nil
                    group.cancelAll()
                    return first
                }
                #expect(code == .responseHeadTimeout)
                #expect(server.stats.connectionsAccepted == 1)
            }
        }
    }
}
