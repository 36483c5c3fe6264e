import CCurl
import FlexSSE
import NIOCore
import Synchronization
import Testing

@testable import FlexHTTP

#if canImport(Glibc)
import Glibc
#endif

/// Requests and responses over real TCP against ``TestHTTPServer``.
@Suite struct HTTPClientTests {
    @Test func getReturnsStatusHeadersAndBody() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello"))
                #expect(response.status == 200)
                #expect(response.version == .http1_1)
                #expect(response.headers.first(name: "Content-Length") == "5")
                let body = try await response.body.collect(upTo: 1024)
                #expect(String(buffer: body) == "hello")
            }
        }
    }

    @Test func postSendsTheBodyWithoutInventedHeaders() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var request = HTTPClientRequest(url: server.baseURL + "/echo")
                request.method = .POST
                request.body = ByteBuffer(string: #"{"model":"m"}"#)
                let response = try await client.execute(request)
                #expect(response.headers.first(name: "x-request-method") == "POST")
                // libcurl's form Content-Type default is suppressed.
                #expect(response.headers.first(name: "x-request-content-type") == nil)
                #expect(String(buffer: try await response.body.collect(upTo: 1024)) == #"{"model":"m"}"#)
            }
        }
    }

    @Test(arguments: [HTTPMethod.PUT, .PATCH, .DELETE])
    func otherMethodsWithABody(method: HTTPMethod) async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var request = HTTPClientRequest(url: server.baseURL + "/echo")
                request.method = method
                request.headers.add(name: "content-type", value: "application/json")
                request.body = ByteBuffer(string: "payload")
                let response = try await client.execute(request)
                #expect(response.headers.first(name: "x-request-method") == method.rawValue)
                #expect(response.headers.first(name: "x-request-content-type") == "application/json")
                #expect(String(buffer: try await response.body.collect(upTo: 1024)) == "payload")
            }
        }
    }

    @Test func headHasNoBody() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var request = HTTPClientRequest(url: server.baseURL + "/hello")
                request.method = .HEAD
                let response = try await client.execute(request)
                #expect(response.status == 200)
                #expect(try await response.body.collect(upTo: 0).readableBytes == 0)
            }
        }
    }

    @Test func requestHeadersAreSentInOrderAndLibcurlDefaultsAreNot() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var request = HTTPClientRequest(url: server.baseURL + "/headers")
                request.headers.add(name: "x-first", value: "1")
                request.headers.add(name: "x-empty", value: "")
                request.headers.add(name: "x-second", value: "two words")
                let response = try await client.execute(request)
                let lines = String(buffer: try await response.body.collect(upTo: 4096)).split(separator: "\n")
                #expect(lines.contains("x-first: 1"))
                #expect(lines.contains("x-empty: "))
                #expect(lines.contains("x-second: two words"))
                #expect(lines.firstIndex(of: "x-first: 1")! < lines.firstIndex(of: "x-second: two words")!)
                #expect(!lines.contains { $0.lowercased().hasPrefix("accept:") })
                #expect(!lines.contains { $0.lowercased().hasPrefix("expect:") })
            }
        }
    }

    @Test(arguments: [400, 401, 404, 429, 500, 503, 529])
    func errorStatusesAreResponsesNotErrors(code: Int) async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/status?code=\(code)"))
                #expect(response.status == code)
                #expect(String(buffer: try await response.body.collect(upTo: 1024)) == "status \(code)")
            }
        }
    }

    @Test func interimResponsesAreSkipped() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/interim"))
                #expect(response.status == 200)
                #expect(response.headers.first(name: "link") == nil)
                #expect(String(buffer: try await response.body.collect(upTo: 1024)) == "final")
            }
        }
    }

    @Test func streamedBodyArrivesInOrder() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(
                    HTTPClientRequest(url: server.baseURL + "/stream?chunks=50&size=1000&delay_ms=1")
                )
                var received: [UInt8] = []
                for try await chunk in response.body {
                    received.append(contentsOf: chunk.readableBytesView)
                }
                #expect(received == TestHTTPServer.patternBytes(offset: 0, count: 50_000))
            }
        }
    }

    @Test func serverSentEventsFromTheBody() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(
                    HTTPClientRequest(url: server.baseURL + "/sse?events=20&delay_ms=1")
                )
                #expect(response.headers.first(name: "content-type") == "text/event-stream")
                var events: [ServerSentEvent] = []
                for try await event in response.body.serverSentEvents() {
                    events.append(event)
                }
                let expected =
                    (0..<20).map { ServerSentEvent(data: "event \($0)", id: "\($0)") }
                    + [ServerSentEvent(data: "[DONE]", id: "19")]
                #expect(events == expected)
            }
        }
    }

    @Test func serverSentEventsWithTheirDataInBuffers() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                // No delay: several events per chunk. Every other event is kept while the next ones
                // are read (its data shares the iterator's reused buffer until then); the others
                // are released at once, so the buffer is reused for the next. A kept event must not
                // see a later one's bytes.
                let response = try await client.execute(
                    HTTPClientRequest(url: server.baseURL + "/sse?events=300")
                )
                var iterator = response.body.serverSentEvents().makeAsyncIterator()
                var kept: [HTTPClientResponse.Body.ServerSentEvents.Event] = []
                var all: [String] = []
                while let event = try await iterator.nextEvent() {
                    #expect(event.type == "message")
                    if all.count.isMultiple(of: 2) { kept.append(event) }
                    all.append(String(buffer: event.data))
                }
                let expected = (0..<300).map { "event \($0)" } + ["[DONE]"]
                #expect(all == expected)
                #expect(
                    kept.map { String(buffer: $0.data) }
                        == stride(from: 0, to: expected.count, by: 2).map { expected[$0] }
                )
            }
        }
    }

    @Test func oversizedServerSentEventAbortsTheTransfer() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                // An endless event: "drip..." lines and never a blank line.
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/drip?interval_ms=1"))
                let error = await #expect(throws: SSEParserError.self) {
                    for try await _ in response.body.serverSentEvents(maximumEventSize: 100) {}
                }
                #expect(error?.code == .eventTooLarge)
                #expect(await eventually { server.stats.connectionsClosed == 1 })
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var ports: Set<Int> = []
                for index in 0..<20 {
                    let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello"))
                    #expect(response.connection.isReused == (index > 0))
                    ports.insert(response.connection.localPort)
                    _ = try await response.body.collect(upTo: 1024)
                }
                #expect(ports.count == 1)
                #expect(server.stats.connectionsAccepted == 1)
                #expect(server.stats.requestsReceived == 20)
            }
        }
    }

    @Test func twoHundredConcurrentStreamingRequestsOnOneClient() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<200 {
                        group.addTask {
                            let response = try await client.execute(
                                HTTPClientRequest(url: server.baseURL + "/stream?chunks=20&size=512&delay_ms=5")
                            )
                            var received: [UInt8] = []
                            for try await chunk in response.body {
                                received.append(contentsOf: chunk.readableBytesView)
                            }
                            #expect(received == TestHTTPServer.patternBytes(offset: 0, count: 20 * 512))
                            return response.status
                        }
                    }
                    var statuses: [Int] = []
                    for try await status in group {
                        statuses.append(status)
                    }
                    #expect(statuses.count == 200)
                    #expect(statuses.allSatisfy { $0 == 200 })
                }
                // Each stream held its connection for ~100 ms, so they ran side by side on many
                // connections, all within the per-host limit; the pool then reuses them.
                let accepted = server.stats.connectionsAccepted
                #expect(accepted > 1 && accepted <= 200)
                let again = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello"))
                #expect(again.connection.isReused)
                _ = try await again.body.collect(upTo: 1024)
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func perHostConnectionLimitBoundsConnections() async throws {
        var configuration = HTTPClient.Configuration.defaults
        configuration.connectionPool.maximumConnectionsPerHost = 4
        try await withTestServer { server in
            try await withTestClient(configuration: configuration) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<40 {
                        group.addTask {
                            let response = try await client.execute(
                                HTTPClientRequest(url: server.baseURL + "/stream?chunks=5&size=100&delay_ms=2")
                            )
                            _ = try await response.body.collect(upTo: 1 << 20)
                        }
                    }
                    try await group.waitForAll()
                }
                let accepted = server.stats.connectionsAccepted
                #expect(accepted >= 1 && accepted <= 4)
                #expect(server.stats.requestsReceived == 40)
            }
        }
    }

    @Test func collectRejectsABodyOverTheLimit() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                // Content-Length above the limit: rejected before reading.
                let sized = try await client.execute(HTTPClientRequest(url: server.baseURL + "/huge?bytes=1000000"))
                let error1 = await #expect(throws: HTTPClientError.self) { try await sized.body.collect(upTo: 1000) }
                #expect(error1?.code == .responseTooLarge)
                // No Content-Length (chunked): rejected as soon as it grows past the limit.
                let chunked = try await client.execute(
                    HTTPClientRequest(url: server.baseURL + "/stream?chunks=100&size=1000")
                )
                let error2 = await #expect(throws: HTTPClientError.self) { try await chunked.body.collect(upTo: 5000) }
                #expect(error2?.code == .responseTooLarge)
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }

    @Test func explicitProxyCarriesTheRequest() async throws {
        try await withTestServer { proxy in
            var configuration = HTTPClient.Configuration.defaults
            configuration.proxy = .url(proxy.baseURL)
            try await withTestClient(configuration: configuration) { client in
                // The upstream's name does not resolve: only the proxy can answer.
                let response = try await client.execute(
                    HTTPClientRequest(url: "http://flexhttp-upstream.invalid/v1/models")
                )
                let body = String(buffer: try await response.body.collect(upTo: 1024))
                #expect(body == "proxied http://flexhttp-upstream.invalid/v1/models")
                #expect(response.connection.remotePort == proxy.port)
            }
        }
    }

    @Test func connectionSocketsAreCloseOnExec() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/stall-body?bytes=10"))
                let descriptor = try #require(socketDescriptor(localPort: response.connection.localPort))
                #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0)
            }
        }
    }

    /// A request passed with `consume` is dropped once libcurl has copied its body: a request waiting
    /// for its response head (a flex queue) does not hold the body twice. The test holds the body's
    /// only other reference, so the buffer is uniquely owned during the wait.
    @Test(.timeLimit(.minutes(1))) func aConsumedRequestsBodyIsFreedBeforeTheHeadArrives() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                var body = ByteBuffer(string: String(repeating: "x", count: 10_000))
                // Handed over, not captured: a closure's captures live as long as its task.
                let handOver = Mutex<HTTPClientRequest?>(
                    {
                        var request = HTTPClientRequest(url: server.baseURL + "/stall-head")
                        request.method = .POST
                        request.body = body
                        return request
                    }()
                )
                let call = Task {
                    guard let request = handOver.withLock({ $0.take() }) else { return }
                    _ = try await client.execute(consume request)
                }
                #expect(await eventually { server.stats.requestsReceived == 1 })
                #expect(body.modifyIfUniquelyOwned { _ in true } == true, "the waiting request still holds its body")
                call.cancel()
                _ = await call.result
            }
        }
    }

    /// A request's own receive buffer size wins over the client's: libcurl hands over at most a
    /// buffer's worth per callback, so no piece of a 1 KiB request is larger, while the client's
    /// 4 KiB default delivers larger ones. (The chunks the body yields are no measure: pieces that
    /// arrive while one is queued join it.)
    @Test func aRequestsReceiveBufferSizeOverridesTheClients() async throws {
        try await withTestServer { server in
            try await withTestClient { client in
                func largestPiece(_ receiveBufferSize: Int?) async throws -> Int {
                    var request = HTTPClientRequest(url: server.baseURL + "/huge?bytes=\(256 * 1024)")
                    request.receiveBufferSize = receiveBufferSize
                    let response = try await client.execute(request)
                    var total = 0
                    for try await chunk in response.body {
                        total += chunk.readableBytes
                    }
                    #expect(total == 256 * 1024)
                    return response.body.storage.transfer.largestBodyPieceSeen
                }
                let small = try await largestPiece(1024)
                let usual = try await largestPiece(nil)
                #expect(small <= 1024)
                #expect(usual > 1024)
            }
        }
    }
}

/// Which receive buffer each kind of request asks libcurl for. What the 64 KiB HTTP/2 buffer on
/// libcurl before 8.1 changes cannot be seen in a test (no stall among 10,000 streams in ten runs,
/// against 2–4 per run at 16 KiB: tools/bench/concurrency); this pins the choice.
@Suite struct ReceiveBufferSizeTests {
    @Test func eachKindOfRequestGetsItsBuffer() {
        func size(_ version: HTTPClient.HTTPVersionPolicy, https: Bool, _ requested: Int, legacy: Bool) -> Int? {
            Transfer.receiveBufferSize(version, isHTTPS: https, requested: requested, legacyHTTP2: legacy)
        }
        // HTTPS that may be HTTP/2: 64 KiB before libcurl 8.1, libcurl's default from 8.1 on; the
        // request's own size does not apply (libcurl 7.88's HTTP/2 spins below a frame).
        #expect(size(.http2OverTLS, https: true, 1024, legacy: true) == 64 * 1024)
        #expect(size(.http2OverTLS, https: true, 1024, legacy: false) == nil)
        // Cleartext (HTTP/1.1 whatever the policy) and HTTP/1.1 only: the size asked for, clamped to
        // libcurl's range.
        for legacy in [true, false] {
            #expect(size(.http2OverTLS, https: false, 4096, legacy: legacy) == 4096)
            #expect(size(.http1Only, https: true, 4096, legacy: legacy) == 4096)
            #expect(size(.http1Only, https: false, 100, legacy: legacy) == 1024)
            #expect(size(.http1Only, https: false, 1 << 30, legacy: legacy) == 10 * 1024 * 1024)
        }
    }

    @Test func theLibcurlVersionIsTheOneLoaded() {
        let parts = HTTPClient.libcurlVersion.split(separator: ".").compactMap { UInt32($0) }
        #expect(parts.count == 3)
        #expect(parts.count == 3 && parts[0] << 16 | parts[1] << 8 | parts[2] == HTTPClient.libcurlVersionNumber)
        #expect(HTTPClient.hasLegacyHTTP2 == (HTTPClient.libcurlVersionNumber < 0x08_01_00))
        // What runs is what curl_version() reports, e.g. "libcurl/7.88.1 OpenSSL/3.0.x ...".
        #expect(String(cString: curl_version()).hasPrefix("libcurl/\(HTTPClient.libcurlVersion)"))
    }
}

/// The descriptor of this process's TCP socket bound to 127.0.0.1:`localPort`, if any.
private func socketDescriptor(localPort: Int) -> Int32? {
    for descriptor in Int32(3)..<Int32(4096) {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let found = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
        }
        if found, address.sin_family == sa_family_t(AF_INET), Int(UInt16(bigEndian: address.sin_port)) == localPort {
            return descriptor
        }
    }
    return nil
}
