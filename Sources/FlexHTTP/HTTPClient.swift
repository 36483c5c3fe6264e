internal import Atomics
public import Logging

/// An asynchronous HTTP client on libcurl's multi interface.
///
/// One client runs one dedicated thread that drives a libcurl multi handle; every request of the
/// client shares its connection cache, so connections are reused (HTTP/1.1 keep-alive) and, over TLS,
/// multiplexed (HTTP/2). Create one per process (or per upstream family) and share it.
///
/// ```swift
/// try await withHTTPClient { client in
///     var request = HTTPClientRequest(url: "http://127.0.0.1:8080/openai/v1/chat/completions")
///     request.method = .POST
///     request.body = ByteBuffer(string: #"{"model":"gpt-4o-mini","stream":true}"#)
///     let response = try await client.execute(request)
///     for try await event in response.body.serverSentEvents() {
///         print(event.data)
///     }
/// }
/// ```
///
/// Logging follows AsyncHTTPClient's design: nothing is logged unless a `Logger` is passed, per
/// request to `execute(_:logger:)` or as the background-activity logger; FlexHTTP logs at `debug`
/// and `trace` only, and never logs header values, URL query strings or proxy credentials.
public final class HTTPClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: Configuration

    let multiThread: CurlMultiThread
    private let backgroundActivityLogger: Logger

    /// Creates a client and starts its thread. Call ``shutdown()`` when done, or use
    /// ``withHTTPClient(configuration:backgroundActivityLogger:isolation:_:)``.
    ///
    /// - Parameters:
    ///   - configuration: see ``Configuration``; defaults to ``Configuration/defaults``.
    ///   - backgroundActivityLogger: logs the client's own activity (its thread starting and
    ///     stopping); silent when `nil`.
    /// - Throws: ``HTTPClientError/Code/internalError`` if the thread or libcurl's multi handle cannot
    ///   be created.
    public init(
        configuration: Configuration = .defaults,
        backgroundActivityLogger: Logger? = nil
    ) throws(HTTPClientError) {
        self.configuration = configuration
        self.backgroundActivityLogger = backgroundActivityLogger ?? Self.silentLogger
        self.multiThread = try CurlMultiThread(configuration: configuration, logger: self.backgroundActivityLogger)
    }

    /// The version of the libcurl this process runs with, e.g. "7.88.1" (the library loaded at run
    /// time, which can differ from the headers FlexHTTP was built against).
    public static var libcurlVersion: String {
        let number = Self.libcurlVersionNumber
        return "\(number >> 16).\((number >> 8) & 0xFF).\(number & 0xFF)"
    }

    /// ``libcurlVersion`` as `0xXXYYZZ`: 7.88.1 is `0x075801`, 8.14.1 is `0x080E01`.
    public static var libcurlVersionNumber: UInt32 { CurlGlobal.versionNumber }

    /// Whether the libcurl this process runs with has the HTTP/2 receive path of releases before
    /// 8.1, with its known defects (see the Known limits article): it sends `RST_STREAM` after
    /// every HTTP/2 response that ends without a `content-length` (streamed answers), and now and
    /// then loses the end of a stream whose data overflowed its receive buffer.
    public static var hasLegacyHTTP2: Bool { CurlGlobal.hasLegacyHTTP2ReceivePath }

    deinit {
        // A client dropped without shutdown() still stops its thread and fails its transfers.
        self.multiThread.initiateShutdown()
    }

    /// Sends a request and returns once the response head has arrived.
    ///
    /// The body is then read from ``HTTPClientResponse/body``. Cancelling the calling task aborts the
    /// transfer, whatever phase it is in (queued, connecting, awaiting the head), and so does the
    /// request's ``HTTPClientRequest/cancellation`` handle, from any thread, until the body's end.
    ///
    /// - Parameters:
    ///   - request: the request; consumed (pass it with `consume` so that its body is freed as soon
    ///     as libcurl has copied it, not when the response head arrives).
    ///   - logger: logs this request's progress at `debug`/`trace`; silent when `nil`.
    /// - Returns: the response; HTTP error statuses are responses, not errors.
    /// - Throws: ``HTTPClientError``: ``HTTPClientError/Code/invalidRequest`` before anything is sent,
    ///   otherwise the failure class of the transfer (resolve, connect, TLS, a timeout, the connection
    ///   closing, cancellation, shutdown).
    public func execute(
        _ request: consuming HTTPClientRequest,
        logger: Logger? = nil,
        isolation actor: isolated (any Actor)? = #isolation
    ) async throws(HTTPClientError) -> HTTPClientResponse {
        // A request waiting for its response head (a flex queue) holds this frame: the synchronous
        // work before and after the wait is out of line, so its temporaries are not in it. libcurl
        // has its own copy of the body once the transfer exists, so the request is dropped before
        // the wait (a caller that passes it with `consume` keeps no copy of the body either).
        let transfer = try self.makeTransfer(request, logger: logger)
        let method = request.method
        _ = consume request
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation(isolation: actor) { (waiter: Transfer.HeadWaiter) in
                transfer.start(headWaiter: waiter)
            }
        } onCancel: {
            transfer.cancel()
        }
        return try Self.response(result, of: transfer, method: method)
    }

    @inline(never)
    private func makeTransfer(_ request: HTTPClientRequest, logger: Logger?) throws(HTTPClientError) -> Transfer {
        let transfer = try Transfer(
            request: request,
            configuration: self.configuration,
            multi: self.multiThread,
            logger: logger ?? Self.silentLogger
        )
        request.cancellation?.attach(transfer)
        return transfer
    }

    @inline(never)
    private static func response(
        _ result: Result<HTTPResponseHead, HTTPClientError>,
        of transfer: Transfer,
        method: HTTPMethod
    ) throws(HTTPClientError) -> HTTPClientResponse {
        let head = try result.get()
        let expectedContentLength: Int?
        if method == .HEAD || head.status == 204 || head.status == 304 {
            expectedContentLength = nil
        } else {
            expectedContentLength = head.headers.first(name: "content-length").flatMap { Int($0) }
        }
        return HTTPClientResponse(
            head: head,
            body: HTTPClientResponse.Body(transfer: transfer, expectedContentLength: expectedContentLength)
        )
    }

    /// Fails every request in flight with ``HTTPClientError/Code/shutdown``, closes every connection
    /// and stops the client's thread; returns once it has stopped. Later requests fail with
    /// ``HTTPClientError/Code/shutdown``. Calling it again is harmless.
    public func shutdown() async {
        await self.multiThread.shutdown()
    }

    /// The number of libcurl easy handles alive: one per request from its creation until libcurl is
    /// done with it. Zero once every request has completed, failed or been cancelled and the curl
    /// thread has caught up; tests use it to prove that cancellation frees handles.
    public var liveEasyHandleCount: Int {
        self.multiThread.liveEasyHandles.load(ordering: .relaxed)
    }

    static let silentLogger = Logger(label: "FlexHTTP", factory: { _ in SwiftLogNoOpLogHandler() })
}
