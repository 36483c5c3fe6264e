import FlexHTTP
import InMemoryLogging
import Logging
import NIOCore
import Testing

/// Keys never reach logs or errors.
@Suite struct HTTPClientSecretsTests {
    static let secrets = [
        "sk-test-SECRET-openai-0123456789", "ant-SECRET-anthropic-987", "AIza-SECRET-gemini-555",
        "custom-SECRET-value-42", "query-SECRET-key-77", "userinfo-SECRET-pw",
    ]

    func requestWithSecrets(url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(Self.secrets[0])")
        request.headers.add(name: "x-api-key", value: Self.secrets[1])
        request.headers.add(name: "X-Goog-Api-Key", value: Self.secrets[2])
        request.headers.add(name: "x-tenant-token", value: Self.secrets[3], isSensitive: true)
        request.body = ByteBuffer(string: "{}")
        return request
    }

    func expectNoSecret(in text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in Self.secrets {
            #expect(!text.contains(secret), "leaked \(secret) in: \(text)", sourceLocation: sourceLocation)
        }
    }

    func render(_ entries: [InMemoryLogHandler.Entry]) -> String {
        entries.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n")
    }

    @Test func failedRequestsLogAndThrowNoSecrets() async throws {
        let (logger, handler) = recordingLogger()
        try await withRefusingPort { port in
            try await withTestClient { client in
                let urls = [
                    "http://127.0.0.1:\(port)/v1?key=\(Self.secrets[4])",
                    "http://user:\(Self.secrets[5])@flexhttp-test.invalid/v1?key=\(Self.secrets[4])",
                ]
                for url in urls {
                    let error = await #expect(throws: HTTPClientError.self) {
                        try await client.execute(requestWithSecrets(url: url), logger: logger)
                    }
                    expectNoSecret(in: "\(error!)")
                    expectNoSecret(in: error!.message)
                }
            }
        }
        #expect(!handler.entries.isEmpty)
        expectNoSecret(in: render(handler.entries))
    }

    @Test func proxyCredentialsStayOutOfErrors() async throws {
        try await withRefusingPort { port in
            var configuration = HTTPClient.Configuration.defaults
            configuration.proxy = .url("http://proxyuser:\(Self.secrets[5])@127.0.0.1:\(port)")
            try await withTestClient(configuration: configuration) { client in
                let error = await #expect(throws: HTTPClientError.self) {
                    try await client.execute(HTTPClientRequest(url: "http://upstream.example/v1"))
                }
                #expect(error?.code == .connectFailed)
                expectNoSecret(in: "\(error!)")
            }
        }
    }

    @Test func successfulRequestsLogNoSecrets() async throws {
        let (logger, handler) = recordingLogger()
        try await withTestServer { server in
            try await withTestClient { client in
                let response = try await client.execute(
                    requestWithSecrets(url: server.baseURL + "/echo?key=\(Self.secrets[4])"),
                    logger: logger
                )
                _ = try await response.body.collect(upTo: 1024)
            }
        }
        #expect(handler.entries.contains { "\($0.message)" == "response head" })
        expectNoSecret(in: render(handler.entries))
    }

    @Test func descriptionsRedactSensitiveValues() {
        let request = requestWithSecrets(
            url: "https://user:\(Self.secrets[5])@api.example/v1/models?key=\(Self.secrets[4])"
        )
        expectNoSecret(in: "\(request)")
        expectNoSecret(in: "\(request.headers)")
        #expect("\(request)".contains("https://api.example/v1/models"))
        #expect("\(request.headers)".contains("Authorization: <redacted>"))
        var plain = HTTPHeaders()
        plain.add(name: "content-type", value: "application/json")
        #expect("\(plain)" == "[content-type: application/json]")
    }

    @Test func silentUnlessALoggerIsGiven() async throws {
        // No logger: nothing to observe, and nothing breaks. With one at info level: nothing logged
        // for a normal request (FlexHTTP logs at debug and trace only).
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in handler })
        logger.logLevel = .info
        try await withTestServer { server in
            try await withTestClient { client in
                _ = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello")).body.collect(upTo: 100)
                _ = try await client.execute(HTTPClientRequest(url: server.baseURL + "/hello"), logger: logger)
                    .body.collect(upTo: 100)
            }
        }
        #expect(handler.entries.isEmpty)
    }
}
