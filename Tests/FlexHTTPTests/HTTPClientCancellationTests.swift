import FlexHTTP
import NIOCore
import Testing

/// Cancellation must really stop the transfer: the caller gets ``HTTPClientError/Code/cancelled``,
/// the server sees its connection closed, and the easy handle is freed. This is how flexd abandons
/// a flex attempt that has not started.
@Suite struct HTTPClientCancellationTests {
    @Test func cancelledBeforeTheRequestStartsSendsNothing() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let task = Task {
                    withUnsafeCurrentTask { $0?.cancel() }
                    return try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello"))
                }
                let error = await #expect(throws: HTTPClientError.self) { try await task.value }
                #expect(error?.code == .cancelled)
                #expect(client.liveEasyHandleCount == 0)
                // Give a request that wrongly went out the time to arrive, then check none did.
                _ = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello")).body.collect(upTo: 100)
                #expect(server.stats.requestsReceived == 1)
            }
        }
    }

    @Test func cancelWhileConnecting() async throws {
        // The silent server accepts TCP but never answers the TLS handshake: the request is stuck in
        // libcurl's connect phase.
        try await withTestServer(mode: .silent) { server in
            try await withTestClient { client in
                let task = Task {
                    try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/"))
                }
                #expect(await eventually { server.stats.connectionsAccepted == 1 })
                task.cancel()
                let error = await #expect(throws: HTTPClientError.self) { try await task.value }
                #expect(error?.code == .cancelled)
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func cancelWhileAwaitingTheHead() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let task = Task {
                    try await client.execute(HTTPClientRequest(url: server.baseURL + "/stall-head"))
                }
                #expect(await eventually { server.stats.requestsReceived == 1 })
                task.cancel()
                let error = await #expect(throws: HTTPClientError.self) { try await task.value }
                #expect(error?.code == .cancelled)
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func cancelMidBody() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=5"))
                let task = Task {
                    var chunks = 0
                    for try await _ in response.body {
                        chunks += 1
                    }
                    return chunks
                }
                try await Task.sleep(for: .milliseconds(50))
                task.cancel()
                let error = await #expect(throws: HTTPClientError.self) { try await task.value }
                #expect(error?.code == .cancelled)
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func droppingTheBodyAbortsTheTransfer() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                do {
                    let response = try await client.execute(
                        HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=5")
                    )
                    var iterator = response.body.makeAsyncIterator()
                    #expect(try await iterator.next() != nil)
                }
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func droppingAResponseWithoutReadingAbortsTheTransfer() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                _ = try await client.execute(HTTPClientRequest(url: server.baseURL + "/stall-body?bytes=10"))
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func iteratingAfterCancellationThrowsOnceThenEnds() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=5"))
                let outcome = await Task {
                    withUnsafeCurrentTask { $0?.cancel() }
                    var iterator = response.body.makeAsyncIterator()
                    var errors: [HTTPClientError.Code] = []
                    do {
                        _ = try await iterator.next()
                    } catch let error as HTTPClientError {
                        errors.append(error.code)
                    } catch {
                        Issue.record("unexpected \(error)")
                    }
                    let after = try? await iterator.next()
                    return (errors, after)
                }.value
                #expect(outcome.0 == [.cancelled])
                #expect(outcome.1 == .some(nil))
            }
        }
    }

    /// Thousands of cancellations at random moments (queued, connecting, awaiting the head,
    /// mid-body): every request ends as cancelled or completed, no easy handle survives, every
    /// aborted connection is closed on the server side, and memory does not grow with the count.
    @Test func thousandsOfCancellationsLeakNothing() async throws {
        try await withTestServer(measuresMemory: true) { server in
            try await withTestClient { client in
                var generator = SystemRandomNumberGenerator()
                func round(_ count: Int) async throws {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<count {
                            let path = index % 2 == 0 ? "/stall-head" : "/drip?interval_ms=1"
                            let delay = Int.random(in: 0...1500, using: &generator)
                            let readChunks = Int.random(in: 0...3, using: &generator)
                            let task = Task {
                                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + path))
                                var iterator = response.body.makeAsyncIterator()
                                for _ in 0..<readChunks {
                                    _ = try await iterator.next()
                                }
                                try await Task.sleep(for: .seconds(60))
                            }
                            group.addTask {
                                try await Task.sleep(for: .microseconds(delay))
                                task.cancel()
                                do {
                                    try await task.value
                                    Issue.record("a request that was never answered completed")
                                } catch let error as HTTPClientError {
                                    #expect(error.code == .cancelled)
                                } catch is CancellationError {
                                    // Cancelled in the test's own sleep, after the body reads.
                                }
                            }
                            // Keep at most 32 in flight.
                            if index >= 32 {
                                try await group.next()
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                try await round(500)
                #expect(await eventually { client.liveEasyHandleCount == 0 })
                let residentAfterWarmUp = residentSetSize()
                try await round(2500)
                #expect(await eventually { client.liveEasyHandleCount == 0 })
                let growth = residentSetSize() - residentAfterWarmUp
                // A leaked easy handle costs well over 16 KiB (its receive buffer alone), so leaking
                // even a third of 2,500 would exceed this bound. Under AddressSanitizer freed memory
                // sits in quarantine and RSS says nothing; LeakSanitizer checks leaks at exit instead.
                if !isAddressSanitizerActive {
                    #expect(growth < 16 << 20, "RSS grew by \(growth) bytes over 2,500 cancellations")
                }
                // Every connection an aborted request used was closed, so nothing kept running
                // upstream.
                #expect(
                    await eventually {
                        server.stats.connectionsClosed == server.stats.connectionsAccepted
                    }
                )
            }
        }
    }

    // MARK: The cancellation handle: cancelled from outside the task, which goes on

    @Test func aCancelledHandleSendsNothing() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let cancellation = HTTPCancellationHandle()
                cancellation.cancel()
                #expect(cancellation.isCancelled)
                var request = HTTPClientRequest(url: server.baseURL + "/hello")
                request.cancellation = cancellation
                let error = await #expect(throws: HTTPClientError.self) { try await client.execute(request) }
                #expect(error?.code == .cancelled)
                #expect(client.liveEasyHandleCount == 0)
                // The task was not cancelled: its next request goes out (and a wrong one would have
                // arrived by the time this one is answered).
                _ = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello")).body.collect(upTo: 100)
                #expect(server.stats.requestsReceived == 1)
            }
        }
    }

    // Without the handle's cancel this would wait for ever: the time limit makes it a failure.
    @Test(.timeLimit(.minutes(1))) func aHandleEndsTheWaitForTheHeadAndTheTaskGoesOn() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let cancellation = HTTPCancellationHandle()
                let task = Task {
                    var request = HTTPClientRequest(url: server.baseURL + "/stall-head")
                    request.cancellation = cancellation
                    var code: HTTPClientError.Code?
                    do {
                        _ = try await client.execute(request)
                    } catch {
                        code = (error as? HTTPClientError)?.code
                    }
                    // The same task's next request is not cancelled.
                    let next = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello"))
                    return (code, next.status, Task.isCancelled)
                }
                #expect(await eventually { server.stats.requestsReceived == 1 })
                cancellation.cancel()
                let (code, status, taskCancelled) = try await task.value
                #expect(code == .cancelled)
                #expect(status == 200)
                #expect(!taskCancelled)
                #expect(await eventually { server.stats.connectionsClosed >= 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    // Without the handle's cancel this would wait for ever: the time limit makes it a failure.
    @Test(.timeLimit(.minutes(1))) func aHandleEndsTheBodyMidway() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let cancellation = HTTPCancellationHandle()
                var request = HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=5")
                request.cancellation = cancellation
                let response = try await client.execute(request)
                var iterator = response.body.makeAsyncIterator()
                #expect(try await iterator.next() != nil)
                cancellation.cancel()
                var code: HTTPClientError.Code?
                do {
                    while try await iterator.next() != nil {}
                } catch {
                    code = (error as? HTTPClientError)?.code
                }
                #expect(code == .cancelled)
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    /// A handle attached to a request does not keep its transfer going: dropping the response still
    /// aborts it, and a later `cancel()` is harmless.
    @Test func droppingTheResponseOfARequestWithAHandleStillAbortsIt() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let cancellation = HTTPCancellationHandle()
                do {
                    var request = HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=5")
                    request.cancellation = cancellation
                    _ = try await client.execute(request)
                }
                // The response is gone and the handle is not: the transfer is aborted, its easy handle freed.
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
                cancellation.cancel()
                #expect(cancellation.isCancelled)
            }
        }
    }
}
