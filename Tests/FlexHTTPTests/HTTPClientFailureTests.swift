import FlexHTTP
import NIOCore
import NIOPosix
import Testing

/// Each libcurl failure class surfaces as its own ``HTTPClientError/Code``, with libcurl's message.
@Suite struct HTTPClientFailureTests {
    @Test func unresolvableHost() async throws {
        try await withTestClient { client in
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(HTTPClientRequest(url: "http://flexhttp-test.invalid/"))
            }
            #expect(error?.code == .resolveFailed)
            #expect(error?.message.contains("flexhttp-test.invalid") == true)
        }
    }

    @Test func refusedConnection() async throws {
        let port = try await unusedPort()
        try await withTestClient { client in
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"))
            }
            #expect(error?.code == .connectFailed)
            #expect(error?.curlCode == 7)
        }
    }

    @Test func tlsToAPlainHTTPServer() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let error = await #expect(throws: HTTPClientError.self) {
                    try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/hello"))
                }
                #expect(error?.code == .tlsFailed)
            }
        }
    }

    @Test(arguments: ["/cut?bytes=100", "/cut-chunked", "/reset?bytes=100"])
    func connectionCutMidBody(path: String) async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + path))
                #expect(response.status == 200)
                var received = 0
                let error = await #expect(throws: HTTPClientError.self) {
                    for try await chunk in response.body {
                        received += chunk.readableBytes
                    }
                }
                #expect(error?.code == .connectionClosed)
                #expect(error?.message.isEmpty == false)
                #expect(received > 0)
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func connectionClosedBeforeAnyResponse() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let error = await #expect(throws: HTTPClientError.self) {
                    try await client.execute(HTTPClientRequest(url: server.baseURL + "/close-now"))
                }
                #expect(error?.code == .connectionClosed)
                #expect(error?.curlCode == 52)
            }
        }
    }

    @Test func oversizedResponseHead() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let error = await #expect(throws: HTTPClientError.self) {
                    try await client.execute(HTTPClientRequest(url: server.baseURL + "/big-head?size=70000"))
                }
                #expect(error?.code == .responseHeadTooLarge)
                // Under the limit is fine.
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/big-head?size=1000"))
                #expect(response.headers.first(name: "x-big")?.count == 1000)
            }
        }
    }

    @Test(arguments: [
        "ftp://127.0.0.1/file", "/relative/path", "http://127.0.0.1/with space", "http://127.0.0.1/\r\nx: y", "",
    ])
    func invalidURLIsRejectedBeforeSending(url: String) async throws {
        try await withTestClient { client in
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.execute(HTTPClientRequest(url: url))
            }
            #expect(error?.code == .invalidRequest)
            #expect(client.liveEasyHandleCount == 0)
        }
    }

    @Test func invalidMethodOrHeadersAreRejectedBeforeSending() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var badMethod = HTTPClientRequest(url: server.baseURL + "/hello")
                badMethod.method = HTTPMethod(rawValue: "GE T")
                var injected = HTTPClientRequest(url: server.baseURL + "/hello")
                injected.headers.add(name: "x-ok", value: "a\r\nx-injected: 1")
                var badName = HTTPClientRequest(url: server.baseURL + "/hello")
                badName.headers.add(name: "bad name", value: "v")
                for request in [badMethod, injected, badName] {
                    let error = await #expect(throws: HTTPClientError.self) { try await client.execute(request) }
                    #expect(error?.code == .invalidRequest)
                }
                #expect(server.stats.connectionsAccepted == 0)
            }
        }
    }

    @Test func requestsInFlightFailWithShutdownAndLaterOnesToo() async throws {
        try await withTestServer { server in
            let client = try HTTPClient()
            let inFlight = Task {
                try await client.execute(HTTPClientRequest(url: server.baseURL + "/stall-head"))
            }
            #expect(await eventually { server.stats.requestsReceived == 1 })
            await client.shutdown()
            let error = await #expect(throws: HTTPClientError.self) { try await inFlight.value }
            #expect(error?.code == .shutdown)
            let later = await #expect(throws: HTTPClientError.self) {
                try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello"))
            }
            #expect(later?.code == .shutdown)
            #expect(client.liveEasyHandleCount == 0)
            // Shutting down twice is harmless.
            await client.shutdown()
        }
    }

    @Test func shutdownFailsABodyBeingRead() async throws {
        try await withTestServer { server in
            let client = try HTTPClient()
            let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=10"))
            var iterator = response.body.makeAsyncIterator()
            _ = try await iterator.next()
            await client.shutdown()
            let error = await #expect(throws: HTTPClientError.self) {
                while try await iterator.next() != nil {}
            }
            #expect(error?.code == .shutdown)
        }
    }
}

/// A port with nothing listening on it (bound, then closed).
func unusedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}
