import FlexHTTP
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

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
        try await withRefusingPort { port in
            try await withTestClient { client in
                let error = await #expect(throws: HTTPClientError.self) {
                    try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"))
                }
                #expect(error?.code == .connectFailed)
                #expect(error?.curlCode == 7)
            }
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

/// Runs `body` with a local port that refuses connections: a TCP socket bound to it without
/// listening. Holding the port bound matters: a closed port in the ephemeral range can be picked as
/// the client's own local port, and a connection to it then connects to itself (TCP self-connect).
func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else {
        throw RefusingPortError()
    }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard bound else {
        throw RefusingPortError()
    }
    return try await body(Int(UInt16(bigEndian: address.sin_port)))
}

struct RefusingPortError: Error {}
