public import FlexCore
public import FlexJSON
public import NIOCore

/// Everything the router needs to know about one provider API, for native passthrough.
///
/// An adapter is pure: it builds the upstream request from the caller's JSON, reads the provider's
/// answers (a JSON body, or Server-Sent Events one at a time) and classifies its errors. It does
/// no I/O, so each one is tested against recorded provider output. The race (``RaceStateMachine``)
/// and the transfers belong to the ``Router``; the typed, provider-neutral API (a later layer)
/// translates to and from the native JSON these adapters handle, so it plugs in without touching
/// either.
public protocol ProviderAdapter: Sendable {
    var api: Api { get }

    /// The request for one attempt.
    ///
    /// - Parameters:
    ///   - body: The caller's JSON body, parsed.
    ///   - model: The model (from the call; for Gemini generateContent it goes in the path).
    ///   - tier: The tier this attempt asks for; the adapter writes the provider's own field and
    ///     spelling (replacing any the caller sent).
    ///   - stream: Whether to ask the provider to stream. Always true for flex attempts (the start
    ///     must be observable); otherwise what the caller asked for. When streaming, the adapter
    ///     also asks for usage in the stream where the API needs asking (OpenAI Chat
    ///     `stream_options.include_usage`).
    ///   - key: The provider key.
    /// - Throws: ``RouterError`` `invalid_request_body` when the body is not what the API accepts
    ///   at the level the router must understand (not a JSON object, a wrong `model`, ...).
    func makeRequest(
        body: JSONObject,
        model: String,
        tier: Tier,
        stream: Bool,
        key: Secret
    ) throws(RouterError) -> UpstreamRequest

    /// A fresh reader for one streamed attempt.
    ///
    /// - Parameters:
    ///   - body: The caller's body: tells the reader, for instance, whether a usage-only event the
    ///     router asked for (OpenAI Chat's `include_usage` chunk) should reach a streaming caller
    ///     (only if the caller asked for it too).
    ///   - tier: The tier the attempt asked for (an error event on flex may be a capacity refusal).
    ///   - headers: The attempt's HTTP response headers, which arrive before any event (Gemini reports
    ///     the served tier in `x-gemini-service-tier` as well as in the body).
    func makeStreamReader(for body: JSONObject, tier: Tier, headers: [(String, String)]) -> any StreamReader

    /// Reads a complete non-streamed answer (HTTP 2xx).
    func readResponse(_ body: ByteBuffer, headers: [(String, String)]) throws(RouterError) -> UpstreamResult

    /// Classifies a non-2xx answer, given before anything was forwarded. The default reads the
    /// provider's error envelope with ``UpstreamFailure``'s table.
    ///
    /// - Parameters:
    ///   - flex: Whether the attempt asked for flex (a capacity refusal only exists on flex).
    func classifyFailure(
        status: Int,
        headers: [(String, String)],
        body: ByteBuffer,
        flex: Bool
    ) -> RaceStateMachine.AttemptFailure
}

extension ProviderAdapter {
    public func classifyFailure(
        status: Int,
        headers: [(String, String)],
        body: ByteBuffer,
        flex: Bool
    ) -> RaceStateMachine.AttemptFailure {
        UpstreamFailure.classify(provider: self.api.provider, status: status, headers: headers, body: body, flex: flex)
    }

    /// ``makeRequest(body:model:tier:stream:key:)`` on a native body's kept members, with its
    /// other members (passed on as the caller wrote them) added to the request's body.
    func makeRequest(
        body: JSONObject,
        passing passed: PassedMembers,
        model: String,
        tier: Tier,
        stream: Bool,
        key: Secret
    ) throws(RouterError) -> UpstreamRequest {
        var request = try self.makeRequest(body: body, model: model, tier: tier, stream: stream, key: key)
        passed.splice(into: &request.body)
        return request
    }

    /// Sets the body's `stream` flag for APIs that take it in the body: true when the attempt
    /// streams; false when it does not and the caller's body said anything (the router, not the
    /// caller's body, decides whether an attempt streams).
    static func setStream(_ stream: Bool, in body: inout JSONObject) {
        if stream {
            body["stream"] = true
        } else if body["stream"] != nil {
            body["stream"] = false
        }
    }
}

/// One attempt's HTTP request, relative to the provider's base URL.
public struct UpstreamRequest: Sendable {
    /// Path and query after the base URL, e.g. `/chat/completions` or
    /// `/models/gemini-2.5-flash:streamGenerateContent?alt=sse`.
    public var path: String
    public var headers: [(String, String)]
    public var body: ByteBuffer
    public var stream: Bool

    public init(path: String, headers: [(String, String)], body: ByteBuffer, stream: Bool) {
        self.path = path
        self.headers = headers
        self.body = body
        self.stream = stream
    }
}

/// What an answer said about billing.
public struct UpstreamResult: Sendable, Hashable {
    public var usage: TokenUsage
    /// The tier the provider reported serving, mapped to the neutral tier; nil if it did not say.
    public var servedTier: Tier?
    /// The provider's own word for it (`flex`, `default`, `standard_only`, ...).
    public var servedTierReported: String

    public init(usage: TokenUsage, servedTier: Tier?, servedTierReported: String) {
        self.usage = usage
        self.servedTier = servedTier
        self.servedTierReported = servedTierReported
    }
}

/// What one upstream event means for the race and for the caller.
public enum EventDisposition: Hashable, Sendable {
    /// Sent before the request started (e.g. `response.created`, a role-only chunk, `ping`). Held
    /// back until the attempt commits; dropped if it is abandoned.
    case preamble
    /// The first output event: the attempt has started (and will be billed).
    case started
    /// More output after the start.
    case content
    /// The provider's final event: the answer is complete (usage and tier are known now).
    ///
    /// A terminal event that comes before any ``started`` one is the start as well: the provider
    /// answered in one event (a short Gemini answer is one chunk carrying text, `finishReason` and
    /// usage), or its answer is empty or blocked (a Gemini `promptFeedback.blockReason`, an Anthropic
    /// message with no content block). The driver commits to the attempt, forwards what it held, and
    /// finishes; trying another tier would be billed again for the same answer.
    case terminal
    /// An event the caller must not see (e.g. a usage-only chunk the caller did not ask for). Still
    /// read for usage.
    case internalOnly
    /// The provider reported an error inside the stream: before the start it is classified like an
    /// HTTP error (capacity, retryable, caller's fault); after it, it fails the committed call.
    case error(RaceStateMachine.AttemptFailure)
}

/// Reads one streamed attempt, event by event.
public protocol StreamReader: Sendable {
    /// Classifies `event` and records what it says (content, usage, tier).
    mutating func consume(_ event: NativeEvent) -> EventDisposition

    /// Usage and served tier, once the terminal event was seen (or as far as known).
    var result: UpstreamResult? { get }

    /// The non-streaming JSON body the provider would have returned for this answer, assembled from
    /// the events consumed so far. Only valid after the terminal event.
    func assembleResponse() throws(RouterError) -> ByteBuffer

    /// How many of the events consumed so far carried output (text, a refusal, thinking, tool-call
    /// arguments): what flexd counts output tokens from, one per event, when the provider's usage
    /// never arrives (the FlexRouter documentation, *Savings*, "Estimated tokens").
    var outputEvents: Int { get }

    /// The attempt is committed to a caller that streams the provider's events: from now on
    /// ``consume(_:)`` is asked only for what the rules read (the disposition, usage and tier,
    /// ``outputEvents``), never for ``assembleResponse()``. The reader may drop what it kept of
    /// the answer and read less of each event (the FlexRouter documentation, *Relayed events*).
    mutating func relayOnly()
}

extension StreamReader {
    public var outputEvents: Int { 0 }

    /// Reads every event in full, as before the commit.
    public mutating func relayOnly() {}
}
