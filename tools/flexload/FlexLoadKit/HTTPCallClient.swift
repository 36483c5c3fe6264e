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
    /// transport failure with `http_<code>` (libcurl's class: `connect`, `timeout`, ...). With
    /// `stream`, the answer's Server-Sent-Events events are counted (``CallResult/events``).
    func post(
        _ url: String,
        headers: HTTPHeaders,
        body: ByteBuffer,
        stream: Bool,
        intended: ContinuousClock.Instant
    ) async -> CallResult {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.body = body
        do {
            let response = try await self.http.execute(request)
            var firstByte: ContinuousClock.Instant?
            var counter = EventCounter()
            for try await chunk in response.body {
                if firstByte == nil { firstByte = .now }
                if stream { counter.count(chunk) }
            }
            let end = ContinuousClock.now
            guard (200..<300).contains(response.status) else {
                return CallResult(ok: false, errorCode: "http_\(response.status)", latency: end - intended)
            }
            return CallResult(
                ok: true,
                latency: end - intended,
                firstByte: (firstByte ?? end) - intended,
                events: counter.events
            )
        } catch {
            return CallResult(ok: false, errorCode: "http_\(error.code)", latency: .now - intended)
        }
    }

    func shutdown() async {
        await self.http.shutdown()
    }
}

/// Counts Server-Sent-Events events in a body read chunk by chunk: an event ends at a blank line
/// (`\n\n`, `\r\n\r\n`; carriage returns are skipped), wherever the chunks split it.
struct EventCounter {
    private(set) var events = 0
    private var last: UInt8 = 0

    mutating func count(_ chunk: ByteBuffer) {
        chunk.withUnsafeReadableBytes { bytes in
            for byte in bytes where byte != UInt8(ascii: "\r") {
                if byte == UInt8(ascii: "\n"), self.last == UInt8(ascii: "\n") {
                    self.events += 1
                    self.last = 0
                } else {
                    self.last = byte
                }
            }
        }
    }
}
