internal import FlexCodec
internal import FlexHTTP
internal import FlexJSON
internal import FlexSSE
internal import Logging
internal import NIOCore

/// One upstream attempt, up to the point where the race can decide about it.
enum AttemptOutcome: Sendable {
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
    /// The attempt's response headers.
    var headers: [(String, String)]
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
    /// at the end of the body.
    mutating func next() async throws -> NativeEvent? {
        guard let event = try await self.base.next() else { return nil }
        return NativeEvent(event: event.event == "message" ? "" : event.event, data: ByteBuffer(string: event.data))
    }
}

extension Router {
    /// What the router needs to know about a call to run attempts.
    struct PreparedCall: Sendable {
        var request: InferenceRequest
        var provider: Provider
        var adapter: any ProviderAdapter
        var body: JSONObject
        var baseURL: String
    }

    /// Sends one attempt and reads it until it has started, answered or failed.
    ///
    /// - Parameters:
    ///   - stream: Ask the provider to stream (always for flex).
    ///   - flexBudget: For flex attempts, the budget: silence before the start is the race's
    ///     business, so the idle timeout is stretched past it.
    func runAttempt(_ call: PreparedCall, tier: Tier, stream: Bool, flexBudget: Duration?, logger: Logger) async -> AttemptOutcome {
        let upstream: UpstreamRequest
        do {
            upstream = try call.adapter.makeRequest(body: call.body, model: call.request.model, tier: tier, stream: stream,
                                                    key: call.request.providerKey)
        } catch {
            return .failed(.fatal(error))
        }
        var request = HTTPClientRequest(url: call.baseURL + upstream.path)
        request.method = .POST
        for (name, value) in upstream.headers {
            request.headers.add(name: name, value: value, isSensitive: Self.sensitiveHeaders.contains(name))
        }
        if let header = self.configuration.correlationHeader, !call.request.requestID.isEmpty {
            request.headers.add(name: header, value: call.request.requestID)
        }
        request.body = upstream.body
        if let flexBudget {
            request.timeouts = HTTPTimeouts(connect: self.configuration.connectTimeout,
                                            idle: flexBudget + self.configuration.idleTimeout)
        } else {
            request.timeouts = HTTPTimeouts(connect: self.configuration.connectTimeout,
                                            responseHead: self.configuration.responseHeadTimeout,
                                            idle: self.configuration.idleTimeout)
        }

        let response: HTTPClientResponse
        do {
            response = try await self.http.execute(request, logger: logger)
        } catch {
            return .failed(Self.transportFailure(error, call.provider, receivedAnything: false))
        }
        let headers = response.headers.map { ($0.name, $0.value) }
        guard (200..<300).contains(response.status) else {
            let body = (try? await response.body.collect(upTo: UpstreamFailure.maximumBodyBytes)) ?? ByteBuffer()
            return .failed(call.adapter.classifyFailure(status: response.status, headers: headers, body: body, flex: tier == .flex))
        }

        guard upstream.stream else {
            do {
                let body = try await response.body.collect(upTo: self.configuration.maxResponseBytes)
                let result = try call.adapter.readResponse(body, headers: headers)
                return .answered(UnaryAnswer(body: body, result: result, answeredAt: .now))
            } catch let error as RouterError {
                return .failed(.retryable(error, beforeAnyByte: false))
            } catch {
                return .failed(Self.transportFailure(error, call.provider, receivedAnything: true))
            }
        }

        var events = EventIterator(response.body, maximumEventSize: self.configuration.maxEventBytes)
        var reader = call.adapter.makeStreamReader(for: call.body, tier: tier, headers: headers)
        var held: [NativeEvent] = []
        do {
            while let event = try await events.next() {
                switch reader.consume(event) {
                case .preamble:
                    held.append(event)
                case .internalOnly:
                    continue
                case .started, .content:
                    held.append(event)
                    return .started(LiveAttempt(events: events, reader: reader, held: held, sawTerminal: false,
                                                headers: headers, startedAt: .now))
                case .terminal:
                    // A complete answer with no output before its end (an empty answer): it started
                    // and finished at once.
                    held.append(event)
                    return .started(LiveAttempt(events: events, reader: reader, held: held, sawTerminal: true,
                                                headers: headers, startedAt: .now))
                case .error(let failure):
                    return .failed(failure)
                }
            }
        } catch {
            return .failed(Self.transportFailure(error, call.provider, receivedAnything: true))
        }
        return .failed(.retryable(
            RouterError(.unavailable, "upstream_stream_truncated",
                        "\(call.provider.name)'s stream ended before the answer started"),
            beforeAnyByte: false))
    }

    /// Request headers that carry keys: FlexHTTP never shows their values.
    static let sensitiveHeaders: Set<String> = ["authorization", "x-api-key", "x-goog-api-key"]

    /// A transfer that failed: connection failures before any byte may be retried; timeouts and cuts
    /// are the provider's trouble (retryable on another tier before the start).
    static func transportFailure(_ error: any Error, _ provider: Provider, receivedAnything: Bool) -> RaceStateMachine.AttemptFailure {
        guard let error = error as? HTTPClientError else {
            let routerError = RouterError(.unavailable, "upstream_stream_error",
                                          "reading \(provider.name)'s answer failed: \(error)")
            return .retryable(routerError, beforeAnyByte: false)
        }
        let beforeAnyByte = !receivedAnything && [.resolveFailed, .connectFailed, .tlsFailed, .connectTimeout].contains(error.code)
        let (status, code): (StatusCode, String) =
            switch error.code {
            case .cancelled: (.cancelled, "cancelled")
            case .connectTimeout, .responseHeadTimeout, .idleTimeout, .totalTimeout: (.unavailable, "upstream_timeout")
            case .responseTooLarge, .responseHeadTooLarge: (.resourceExhausted, "upstream_response_too_large")
            default: (.unavailable, "upstream_unreachable")
            }
        let routerError = RouterError(status, code, "\(provider.name): \(error.message)", details: ["provider": provider.name])
        return error.code == .responseTooLarge ? .fatal(routerError) : .retryable(routerError, beforeAnyByte: beforeAnyByte)
    }
}
