internal import FlexHTTP
internal import NIOCore

/// The HTTP half that ``DirectTarget`` and ``DoorTarget`` share: one libcurl client configured
/// alike, and one way of sending a call's request and timing it. A difference between the two
/// targets is then what answers at the URL (flexd's door and router, or nothing), not the client.
struct HTTPCallClient: Sendable {
    private let http: HTTPClient

    /// - Parameter timeout: Each call's response-head timeout.
    init(timeout: Duration) throws(HTTPClientError) {
        var configuration = HTTPClient.Configuration.defaults
        configuration.timeouts.responseHead = timeout
        configuration.connectionPool.maximumConnectionsPerHost = 512
        self.http = try HTTPClient(configuration: configuration)
    }

    /// POSTs `body` to `url` and reads the whole answer, a stream to its end.
    ///
    /// The first byte is the first body chunk. A non-2xx answer fails with `http_<status>`, a
    /// transport failure with `http_<code>` (libcurl's class: `connect`, `timeout`, ...).
    func post(
        _ url: String,
        headers: HTTPHeaders,
        body: ByteBuffer,
        intended: ContinuousClock.Instant
    ) async -> CallResult {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.body = body
        do {
            let response = try await self.http.execute(request)
            var firstByte: ContinuousClock.Instant?
            for try await _ in response.body where firstByte == nil {
                firstByte = .now
            }
            let end = ContinuousClock.now
            guard (200..<300).contains(response.status) else {
                return CallResult(ok: false, errorCode: "http_\(response.status)", latency: end - intended)
            }
            return CallResult(ok: true, latency: end - intended, firstByte: (firstByte ?? end) - intended)
        } catch {
            return CallResult(ok: false, errorCode: "http_\(error.code)", latency: .now - intended)
        }
    }

    func shutdown() async {
        await self.http.shutdown()
    }
}
