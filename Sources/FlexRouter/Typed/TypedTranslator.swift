internal import FlexCore
internal import FlexJSON

/// Translates typed requests and answers to and from one provider API's native JSON.
///
/// The typed layer sits on top of the native adapters: a typed request becomes the native body the
/// adapter then sends like any caller's JSON (so the race, the start rule and the billing are
/// those of native calls), and the native answer, or the native events as the adapter lets them
/// through, become the typed result or typed events. A translator is pure: no I/O, no state
/// beyond one stream's.
protocol TypedTranslator: Sendable {
    var api: Api { get }

    /// The native request body.
    ///
    /// - Parameter streaming: The caller streams (Chat Completions then asks for usage in the
    ///   stream, so that the typed finish event can carry it).
    /// - Throws: `unsupported_for_provider` for a field the API cannot express.
    func body(for request: TypedRequest, streaming: Bool) throws(RouterError) -> JSONObject

    /// The typed result of a complete native answer (the provider's non-streamed JSON, or the
    /// adapter's reassembly of a streamed one).
    func result(of answer: JSONObject) -> ChatResult

    /// A fresh translator for one streamed answer.
    func makeStreamTranslator() -> any TypedStreamTranslator
}

/// Turns one streamed answer's native events, in order, into typed events.
///
/// It sees exactly the events the router forwards to a native streaming caller (preamble,
/// content, terminal), so it never decides anything about the race; it emits
/// ``StreamEvent/finish(_:)`` once, at the provider's terminal event, and nothing for an answer
/// that is cut (the router then fails the call). Provider data it does not understand is skipped,
/// never a crash.
protocol TypedStreamTranslator: Sendable {
    mutating func translate(_ event: NativeEvent) -> [StreamEvent]
}
