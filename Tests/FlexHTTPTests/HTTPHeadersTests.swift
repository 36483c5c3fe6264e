import CCurl
import Testing

@testable import FlexHTTP

@Suite struct HTTPHeadersTests {
    @Test func lookupIgnoresCaseAndKeepsOrder() {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        headers.add(name: "X-Multi", value: "1")
        headers.add(name: "x-multi", value: "2")
        #expect(headers.first(name: "content-type") == "application/json")
        #expect(headers["X-MULTI"] == ["1", "2"])
        #expect(headers.contains(name: "x-Multi"))
        headers.replaceOrAdd(name: "X-MULTI", value: "3")
        #expect(headers["x-multi"] == ["3"])
        headers.remove(name: "CONTENT-TYPE")
        #expect(headers.map(\.name) == ["X-MULTI"])
    }

    @Test(arguments: [
        "Authorization", "PROXY-AUTHORIZATION", "x-api-key", "X-Goog-Api-Key", "api-key", "Cookie", "set-cookie",
    ])
    func wellKnownCredentialHeadersAreAlwaysRedacted(name: String) {
        var headers = HTTPHeaders()
        headers.add(name: name, value: "secret-value")
        #expect(headers[0].isRedacted)
        #expect(!"\(headers)".contains("secret-value"))
    }

    @Test func markedHeadersAreRedactedOthersAreNot() {
        var headers = HTTPHeaders()
        headers.add(name: "x-tenant", value: "tenant-secret", isSensitive: true)
        headers.add(name: "x-trace", value: "trace-id")
        #expect("\(headers)" == "[x-tenant: <redacted>, x-trace: trace-id]")
    }

    @Test func validation() {
        #expect(HTTPMethod.POST.isValidToken)
        #expect(!HTTPMethod(rawValue: "PO ST").isValidToken)
        #expect(!HTTPMethod(rawValue: "").isValidToken)
        #expect(HTTPHeaders.isValidValue("Bearer abc\tdef"))
        #expect(!HTTPHeaders.isValidValue("a\r\nb"))
        #expect(!HTTPHeaders.isValidValue("a\u{0}b"))
    }
}

@Suite struct RedactorTests {
    @Test func urlPartsDropQueryFragmentAndUserinfo() {
        let parts = URLParts("https://user:pw-secret@host.example:8443/v1beta/models?key=AIza-secret&alt=sse#frag")
        #expect(parts.redacted == "https://host.example:8443/v1beta/models")
        #expect(parts.secrets.contains("user:pw-secret"))
        #expect(parts.secrets.contains("pw-secret"))
        #expect(parts.secrets.contains("AIza-secret"))
        #expect(URLParts("http://127.0.0.1:8080/hello").redacted == "http://127.0.0.1:8080/hello")
        #expect(URLParts("http://127.0.0.1:8080/hello").secrets.isEmpty)
    }

    @Test func redactsHeaderValuesTokensAndQueries() {
        var headers = HTTPHeaders()
        headers.add(name: "authorization", value: "Bearer sk-123456")
        headers.add(name: "x-trace", value: "visible")
        let redactor = Redactor(
            url: "http://h/p?key=qsecret",
            headers: headers,
            proxyURL: "http://u:proxypw@proxy:3128"
        )
        let text = redactor.redact("token sk-123456, full Bearer sk-123456, key=qsecret, proxypw, visible")
        #expect(!text.contains("sk-123456"))
        #expect(!text.contains("qsecret"))
        #expect(!text.contains("proxypw"))
        #expect(text.contains("visible"))
    }
}

@Suite struct HTTPClientErrorMappingTests {
    @Test(arguments: [
        (1, HTTPClientError.Code.invalidRequest), (3, .invalidRequest),
        (5, .resolveFailed), (6, .resolveFailed),
        (7, .connectFailed), (97, .connectFailed),
        (35, .tlsFailed), (60, .tlsFailed), (77, .tlsFailed), (58, .tlsFailed), (83, .tlsFailed), (90, .tlsFailed),
        (28, .connectTimeout),
        (18, .connectionClosed), (52, .connectionClosed), (55, .connectionClosed), (56, .connectionClosed),
        (92, .connectionClosed),
        (8, .protocolError), (16, .protocolError), (61, .protocolError),
        (27, .internalError), (2, .internalError),
    ])
    func curlCodesMapToFailureClasses(curlCode: Int, expected: HTTPClientError.Code) {
        let error = HTTPClientError(
            curlCode: .init(rawValue: UInt32(curlCode)),
            errorBuffer: "",
            redactor: Redactor(secrets: [])
        )
        #expect(error.code == expected)
        #expect(error.curlCode == curlCode)
        // With an empty error buffer, libcurl's generic text for the code.
        #expect(!error.message.isEmpty)
    }

    @Test func messagesAreScrubbed() {
        let error = HTTPClientError(
            curlCode: .init(rawValue: 7),
            errorBuffer: "Failed to connect with token s3cr3t-token",
            redactor: Redactor(secrets: ["s3cr3t-token"])
        )
        #expect(error.message == "Failed to connect with token <redacted>")
        #expect(
            error.description == "HTTPClientError.connectFailed: Failed to connect with token <redacted> (CURLcode 7)"
        )
    }

    @Test func timeoutCodes() {
        #expect(HTTPClientError.Code.connectTimeout.isTimeout)
        #expect(HTTPClientError.Code.responseHeadTimeout.isTimeout)
        #expect(HTTPClientError.Code.idleTimeout.isTimeout)
        #expect(HTTPClientError.Code.totalTimeout.isTimeout)
        #expect(!HTTPClientError.Code.connectionClosed.isTimeout)
    }
}
