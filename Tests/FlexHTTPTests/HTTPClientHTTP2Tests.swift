import FlexHTTP
import NIOCore
import Testing

/// HTTP/2 over TLS against a real server (nghttpd), with a self-signed certificate trusted through
/// ``HTTPClient/TLS/caFile``.
@Suite struct HTTPClientHTTP2Tests {
    static let files: [String: [UInt8]] = [
        "hello.txt": Array("hello over h2\n".utf8),
        "pattern.bin": TestHTTPServer.patternBytes(offset: 0, count: 256 * 1024),
    ]

    func configuration(trusting server: NGHTTPDServer) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration.defaults
        configuration.tls.caFile = server.certificateFile
        return configuration
    }

    @Test func concurrentRequestsShareOneMultiplexedConnection() async throws {
        try await withNGHTTPD(files: Self.files) { server in
            try await withTestClient(configuration: self.configuration(trusting: server)) { client in
                let responses = try await withThrowingTaskGroup(of: (HTTPClientResponse, ByteBuffer).self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            let response = try await client.execute(
                                HTTPClientRequest(url: server.baseURL + "/pattern.bin")
                            )
                            return (response, try await response.body.collect(upTo: 1 << 20))
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(responses.count == 50)
                for (response, body) in responses {
                    #expect(response.status == 200)
                    #expect(response.version == .http2)
                    #expect(Array(body.readableBytesView) == TestHTTPServer.patternBytes(offset: 0, count: 256 * 1024))
                }
                // One connection: the same local port for all, exactly one request that made it, and
                // one TLS handshake on the server.
                #expect(Set(responses.map(\.0.connection.localPort)).count == 1)
                #expect(responses.filter { !$0.0.connection.isReused }.count == 1)
                #expect(server.connectionsAccepted == 1)
            }
        }
    }

    /// 200 concurrent requests against a server allowing 100 streams per connection. libcurl 7.88
    /// opens a new connection for most requests beyond a full connection's stream limit (measured:
    /// about 100 connections for this burst, ~50 with the curl tool), so the per-host connection
    /// limit is what keeps HTTP/2 bursts on few connections: the excess waits for a free stream.
    @Test func twoHundredConcurrentRequestsWithinAPerHostLimitOfTwoConnections() async throws {
        try await withNGHTTPD(files: Self.files) { server in
            var configuration = self.configuration(trusting: server)
            configuration.connectionPool.maximumConnectionsPerHost = 2
            try await withTestClient(configuration: configuration) { client in
                let ports = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<200 {
                        group.addTask {
                            let response = try await client.execute(
                                HTTPClientRequest(url: server.baseURL + "/hello.txt")
                            )
                            let body = try await response.body.collect(upTo: 1024)
                            #expect(String(buffer: body) == "hello over h2\n")
                            return response.connection.localPort
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(ports.count == 200)
                #expect(Set(ports).count <= 2)
                #expect(server.connectionsAccepted <= 2)
            }
        }
    }

    @Test func sequentialRequestsReuseTheConnection() async throws {
        try await withNGHTTPD(files: Self.files) { server in
            try await withTestClient(configuration: self.configuration(trusting: server)) { client in
                for index in 0..<10 {
                    let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello.txt"))
                    #expect(response.connection.isReused == (index > 0))
                    _ = try await response.body.collect(upTo: 1024)
                }
                #expect(server.connectionsAccepted == 1)
            }
        }
    }

    @Test func cancellingOneStreamKeepsTheConnectionForTheOthers() async throws {
        // Larger than libcurl's 32 MiB HTTP/2 stream window, so the stream is still open when dropped.
        var files = Self.files
        files["large.bin"] = [UInt8](repeating: 0x62, count: 64 << 20)
        try await withNGHTTPD(files: files) { server in
            try await withTestClient(configuration: self.configuration(trusting: server)) { client in
                let first = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello.txt"))
                _ = try await first.body.collect(upTo: 1024)
                do {
                    let large = try await client.execute(HTTPClientRequest(url: server.baseURL + "/large.bin"))
                    var iterator = large.body.makeAsyncIterator()
                    #expect(try await iterator.next() != nil)
                    // Dropping the body resets this stream only.
                }
                #expect(await eventually { client.liveEasyHandleCount == 0 })
                let after = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello.txt"))
                #expect(after.connection.isReused)
                #expect(after.connection.localPort == first.connection.localPort)
                #expect(String(buffer: try await after.body.collect(upTo: 1024)) == "hello over h2\n")
                #expect(server.connectionsAccepted == 1)
            }
        }
    }

    /// A paused HTTP/2 stream shrinks its flow-control window, so unread streams cost little even
    /// though libcurl's stream window is 32 MiB: measured here, about 5 MiB each.
    @Test func unreadHTTP2StreamsStayBoundedAndResume() async throws {
        let size = 128 << 20
        try await withNGHTTPD(files: ["large.bin": [UInt8](repeating: 0x62, count: size)], measuresMemory: true) {
            server in
            try await withTestClient(configuration: self.configuration(trusting: server)) { client in
                let residentBefore = residentSetSize()
                var responses: [HTTPClientResponse] = []
                for _ in 0..<4 {
                    responses.append(try await client.execute(HTTPClientRequest(url: server.baseURL + "/large.bin")))
                }
                // Unread, 512 MiB are on offer; wait until the transfers have stalled.
                try await Task.sleep(for: .seconds(2))
                if !isAddressSanitizerActive {
                    let growth = residentSetSize() - residentBefore
                    #expect(growth < 64 << 20, "RSS grew by \(growth) bytes with 4 unread streams")
                }
                var received = 0
                for try await chunk in responses[0].body {
                    received += chunk.readableBytes
                }
                #expect(received == size)
                #expect(Set(responses.map(\.connection.localPort)).count == 1)
            }
        }
    }

    @Test func untrustedCertificateIsATLSError() async throws {
        try await withNGHTTPD(files: Self.files) { server in
            // The system CA store does not trust the test's self-signed certificate.
            try await withTestClient { client in
                let error = await #expect(throws: HTTPClientError.self) {
                    try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello.txt"))
                }
                #expect(error?.code == .tlsFailed)
                #expect(error?.curlCode == 60)
            }
        }
    }

    @Test func wrongHostNameIsATLSError() async throws {
        try await withNGHTTPD(files: Self.files) { server in
            try await withTestClient(configuration: self.configuration(trusting: server)) { client in
                // The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
                let error = await #expect(throws: HTTPClientError.self) {
                    try await client.execute(HTTPClientRequest(url: "https://127.0.0.2:\(server.port)/hello.txt"))
                }
                #expect(error?.code == .tlsFailed)
            }
        }
    }
}
