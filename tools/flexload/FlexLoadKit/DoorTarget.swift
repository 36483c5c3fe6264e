internal import FlexCodec
internal import FlexHTTP
internal import FlexJSON
internal import FlexRouter
internal import NIOCore

/// Sends the calls to flexd's HTTP door as the providers' SDKs would: the provider's JSON body
/// (no tier field) to the provider's path under the door, the provider key in the provider's
/// header, and the call's `start_within` and request id in flexd's headers.
///
/// The door is reached through the same FlexHTTP client ``DirectTarget`` uses, so the door and
/// direct sides differ only in what answers: flexd's door and router, or the provider itself.
///
/// | API | path under the door |
/// |---|---|
/// | Chat Completions | `/openai/v1/chat/completions` |
/// | Responses | `/openai/v1/responses` |
/// | Messages | `/anthropic/v1/messages` |
/// | generateContent | `/gemini/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse` |
/// | Interactions | `/gemini/v1beta/interactions` |
///
/// A native body goes as it is when unstreamed; a streamed call asks to stream where its API
/// asks in the body (`stream: true`, and Chat Completions' `stream_options.include_usage`, as
/// flexd's adapters ask flexsim); a typed call goes as the router's typed translation. The door's
/// savings record (`flexd-savings`) is not read, so a report on this target has no tiers or savings.
public final class DoorTarget: LoadTarget {
    public let name = "flexd-http"
    private let http: HTTPCallClient
    private let root: String
    private let apiKey: String

    /// - Parameters:
    ///   - root: The door's URL (`http://127.0.0.1:7402`); the providers' paths live under it.
    ///   - apiKey: The tenant's flexd API key (`flexd-api-key`); empty for a flexd without a keys file.
    ///   - timeout: Each call's response-head timeout.
    public init(root: String, apiKey: String = "", timeout: Duration) throws {
        self.http = try HTTPCallClient(timeout: timeout)
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
        self.apiKey = apiKey
    }

    public func send(_ call: PlannedCall, intended: ContinuousClock.Instant) async -> CallResult {
        guard let api = call.request.api else {
            return CallResult(ok: false, errorCode: "door_unsupported_call", latency: .now - intended)
        }
        let body: ByteBuffer
        do {
            body = try Self.body(call, api: api)
        } catch {
            return CallResult(ok: false, errorCode: error.code, latency: .now - intended)
        }
        return await self.http.post(
            self.root + Self.path(api, model: call.request.model, stream: call.stream),
            headers: Self.headers(call, api: api, apiKey: self.apiKey),
            body: body,
            stream: call.stream,
            intended: intended
        )
    }

    public func close() async {
        await self.http.shutdown()
    }

    /// The door's path for a call of `api`: the provider's URL layout under the provider's prefix.
    static func path(_ api: Api, model: String, stream: Bool) -> String {
        switch api {
        case .chatCompletions:
            return "/openai/v1/chat/completions"
        case .responses:
            return "/openai/v1/responses"
        case .messages:
            return "/anthropic/v1/messages"
        case .generateContent:
            let id = model.hasPrefix("models/") ? String(model.dropFirst("models/".count)) : model
            return "/gemini/v1beta/models/\(id):" + (stream ? "streamGenerateContent?alt=sse" : "generateContent")
        case .interactions:
            return "/gemini/v1beta/interactions"
        }
    }

    /// The provider's headers as its SDK sends them, and flexd's own.
    static func headers(_ call: PlannedCall, api: Api, apiKey: String) -> HTTPHeaders {
        var headers = HTTPHeaders()
        let key = call.request.providerKey.value
        switch api.provider {
        case .openAI:
            headers.add(name: "authorization", value: "Bearer \(key)")
        case .anthropic:
            headers.add(name: "x-api-key", value: key)
            headers.add(name: "anthropic-version", value: AnthropicMessagesAdapter.apiVersion)
        case .gemini:
            headers.add(name: "x-goog-api-key", value: key)
        }
        if api == .interactions {
            headers.add(name: "api-revision", value: GeminiInteractionsAdapter.apiRevision)
        }
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: call.stream ? "text/event-stream" : "application/json")
        if !call.request.startWithin.isEmpty {
            headers.add(name: "flexd-start-within", value: call.request.startWithin)
        }
        headers.add(name: "flexd-request-id", value: call.request.requestID)
        if !apiKey.isEmpty {
            headers.add(name: "flexd-api-key", value: apiKey, isSensitive: true)
        }
        return headers
    }

    /// The body an SDK sends: an unstreamed native body (or any generateContent body, whose path
    /// says whether it streams) as given; otherwise the API's JSON object, asking to stream if the
    /// call streams.
    static func body(_ call: PlannedCall, api: Api) throws(PlannedCall.BodyFailure) -> ByteBuffer {
        if case .nativeJSON(let bytes)? = call.request.body, !call.stream || api == .generateContent {
            return bytes
        }
        var object = try call.nativeObject(api: api)
        if call.stream {
            Self.askToStream(&object, api: api)
        }
        var buffer = ByteBuffer()
        JSONValue.object(object).write(into: &buffer)
        return buffer
    }

    /// What flexd's adapters add to a streamed attempt's body, as an SDK adds it for a stream.
    static func askToStream(_ object: inout JSONObject, api: Api) {
        switch api {
        case .chatCompletions:
            object["stream"] = true
            var options = object["stream_options"]?.object ?? JSONObject()
            options["include_usage"] = true
            object["stream_options"] = .object(options)
        case .responses, .messages, .interactions:
            object["stream"] = true
        case .generateContent:
            break
        }
    }
}
