internal import Atomics
internal import CCurl
internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// One request: its libcurl easy handle, the callbacks libcurl calls for it, and the state machine
/// shared by the curl thread and the consumer.
///
/// `@unchecked Sendable` because it owns C pointers and per-thread fields. Who touches what:
/// - `let` properties: set in `init` on the caller's thread, read anywhere afterwards.
/// - `machine`: only under `lock`, from any thread.
/// - The easy handle, `headerList` and `errorBuffer`: configured in `init` on the caller's thread,
///   then handed to the multi handle's driver (``CurlMultiThread``: the curl thread, or the caller
///   itself when it finds libcurl free), through the command queue or the driver lock, either of
///   which orders the accesses. From then on only the driver uses them (libcurl calls the callbacks
///   on it), until it cleans the handle up; `deinit` frees what was never handed over.
/// - `curl`-prefixed `var`s (`curlIsInMulti`, `curlActiveIndex`, deadlines, head builder): the
///   driver only.
///
/// Memory safety of the callbacks: libcurl gets `Unmanaged.passUnretained(self)` as user data. The
/// multi handle's active list keeps a strong reference for as long as the handle is in the multi
/// handle, and callbacks only run inside libcurl calls the driver makes on handles in the multi
/// handle (or inside `curl_easy_pause` on such a handle), so a callback never sees a freed transfer.
final class Transfer: @unchecked Sendable {
    typealias HeadWaiter = CheckedContinuation<Result<HTTPResponseHead, HTTPClientError>, Never>
    typealias BodyWaiter = CheckedContinuation<Result<ByteBuffer?, HTTPClientError>, Never>
    typealias StateMachine = TransferStateMachine<HeadWaiter, BodyWaiter>

    // MARK: Immutable after init

    let logger: Logger
    let multi: CurlMultiThread
    let method: HTTPMethod
    /// Kept to build a ``Redactor`` if an error message or a log line needs one (rarely: not per
    /// request).
    private let url: String
    private let requestHeaders: HTTPHeaders
    private let proxyURL: String?
    let maximumResponseHeadSize: Int
    let allocator = ByteBufferAllocator()
    /// Absolute deadlines on ``MonotonicClock``; 0 means none.
    let headDeadline: UInt64
    let totalDeadline: UInt64

    // MARK: Shared, under the lock

    private let lock = NIOLock()
    private var machine: StateMachine
    /// The largest piece of body libcurl handed over in one write callback (guarded by `lock`): at
    /// most the receive buffer's size. Chunks are no measure of it, since pieces that arrive while
    /// a chunk is queued join it.
    private var largestBodyPiece = 0

    // MARK: Owned by the curl thread once handed over

    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    var curlIsInMulti = false
    var curlActiveIndex = -1
    /// When the upstream must have sent more body; 0 while none is due (before the head, or paused).
    var curlIdleDeadline: UInt64 = 0
    /// The idle timeout (0: none): the request's, until a ``setIdleTimeout(nanoseconds:)`` command.
    /// While ``curlIdleDeadline`` is set, it is this much after the body data (or resume) that armed
    /// it.
    private var idleNanoseconds: UInt64
    private var curlHeadDelivered = false
    private var curlHeadHeaders = HTTPHeaders()
    private var curlHeadSize = 0
    /// A failure decided inside a callback, reported instead of libcurl's generic write error.
    private var curlFailure: HTTPClientError?
    /// The write callback last returned `CURL_WRITEFUNC_PAUSE` and no resume has run since.
    private var curlIsPaused = false
    /// The curl thread is removing the handle: every callback refuses data.
    private var curlIsAborting = false

    /// Prepares the easy handle for `request` on the caller's thread.
    ///
    /// - Throws: ``HTTPClientError/Code/invalidRequest`` for a request that cannot be sent as given.
    init(
        request: HTTPClientRequest,
        configuration: HTTPClient.Configuration,
        multi: CurlMultiThread,
        logger: Logger
    ) throws(HTTPClientError) {
        if case .url(let url) = configuration.proxy.value {
            self.proxyURL = url
        } else {
            self.proxyURL = nil
        }
        self.url = request.url
        self.requestHeaders = request.headers
        self.logger = logger
        self.multi = multi
        self.method = request.method
        self.maximumResponseHeadSize = configuration.maximumResponseHeadSize

        let timeouts = request.timeouts ?? configuration.timeouts
        let now = MonotonicClock.now()
        self.headDeadline = timeouts.responseHead.map { now &+ max(1, $0.saturatingNanoseconds) } ?? 0
        self.totalDeadline = timeouts.total.map { now &+ max(1, $0.saturatingNanoseconds) } ?? 0
        self.idleNanoseconds = timeouts.idle.map { max(1, $0.saturatingNanoseconds) } ?? 0

        let high = max(1, configuration.bodyBuffering.highWatermark)
        let low = min(max(0, configuration.bodyBuffering.lowWatermark), high)
        self.machine = StateMachine(watermarks: .init(high: high, low: low))
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))

        try Self.validate(request)
        guard let easy = curl_easy_init() else {
            throw HTTPClientError(code: .internalError, message: "curl_easy_init failed")
        }
        self.easy = easy
        multi.liveEasyHandles.wrappingIncrement(ordering: .relaxed)
        try self.configure(easy, request: request, configuration: configuration, timeouts: timeouts)
    }

    /// The URL without query string or userinfo, for logs.
    var redactedURL: String {
        URLParts(self.url).redacted
    }

    deinit {
        // Only a transfer that never reached the multi handle still has its handle here.
        self.cleanupEasyHandle()
        self.errorBuffer.deallocate()
    }

    /// Frees the easy handle and its header list. Curl thread (after removing it from the multi
    /// handle), or `deinit`.
    func cleanupEasyHandle() {
        guard let easy = self.easy else {
            return
        }
        curl_easy_cleanup(easy)
        self.easy = nil
        if let headerList = self.headerList {
            curl_slist_free_all(headerList)
            self.headerList = nil
        }
        self.multi.liveEasyHandles.wrappingDecrement(ordering: .relaxed)
    }

    // MARK: - Consumer side

    /// Hands the transfer to libcurl (on this thread when no other is driving it), or fails `waiter`
    /// at once if it was cancelled already or the client is shut down. Not under `lock`: libcurl may
    /// call this transfer's callbacks, which take it, before this returns.
    func start(headWaiter: HeadWaiter) {
        let action = self.lock.withLock { self.machine.start(headWaiter: headWaiter) }
        switch action {
        case .enqueue:
            self.logger.trace(
                "request queued",
                metadata: ["flexhttp.method": "\(self.method)", "flexhttp.url": "\(self.redactedURL)"]
            )
            if !self.multi.start(self) {
                // The client is shut down. libcurl never saw this transfer, so completing it here
                // (the machine is behind its lock) is safe; deinit frees the easy handle.
                self.curlCompleted(.failure(.shutdown))
            }
        case .failHead(let waiter, let error):
            waiter.resume(returning: .failure(error))
        }
    }

    /// Aborts the transfer: fails whoever is waiting with ``HTTPClientError/Code/cancelled`` now, and
    /// asks the curl thread to remove the easy handle. Any thread; idempotent.
    func cancel() {
        let action = self.lock.withLock { self.machine.cancel() }
        if action.abortTransfer {
            self.logger.debug("request cancelled", metadata: ["flexhttp.url": "\(self.redactedURL)"])
            _ = self.multi.enqueue(.cancel(self))
        }
        action.failHead?.resume(returning: .failure(.cancelled))
        action.failBody?.resume(returning: .failure(.cancelled))
    }

    /// The next body chunk, `nil` at the end. A cancelled task gets ``HTTPClientError/Code/cancelled``
    /// (once; then `nil`) even when chunks are buffered, and the transfer is aborted.
    func nextChunk(isolation actor: isolated (any Actor)?) async throws(HTTPClientError) -> ByteBuffer? {
        if Task.isCancelled {
            self.cancel()
        }
        let action = self.lock.withLock { self.machine.nextChunk() }
        switch action {
        case .chunk(let chunk, let requestResume):
            if requestResume {
                _ = self.multi.enqueue(.resume(self))
            }
            return chunk
        case .end(let result):
            return try result.get()
        case .wait:
            break
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation(isolation: actor) { (waiter: BodyWaiter) in
                let action = self.lock.withLock { self.machine.waitForChunk(waiter) }
                switch action {
                case .suspended:
                    break
                case .resume(let waiter, let result, let requestResume):
                    if requestResume {
                        _ = self.multi.enqueue(.resume(self))
                    }
                    waiter.resume(returning: result)
                }
            }
        } onCancel: {
            self.cancel()
        }
        return try result.get()
    }

    // MARK: - Curl thread: commands

    /// Whether to add the easy handle (`false`: cancelled while queued).
    func curlWillAdd() -> Bool {
        self.lock.withLock { self.machine.curlWillAdd() }
    }

    /// Resumes a paused transfer (a resume command from the consumer).
    func curlResume() {
        guard self.curlIsInMulti, let easy = self.easy else {
            return
        }
        let resume = self.lock.withLock { self.machine.curlResumed() }
        guard resume else {
            return
        }
        self.logger.trace("transfer resumed", metadata: ["flexhttp.url": "\(self.redactedURL)"])
        self.curlIsPaused = false
        self.armIdleDeadline()
        // May call the write callback right here with the chunk libcurl kept when it paused.
        let code = curl_easy_pause(easy, CCurl_PAUSE_CONT)
        if code != CURLE_OK {
            self.logger.debug("curl_easy_pause failed", metadata: ["flexhttp.curl_code": "\(code.rawValue)"])
        }
    }

    /// Asks for a new idle timeout (0: none), from any thread: the curl thread applies it
    /// (``curlSetIdleTimeout(_:)``).
    func setIdleTimeout(nanoseconds: UInt64) {
        _ = self.multi.enqueue(.setIdleTimeout(self, nanoseconds))
    }

    /// A new idle timeout (a command): the deadline the last body data armed moves to that data's
    /// time plus the new timeout, and later data arms it with the new one.
    func curlSetIdleTimeout(_ nanoseconds: UInt64) {
        let armedAt = self.curlIdleDeadline &- self.idleNanoseconds
        self.idleNanoseconds = nanoseconds
        guard self.curlIdleDeadline != 0 else {
            return
        }
        guard nanoseconds != 0 else {
            self.curlIdleDeadline = 0
            return
        }
        self.curlIdleDeadline = armedAt &+ nanoseconds
        self.multi.noteDeadline(self.curlIdleDeadline)
    }

    /// Called by the curl thread just before it removes the handle from the multi handle.
    ///
    /// libcurl 7.88 keeps what arrives for a paused transfer in a buffer that `curl_easy_cleanup` does
    /// not free when the transfer was paused (seen with HTTP/2, where a paused stream keeps receiving
    /// up to its window: LeakSanitizer reported 64 MiB after one cancelled stream). Unpausing makes
    /// libcurl hand that data to the write callback, which refuses it, and free the buffer.
    func curlWillRemove() {
        guard self.curlIsPaused, let easy = self.easy else {
            return
        }
        self.curlIsAborting = true
        self.curlIsPaused = false
        _ = curl_easy_pause(easy, CCurl_PAUSE_CONT)
    }

    /// The transfer ended: libcurl's result, a deadline, or shutdown. Runs the machine's action; the
    /// caller then removes and cleans up the handle.
    func curlCompleted(_ result: Result<Void, HTTPClientError>) {
        let action = self.lock.withLock { self.machine.transferCompleted(result) }
        switch result {
        case .success:
            self.logger.trace("transfer finished", metadata: ["flexhttp.url": "\(self.redactedURL)"])
        case .failure(let error):
            self.logger.debug(
                "transfer failed",
                metadata: ["flexhttp.url": "\(self.redactedURL)", "flexhttp.error": "\(error)"]
            )
        }
        switch action {
        case .none:
            break
        case .failHead(let waiter, let error):
            waiter.resume(returning: .failure(error))
        case .finishBody(let waiter, let result):
            waiter.resume(returning: result)
        }
    }

    /// The error for libcurl's result code, with the callback's own failure taking precedence.
    func curlError(for code: CURLcode) -> HTTPClientError {
        if let failure = self.curlFailure {
            return failure
        }
        let message = String(cString: self.errorBuffer)
        let redactor = Redactor(url: self.url, headers: self.requestHeaders, proxyURL: self.proxyURL)
        return HTTPClientError(curlCode: code, errorBuffer: message, redactor: redactor)
    }

    /// Which of this transfer's deadlines has passed, if any.
    func curlExpiredDeadline(now: UInt64) -> HTTPClientError? {
        if self.totalDeadline != 0, now >= self.totalDeadline {
            return HTTPClientError(code: .totalTimeout, message: "the total timeout elapsed")
        }
        if !self.curlHeadDelivered, self.headDeadline != 0, now >= self.headDeadline {
            return HTTPClientError(code: .responseHeadTimeout, message: "no complete response head within the timeout")
        }
        if self.curlIdleDeadline != 0, now >= self.curlIdleDeadline {
            return HTTPClientError(code: .idleTimeout, message: "no response body data within the idle timeout")
        }
        return nil
    }

    /// The earliest deadline still to come (`UInt64.max` for none).
    var curlNextDeadline: UInt64 {
        var next = UInt64.max
        if self.totalDeadline != 0 {
            next = min(next, self.totalDeadline)
        }
        if !self.curlHeadDelivered, self.headDeadline != 0 {
            next = min(next, self.headDeadline)
        }
        if self.curlIdleDeadline != 0 {
            next = min(next, self.curlIdleDeadline)
        }
        return next
    }

    private func armIdleDeadline() {
        guard self.idleNanoseconds != 0 else {
            return
        }
        let deadline = MonotonicClock.now() &+ self.idleNanoseconds
        let wasDisarmed = self.curlIdleDeadline == 0
        self.curlIdleDeadline = deadline
        if wasDisarmed {
            // Moving a deadline later needs no notice; arming one may need an earlier check.
            self.multi.noteDeadline(deadline)
        }
    }

    // MARK: - Curl thread: callbacks

    fileprivate func curlConnectionReady() -> Int32 {
        let action = self.lock.withLock { self.machine.connectionReady() }
        return action == .proceed ? Int32(CURL_PREREQFUNC_OK) : Int32(CURL_PREREQFUNC_ABORT)
    }

    fileprivate func curlReceivedHeaderLine(_ bytes: UnsafeRawBufferPointer) -> Int {
        if self.curlIsAborting {
            return 0
        }
        if self.curlHeadDelivered {
            // Trailers of a chunked body: not exposed.
            return bytes.count
        }
        self.curlHeadSize += bytes.count
        if self.curlHeadSize > self.maximumResponseHeadSize {
            self.curlFailure = HTTPClientError(
                code: .responseHeadTooLarge,
                message: "the response head exceeds \(self.maximumResponseHeadSize) bytes"
            )
            return 0
        }
        var line = bytes[...]
        while let last = line.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            line = line.dropLast()
        }
        if line.isEmpty {
            return self.curlReceivedEndOfHeaders() ? bytes.count : 0
        }
        if line.starts(with: "HTTP/".utf8) {
            // A status line: the start of a response (a final one, or an interim 1xx).
            self.curlHeadHeaders = HTTPHeaders()
        } else if line.first == UInt8(ascii: " ") || line.first == UInt8(ascii: "\t") {
            // obs-fold: a continuation of the previous field's value.
            self.curlHeadHeaders.appendToLastValue(" " + String(decoding: line.trimmingOWS(), as: UTF8.self))
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            let name = String(decoding: line[..<colon], as: UTF8.self)
            let value = String(decoding: line[(colon + 1)...].trimmingOWS(), as: UTF8.self)
            self.curlHeadHeaders.add(name: name, value: value)
        }
        return bytes.count
    }

    /// The blank line after a header block. Returns `false` to abort the transfer.
    private func curlReceivedEndOfHeaders() -> Bool {
        guard let easy = self.easy else {
            return false
        }
        var status = 0
        CCurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        if (100..<200).contains(status) {
            // An interim response (100 Continue, 103 Early Hints): the final one follows.
            self.curlHeadHeaders = HTTPHeaders()
            return true
        }
        self.curlHeadDelivered = true
        let head = HTTPResponseHead(
            status: status,
            version: Self.version(of: easy),
            headers: self.curlHeadHeaders,
            connection: Self.connectionInfo(of: easy)
        )
        self.curlHeadHeaders = HTTPHeaders()
        self.armIdleDeadline()
        let action = self.lock.withLock { self.machine.headReceived(head) }
        switch action {
        case .succeedHead(let waiter, let head):
            self.logger.debug(
                "response head",
                metadata: [
                    "flexhttp.url": "\(self.redactedURL)", "flexhttp.status": "\(head.status)",
                    "flexhttp.version": "\(head.version)", "flexhttp.reused": "\(head.connection.isReused)",
                ]
            )
            waiter.resume(returning: .success(head))
            return true
        case .abort:
            return false
        }
    }

    /// The largest piece of body libcurl has handed over at once so far.
    var largestBodyPieceSeen: Int {
        self.lock.withLock { self.largestBodyPiece }
    }

    fileprivate func curlReceivedBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        if bytes.isEmpty {
            return 0
        }
        if self.curlIsAborting {
            return 0
        }
        // One lock for both paths: the bytes join the queued chunk, or become a chunk of their own
        // (allocated under the lock, which only the consumer's short sections contend for).
        let action: StateMachine.BodyAction = self.lock.withLock {
            self.largestBodyPiece = max(self.largestBodyPiece, bytes.count)
            if self.machine.appendToQueuedChunk(bytes) {
                return .accept
            }
            var chunk = self.allocator.buffer(capacity: bytes.count)
            chunk.writeBytes(bytes)
            return self.machine.bodyReceived(chunk)
        }
        switch action {
        case .accept:
            self.armIdleDeadline()
            return bytes.count
        case .deliver(let waiter, let chunk):
            self.armIdleDeadline()
            waiter.resume(returning: .success(chunk))
            return bytes.count
        case .pause:
            // The upstream is not idle, the consumer is slow: the idle timeout waits for the resume.
            self.curlIdleDeadline = 0
            self.curlIsPaused = true
            self.logger.trace("transfer paused", metadata: ["flexhttp.url": "\(self.redactedURL)"])
            return CCurl_WRITEFUNC_PAUSE
        case .abort:
            return 0
        }
    }

    // MARK: - Setup

    private static func validate(_ request: HTTPClientRequest) throws(HTTPClientError) {
        guard
            HTTPHeaders.hasASCIICaseInsensitivePrefix(request.url, "http://")
                || HTTPHeaders.hasASCIICaseInsensitivePrefix(request.url, "https://")
        else {
            throw HTTPClientError(
                code: .invalidRequest,
                message: "the URL must be absolute, with scheme http or https: \(URLParts(request.url).redacted)"
            )
        }
        guard request.url.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw HTTPClientError(code: .invalidRequest, message: "the URL contains spaces or control characters")
        }
        guard request.method.isValidToken else {
            throw HTTPClientError(code: .invalidRequest, message: "invalid method \"\(request.method)\"")
        }
        for field in request.headers {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(HTTPHeaders.isTokenCharacter) else {
                throw HTTPClientError(code: .invalidRequest, message: "invalid header name \"\(field.name)\"")
            }
            guard HTTPHeaders.isValidValue(field.value) else {
                throw HTTPClientError(
                    code: .invalidRequest,
                    message: "the value of header \"\(field.name)\" contains control characters"
                )
            }
        }
    }

    /// The receive buffer of an HTTP/2 request on libcurl before 8.1, which is also that stream's
    /// buffer for DATA read ahead of the caller. When a stream's DATA does not fit, libcurl 7.88
    /// pauses its nghttp2 session and hands the rest over later, and that path now and then loses
    /// the end of the stream for good (10,000 streams of 6–19 KB each: 2–4 stalled per run at
    /// 16 KiB, none in ten runs at 64 KiB; tools/bench/RESULTS.md, *concurrency*). Untouched
    /// until data arrives, so a waiting stream's resident cost barely moves (peak RSS of those
    /// 10,000 behind nghttpx: 561–597 MiB against 552–563). Below `M_MMAP_THRESHOLD` (128 KiB), so
    /// no mmap per request.
    static let http2ReceiveBufferSize = 64 * 1024

    /// The `CURLOPT_BUFFERSIZE` of a request, nil for libcurl's default (16 KiB): HTTP/1.1 requests
    /// (and cleartext ones, which are HTTP/1.1: libcurl 7.88's cleartext HTTP/2 is broken) take the
    /// request's or client's size; HTTPS under HTTP/2 keeps libcurl's default, or takes
    /// ``http2ReceiveBufferSize`` on libcurl before 8.1 (`legacyHTTP2`).
    static func receiveBufferSize(
        _ httpVersion: HTTPClient.HTTPVersionPolicy,
        isHTTPS: Bool,
        requested: Int,
        legacyHTTP2: Bool
    ) -> Int? {
        switch httpVersion.value {
        case .http2OverTLS where isHTTPS: legacyHTTP2 ? Self.http2ReceiveBufferSize : nil
        case .http2OverTLS, .http1Only: Self.curlBufferSize(requested)
        }
    }

    /// `CURLOPT_BUFFERSIZE` within libcurl's accepted range (`CURL_MIN_BUFFERSIZE` … `CURL_MAX_READ_SIZE`).
    private static func curlBufferSize(_ bytes: Int) -> Int {
        min(max(bytes, 1024), 10 * 1024 * 1024)
    }

    private func configure(
        _ easy: UnsafeMutableRawPointer,
        request: HTTPClientRequest,
        configuration: HTTPClient.Configuration,
        timeouts: HTTPTimeouts
    ) throws(HTTPClientError) {
        var setter = OptionSetter(easy: easy)
        let opaqueSelf = Unmanaged.passUnretained(self).toOpaque()
        let isHTTPS = HTTPHeaders.hasASCIICaseInsensitivePrefix(request.url, "https://")

        setter.set(CURLOPT_URL, request.url)
        setter.set(CURLOPT_PRIVATE, pointer: opaqueSelf)
        setter.set(CURLOPT_NOSIGNAL, 1)
        setter.set(CURLOPT_PROTOCOLS_STR, "http,https")
        setter.set(CURLOPT_ERRORBUFFER, pointer: UnsafeRawPointer(self.errorBuffer))
        setter.set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        setter.set(CURLOPT_FOLLOWLOCATION, 0)

        CCurl_easy_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteCallback)
        setter.set(CURLOPT_WRITEDATA, pointer: opaqueSelf)
        CCurl_easy_setopt_write_callback(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback)
        setter.set(CURLOPT_HEADERDATA, pointer: opaqueSelf)
        CCurl_easy_setopt_prereq_callback(easy, CURLOPT_PREREQFUNCTION, curlPrereqCallback)
        setter.set(CURLOPT_PREREQDATA, pointer: opaqueSelf)
        CCurl_easy_setopt_sockopt_callback(easy, CURLOPT_SOCKOPTFUNCTION, curlSocketOptionCallback)

        switch configuration.httpVersion.value {
        case .http2OverTLS:
            setter.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
            if isHTTPS {
                // Wait for a connection that may multiplex rather than open another one. Only for
                // HTTPS: on HTTP/1.1 it makes concurrent requests queue behind the first response.
                setter.set(CURLOPT_PIPEWAIT, 1)
            }
        case .http1Only:
            setter.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        }
        if let bytes = Self.receiveBufferSize(
            configuration.httpVersion,
            isHTTPS: isHTTPS,
            requested: request.receiveBufferSize ?? configuration.receiveBufferSize,
            legacyHTTP2: CurlGlobal.hasLegacyHTTP2ReceivePath
        ) {
            setter.set(CURLOPT_BUFFERSIZE, bytes)
        }
        if let connect = timeouts.connect {
            setter.set(CURLOPT_CONNECTTIMEOUT_MS, connect.curlMilliseconds)
        }
        if let caFile = configuration.tls.caFile {
            setter.set(CURLOPT_CAINFO, caFile)
        }
        if let keepAlive = configuration.tcpKeepAlive {
            let seconds = max(1, Int(keepAlive.components.seconds))
            setter.set(CURLOPT_TCP_KEEPALIVE, 1)
            setter.set(CURLOPT_TCP_KEEPIDLE, seconds)
            setter.set(CURLOPT_TCP_KEEPINTVL, seconds)
        }
        setter.set(CURLOPT_MAXAGE_CONN, max(1, Int(configuration.connectionPool.idleTimeout.components.seconds)))
        switch configuration.proxy.value {
        case .environment:
            break
        case .none:
            setter.set(CURLOPT_PROXY, "")
        case .url(let url):
            setter.set(CURLOPT_PROXY, url)
        }

        // Method and body.
        var body = request.body
        if body == nil, request.method == .POST {
            body = ByteBuffer()
        }
        if let body {
            setter.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: curl_off_t(body.readableBytes))
            body.withUnsafeReadableBytes { bytes in
                // COPYPOSTFIELDS copies the bytes, so the buffer need not outlive this call.
                if let base = bytes.baseAddress, !bytes.isEmpty {
                    setter.set(CURLOPT_COPYPOSTFIELDS, pointer: base)
                } else {
                    setter.set(CURLOPT_COPYPOSTFIELDS, "")
                }
            }
            if request.method != .POST {
                setter.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
            }
        } else if request.method == .HEAD {
            setter.set(CURLOPT_NOBODY, 1)
        } else if request.method != .GET {
            setter.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }

        // Headers, plus removals of libcurl's defaults ("Name:" removes, "Name;" sends an empty value).
        var list: UnsafeMutablePointer<curl_slist>?
        func append(_ line: String) {
            if let appended = curl_slist_append(list, line) {
                list = appended
            } else {
                setter.failure = HTTPClientError(code: .internalError, message: "curl_slist_append failed")
            }
        }
        var hasAccept = false
        var hasExpect = false
        var hasContentType = false
        for field in request.headers {
            append(field.value.isEmpty ? field.name + ";" : field.name + ": " + field.value)
            switch field.name.utf8.count {
            case 6:
                hasAccept = hasAccept || HTTPHeaders.namesEqual(field.name, "accept")
                hasExpect = hasExpect || HTTPHeaders.namesEqual(field.name, "expect")
            case 12:
                hasContentType = hasContentType || HTTPHeaders.namesEqual(field.name, "content-type")
            default:
                break
            }
        }
        if !hasAccept {
            append("Accept:")
        }
        if !hasExpect {
            append("Expect:")
        }
        if body != nil, !hasContentType {
            append("Content-Type:")
        }
        self.headerList = list
        if let list {
            CCurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
        }

        if let failure = setter.failure {
            throw failure
        }
    }

    private static func version(of easy: UnsafeMutableRawPointer) -> HTTPVersion {
        var version = 0
        CCurl_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
        switch version {
        case Int(CURL_HTTP_VERSION_1_0): return .http1_0
        case Int(CURL_HTTP_VERSION_2_0): return .http2
        case Int(CURL_HTTP_VERSION_3): return HTTPVersion(major: 3, minor: 0)
        default: return .http1_1
        }
    }

    private static func connectionInfo(of easy: UnsafeMutableRawPointer) -> HTTPClientResponse.ConnectionInfo {
        var newConnections = 0
        var localPort = 0
        var remotePort = 0
        var localAddress: UnsafeMutablePointer<CChar>?
        var remoteAddress: UnsafeMutablePointer<CChar>?
        CCurl_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &newConnections)
        CCurl_easy_getinfo_long(easy, CURLINFO_LOCAL_PORT, &localPort)
        CCurl_easy_getinfo_long(easy, CURLINFO_PRIMARY_PORT, &remotePort)
        CCurl_easy_getinfo_string(easy, CURLINFO_LOCAL_IP, &localAddress)
        CCurl_easy_getinfo_string(easy, CURLINFO_PRIMARY_IP, &remoteAddress)
        return .init(
            isReused: newConnections == 0,
            localAddress: localAddress.map { String(cString: $0) } ?? "",
            localPort: localPort,
            remoteAddress: remoteAddress.map { String(cString: $0) } ?? "",
            remotePort: remotePort
        )
    }
}

/// Sets easy options, remembering the first failure instead of checking each call.
private struct OptionSetter {
    let easy: UnsafeMutableRawPointer
    var failure: HTTPClientError?

    mutating func set(_ option: CURLoption, _ value: Int) {
        self.check(option, CCurl_easy_setopt_long(self.easy, option, value))
    }

    mutating func set(_ option: CURLoption, offset value: curl_off_t) {
        self.check(option, CCurl_easy_setopt_off_t(self.easy, option, value))
    }

    mutating func set(_ option: CURLoption, _ value: String) {
        // libcurl copies string options (except POSTFIELDS, which FlexHTTP does not use).
        self.check(option, CCurl_easy_setopt_string(self.easy, option, value))
    }

    mutating func set(_ option: CURLoption, pointer value: UnsafeRawPointer?) {
        self.check(option, CCurl_easy_setopt_ptr(self.easy, option, value))
    }

    private mutating func check(_ option: CURLoption, _ code: CURLcode) {
        if code != CURLE_OK, self.failure == nil {
            self.failure = HTTPClientError(
                code: code == CURLE_URL_MALFORMAT ? .invalidRequest : .internalError,
                message: "curl_easy_setopt(\(option.rawValue)) failed: \(String(cString: curl_easy_strerror(code)))",
                curlCode: Int(code.rawValue)
            )
        }
    }
}

extension Slice where Base == UnsafeRawBufferPointer {
    /// Without leading and trailing optional whitespace (space, horizontal tab).
    fileprivate func trimmingOWS() -> Slice<UnsafeRawBufferPointer> {
        var slice = self
        while let first = slice.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            slice = slice.dropFirst()
        }
        while let last = slice.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            slice = slice.dropLast()
        }
        return slice
    }
}

// MARK: - C callbacks (non-capturing; the transfer arrives as unretained user data)

private let curlWriteCallback: curl_write_callback = { data, size, count, userdata in
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
    return transfer.curlReceivedBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlHeaderCallback: curl_write_callback = { data, size, count, userdata in
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
    return transfer.curlReceivedHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
}

/// Marks each new socket close-on-exec (libcurl 7.88 does not).
private let curlSocketOptionCallback: curl_sockopt_callback = { _, socket, _ in
    let flags = fcntl(socket, F_GETFD)
    if flags >= 0 {
        _ = fcntl(socket, F_SETFD, flags | FD_CLOEXEC)
    }
    return Int32(CURL_SOCKOPT_OK)
}

private let curlPrereqCallback: curl_prereq_callback = { clientp, _, _, _, _ in
    let transfer = Unmanaged<Transfer>.fromOpaque(clientp!).takeUnretainedValue()
    return transfer.curlConnectionReady()
}
