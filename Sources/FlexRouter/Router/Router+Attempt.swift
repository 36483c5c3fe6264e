internal import FlexCore
internal import FlexHTTP
internal import FlexJSON
internal import FlexSSE
internal import Logging
internal import NIOCore

/// One upstream attempt, up to the point where the race can decide about it.
///
/// Indirect (one reference): a started attempt is 200 bytes, and every async function an attempt
/// waits in keeps room for the outcome it will return.
indirect enum AttemptOutcome: Sendable {
    /// A streamed attempt produced its first output event (or ended completely before any).
    case started(LiveAttempt)
    /// A non-streamed attempt returned its whole answer.
    case answered(UnaryAnswer)
    /// The attempt ended before it started.
    case failed(RaceStateMachine.AttemptFailure)
}

/// A streamed attempt that has started: the rest of its events, the reader that has seen the first
/// ones, and the events held back until the call commits to it.
struct LiveAttempt: Sendable {
    var events: EventIterator
    var reader: any StreamReader
    /// Preamble and start events, in order, not yet forwarded.
    var held: [NativeEvent]
    /// The provider's terminal event was already among them.
    var sawTerminal: Bool
    var startedAt: ContinuousClock.Instant
}

/// A complete non-streamed answer.
struct UnaryAnswer: Sendable {
    var body: ByteBuffer
    var result: UpstreamResult
    var answeredAt: ContinuousClock.Instant
}

/// The provider's event stream of an attempt. It is read by one task at a time: first by the task
/// that runs the attempt, then (once that task has returned it) by the call's own task.
struct EventIterator: @unchecked Sendable {
    private var base: HTTPClientResponse.Body.ServerSentEvents.AsyncIterator

    init(_ body: HTTPClientResponse.Body, maximumEventSize: Int) {
        self.base = body.serverSentEvents(maximumEventSize: maximumEventSize).makeAsyncIterator()
    }

    /// The next event as the codec carries it (SSE's default type `message` becomes ""), or nil
    /// at the end of the body. Its data is a slice of a buffer the iterator reuses once the event
    /// before has been forwarded: a stream relayed event by event allocates nothing for its data.
    mutating func next() async throws -> NativeEvent? {
        guard let event = try await self.base.nextEvent(isolation: nil) else { return nil }
        return NativeEvent(event: event.type == "message" ? "" : event.type, data: event.data)
    }
}

/// A streamed attempt before its start: the events held back so far, and the reader that has seen
/// them.
struct StartingAttempt {
    var events: EventIterator
    private var reader: any StreamReader
    private var held: [NativeEvent] = []

    /// Takes the response's body; its headers are read here (by the reader) and not kept through
    /// the wait for the start.
    @inline(never)
    init(_ response: consuming HTTPClientResponse, call: Router.PreparedCall, tier: Tier, maximumEventSize: Int) {
        self.reader = call.adapter.makeStreamReader(for: call.body, tier: tier, headers: Router.fields(of: response))
        self.events = EventIterator(response.body, maximumEventSize: maximumEventSize)
    }

    /// The attempt's outcome, once ``consume(_:)`` has said it is decided.
    private(set) var outcome = AttemptOutcome.failed(.capacity)

    /// Reads one event; true once the attempt has started (or ended, or failed): ``outcome`` says
    /// how.
    @inline(never)
    mutating func consume(_ event: NativeEvent) -> Bool {
        switch self.reader.consume(event) {
        case .preamble:
            self.held.append(event)
            return false
        case .internalOnly:
            return false
        case .started, .content:
            self.held.append(event)
            self.outcome = .started(
                LiveAttempt(
                    events: self.events,
                    reader: self.reader,
                    held: self.held,
                    sawTerminal: false,
                    startedAt: .now
                )
            )
        case .terminal:
            // A complete answer with no output before its end (an empty answer): it started and
            // finished at once.
            self.held.append(event)
            self.outcome = .started(
                LiveAttempt(
                    events: self.events,
                    reader: self.reader,
                    held: self.held,
                    sawTerminal: true,
                    startedAt: .now
                )
            )
        case .error(let failure):
            self.outcome = .failed(failure)
        }
        return true
    }
}

extension Router {
    /// What the router needs to know about a call to run attempts. A class: the tasks a call's
    /// attempts run in share it, and their async frames hold one reference to it.
    final class PreparedCall: Sendable {
        let request: InferenceRequest
        let provider: Provider
        let adapter: any ProviderAdapter
        /// The body's members the adapter reads and sets (a typed request's: the whole body).
        let body: JSONObject
        /// The native body's other members, passed on as the caller wrote them.
        let passed: PassedMembers
        let baseURL: String

        init(
            request: InferenceRequest,
            provider: Provider,
            adapter: any ProviderAdapter,
            body: JSONObject,
            passed: PassedMembers,
            baseURL: String
        ) {
            self.request = request
            self.provider = provider
            self.adapter = adapter
            self.body = body
            self.passed = passed
            self.baseURL = baseURL
        }
    }

    /// Sends one attempt and reads it until it has started, answered or failed.
    ///
    /// - Parameters:
    ///   - stream: Ask the provider to stream (always for flex).
    ///   - flexBudget: For flex attempts, the budget: silence before the start is the race's
    ///     business, so the idle timeout is stretched past it, and shortened to the plain idle
    ///     timeout once the attempt has started.
    ///   - cancellation: For flex attempts, the handle the budget's end cancels the transfer with.
    ///
    /// A flex attempt waits here (in ``awaitStart(_:call:tier:)``) until it starts, so the phases are
    /// separate functions and the synchronous work is out of line: see ``Router/Call``.
    func runAttempt(
        _ call: PreparedCall,
        tier: Tier,
        stream: Bool,
        flexBudget: Duration?,
        cancellation: HTTPCancellationHandle? = nil,
        logger: Logger
    ) async -> AttemptOutcome {
        let response: HTTPClientResponse
        let streamed: Bool
        switch await self.send(
            call,
            tier: tier,
            stream: stream,
            flexBudget: flexBudget,
            cancellation: cancellation,
            logger: logger
        ) {
        case .headArrived(let head, let isStreamed):
            response = head
            streamed = isStreamed
        case .failed(let outcome):
            return outcome
        }
        guard (200..<300).contains(response.status) else {
            return await Self.refused(response, call: call, tier: tier)
        }
        guard streamed else {
            return await self.answer(response, call: call)
        }
        // Handed over: this frame does not keep the head (its header fields) through the wait.
        let outcome = await self.awaitStart(consume response, call: call, tier: tier)
        if flexBudget != nil, case .started = outcome {
            // The wait is over: from here silence is a stalled stream, not a queue.
            cancellation?.setIdleTimeout(self.configuration.idleTimeout)
        }
        return outcome
    }

    /// What sending an attempt's request came to.
    private enum Sent {
        /// The response head, and whether the provider was asked to stream.
        case headArrived(HTTPClientResponse, streamed: Bool)
        case failed(AttemptOutcome)
    }

    /// Builds the attempt's request and sends it; returns once the response head has arrived.
    ///
    /// A function of its own, and the request handed to FlexHTTP with `consume`, so that the request,
    /// whose body is as large as the caller's prompt, is freed as soon as libcurl has copied the body,
    /// not held for as long as the attempt waits for its head and its start.
    @inline(never)
    private func send(
        _ call: PreparedCall,
        tier: Tier,
        stream: Bool,
        flexBudget: Duration?,
        cancellation: HTTPCancellationHandle?,
        logger: Logger
    ) async -> Sent {
        var streamed = false
        let request: HTTPClientRequest
        do {
            request = try self.httpRequest(
                for: call,
                tier: tier,
                stream: stream,
                flexBudget: flexBudget,
                cancellation: cancellation,
                streamed: &streamed
            )
        } catch {
            return .failed(Self.invalidRequest(error))
        }
        do {
            return .headArrived(try await self.http.execute(consume request, logger: logger), streamed: streamed)
        } catch {
            return .failed(Self.failed(error, call.provider, receivedAnything: false))
        }
    }

    /// The HTTP request for one attempt, and whether it asks the provider to stream.
    ///
    /// - Throws: the adapter's ``RouterError`` (untyped, so that the error takes no room in the
    ///   caller's async frame).
    @inline(never)
    private func httpRequest(
        for call: PreparedCall,
        tier: Tier,
        stream: Bool,
        flexBudget: Duration?,
        cancellation: HTTPCancellationHandle?,
        streamed: inout Bool
    ) throws -> HTTPClientRequest {
        let upstream = try call.adapter.makeRequest(
            body: call.body,
            passing: call.passed,
            model: call.request.model,
            tier: tier,
            stream: stream,
            key: call.request.providerKey
        )
        var request = HTTPClientRequest(url: call.baseURL + upstream.path)
        request.method = .POST
        for (name, value) in upstream.headers {
            request.headers.add(name: name, value: value, isSensitive: Self.sensitiveHeaders.contains(name))
        }
        if let header = self.configuration.correlationHeader, !call.request.requestID.isEmpty {
            request.headers.add(name: header, value: call.request.requestID)
        }
        request.body = upstream.body
        request.cancellation = cancellation
        if let flexBudget {
            request.receiveBufferSize = self.configuration.flexReceiveBufferSize
            request.timeouts = HTTPTimeouts(
                connect: self.configuration.connectTimeout,
                idle: flexBudget + self.configuration.idleTimeout
            )
        } else {
            request.timeouts = HTTPTimeouts(
                connect: self.configuration.connectTimeout,
                responseHead: self.configuration.responseHeadTimeout,
                idle: self.configuration.idleTimeout
            )
        }
        streamed = upstream.stream
        return request
    }

    /// The adapter could not build the request: the caller's body is not what the API accepts, and
    /// every tier would refuse it.
    @inline(never)
    private static func invalidRequest(_ error: any Error) -> AttemptOutcome {
        .failed(.fatal(error as? RouterError ?? RouterError(.internalError, "the upstream request could not be built")))
    }

    /// A non-2xx answer: the provider refused the attempt.
    @inline(never)
    private static func refused(_ response: HTTPClientResponse, call: PreparedCall, tier: Tier) async -> AttemptOutcome
    {
        let body = (try? await response.body.collect(upTo: UpstreamFailure.maximumBodyBytes)) ?? ByteBuffer()
        return .failed(
            call.adapter.classifyFailure(
                status: response.status,
                headers: Self.fields(of: response),
                body: body,
                flex: tier == .flex
            )
        )
    }

    /// A non-streamed answer, read whole.
    @inline(never)
    private func answer(_ response: HTTPClientResponse, call: PreparedCall) async -> AttemptOutcome {
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: self.configuration.maxResponseBytes)
        } catch {
            return Self.failed(error, call.provider, receivedAnything: true)
        }
        return Self.read(body, of: response, call: call)
    }

    @inline(never)
    private static func read(_ body: ByteBuffer, of response: HTTPClientResponse, call: PreparedCall) -> AttemptOutcome
    {
        do {
            let result = try call.adapter.readResponse(body, headers: Self.fields(of: response))
            return .answered(UnaryAnswer(body: body, result: result, answeredAt: .now))
        } catch {
            return .failed(.retryable(error, beforeAnyByte: false))
        }
    }

    /// A streamed answer, read until its first output event (or its end, or a failure).
    @inline(never)
    private func awaitStart(
        _ response: consuming HTTPClientResponse,
        call: PreparedCall,
        tier: Tier
    ) async -> AttemptOutcome {
        var attempt = StartingAttempt(
            consume response,
            call: call,
            tier: tier,
            maximumEventSize: self.configuration.maxEventBytes
        )
        do {
            while let event = try await attempt.events.next() {
                if attempt.consume(event) {
                    return attempt.outcome
                }
            }
        } catch {
            return Self.failed(error, call.provider, receivedAnything: true)
        }
        return Self.endedBeforeStart(call.provider)
    }

    /// A transfer that failed.
    @inline(never)
    private static func failed(_ error: any Error, _ provider: Provider, receivedAnything: Bool) -> AttemptOutcome {
        .failed(Self.transportFailure(error, provider, receivedAnything: receivedAnything))
    }

    @inline(never)
    private static func endedBeforeStart(_ provider: Provider) -> AttemptOutcome {
        .failed(
            .retryable(
                RouterError(
                    .upstreamStreamTruncated,
                    "\(provider.name)'s stream ended before the answer started",
                    status: .unavailable
                ),
                beforeAnyByte: false
            )
        )
    }

    /// The error a failure before the start stands for.
    @inline(never)
    static func error(of failure: RaceStateMachine.AttemptFailure) -> RouterError {
        switch failure {
        case .capacity:
            RouterError(.upstreamOverloaded, "the provider has no capacity for this call right now; retry later")
        case .retryable(let error, _), .fatal(let error): error
        }
    }

    /// The response's header fields, as the adapters take them.
    @inline(never)
    static func fields(of response: HTTPClientResponse) -> [(String, String)] {
        response.headers.map { ($0.name, $0.value) }
    }

    /// Request headers that carry keys: FlexHTTP never shows their values.
    static let sensitiveHeaders: Set<String> = ["authorization", "x-api-key", "x-goog-api-key"]

    /// A transfer that failed: connection failures before any byte may be retried; timeouts and cuts
    /// are the provider's trouble (retryable on another tier before the start).
    @inline(never)
    static func transportFailure(
        _ error: any Error,
        _ provider: Provider,
        receivedAnything: Bool
    ) -> RaceStateMachine.AttemptFailure {
        guard let error = error as? HTTPClientError else {
            let routerError = RouterError(.upstreamStreamError, "reading \(provider.name)'s answer failed: \(error)")
            return .retryable(routerError, beforeAnyByte: false)
        }
        let beforeAnyByte =
            !receivedAnything && [.resolveFailed, .connectFailed, .tlsFailed, .connectTimeout].contains(error.code)
        let code: ErrorCode =
            switch error.code {
            case .cancelled: .cancelled
            case .connectTimeout, .responseHeadTimeout, .idleTimeout, .totalTimeout: .upstreamTimeout
            case .responseTooLarge, .responseHeadTooLarge: .upstreamResponseTooLarge
            default: .upstreamUnreachable
            }
        let routerError = RouterError(code, "\(provider.name): \(error.message)", details: ["provider": provider.name])
        return error.code == .responseTooLarge
            ? .fatal(routerError) : .retryable(routerError, beforeAnyByte: beforeAnyByte)
    }
}
