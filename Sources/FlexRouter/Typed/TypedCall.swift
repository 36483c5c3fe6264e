public import FlexCore
public import FlexJSON
internal import NIOCore
internal import Synchronization

/// The seam between the ``Router`` and the typed layer. The router calls it at three points and
/// nothing else about a typed call differs from a native one:
///
/// 1. ``nativeBody(_:api:model:streaming:)`` in `prepare`: the typed request becomes the API's
///    native JSON body, which then goes through the same adapter, race and billing as a caller's
///    own JSON.
/// 2. `response(to:answer:record:)` after a unary call: the native answer becomes a
///    `ChatResult`. The response carries only the typed result (`native_json` stays empty): a
///    typed caller asked not to parse provider JSON, and sending both would double the frame.
/// 3. `emitter(for:_:)` for a streaming call: the `route` event passes through, and each native
///    event the router would forward becomes the typed events it means.
///
/// Only the first is public: it lets a tool (flexload's direct baseline) send a provider exactly
/// the JSON flexd would send for a typed request.
public enum TypedCall {
    static func translator(for api: Api) -> any TypedTranslator {
        switch api {
        case .chatCompletions: OpenAIChatTranslator()
        case .responses: OpenAIResponsesTranslator()
        case .messages: AnthropicMessagesTranslator()
        case .generateContent: GeminiGenerateContentTranslator()
        case .interactions: GeminiInteractionsTranslator()
        }
    }

    /// The native JSON body for a typed request.
    ///
    /// - Throws: ``RouterError`` `invalid_chat_request` or `unsupported_for_provider`, naming the field.
    public static func nativeBody(
        _ chat: ChatRequest,
        api: Api,
        model: String,
        streaming: Bool
    ) throws(RouterError) -> JSONObject {
        let request = try TypedRequest(chat, api: api, model: model)
        return try Self.translator(for: api).body(for: request, streaming: streaming)
    }

    /// The API of a typed request; nil for a native one.
    static func api(of request: InferenceRequest) -> Api? {
        guard case .chat = request.body else { return nil }
        return request.api
    }

    /// The response to a unary call: the native answer for a native call (`api` nil), the typed
    /// result for a typed one.
    @inline(never)
    static func response(
        typed api: Api?,
        answer: (ByteBuffer?, SavingsRecord)
    ) throws(CallFailure) -> (InferenceResponse, SavingsRecord) {
        let (body, record) = answer
        guard let api else {
            return (InferenceResponse(requestID: record.requestID, nativeJSON: body), record)
        }
        guard let body, let json = try? JSONParser.parse(body.readableBytesView), let object = json.object else {
            throw RouterError.untranslatableAnswer(api, "a body that is not a JSON object").failure(savings: record)
        }
        return (
            InferenceResponse(requestID: record.requestID, chat: Self.translator(for: api).result(of: object)), record
        )
    }

    /// For a typed streaming call, an `emit` that translates native events; for a native call,
    /// `emit` itself.
    static func emitter(for request: InferenceRequest, _ emit: @escaping EventSink) -> EventSink {
        guard let api = Self.api(of: request) else { return emit }
        let stream = TypedStream(Self.translator(for: api).makeStreamTranslator())
        return { event in
            guard case .native(let native) = event else {
                try await emit(event)
                return
            }
            for typed in stream.translate(native) { try await emit(typed) }
        }
    }
}

/// One streamed answer's translator, shared by the `emit` closure the router calls (one event at
/// a time, from the call's task).
final class TypedStream: Sendable {
    private let translator: Mutex<any TypedStreamTranslator>

    init(_ translator: any TypedStreamTranslator) {
        self.translator = Mutex(translator)
    }

    func translate(_ event: NativeEvent) -> [StreamEvent] {
        self.translator.withLock { $0.translate(event) }
    }
}
