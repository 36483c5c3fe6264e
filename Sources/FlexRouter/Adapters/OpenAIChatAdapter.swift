public import FlexCodec
public import FlexJSON
public import NIOCore

/// OpenAI Chat Completions (`POST /chat/completions`).
///
/// - Tier field: `service_tier`: flex → `flex`, standard → `default`, priority → `priority`,
///   auto → `auto`. Served tier: `service_tier` in the body or in every chunk.
/// - Started: the first chunk whose delta carries `content` (non-empty), `refusal`, or
///   `tool_calls`; the role-only first chunk is preamble.
/// - Terminal: `data: [DONE]`. Usage comes in the chunk before it (the router always asks for
///   `stream_options.include_usage` when streaming; the caller sees that chunk only if it asked).
/// - Usage: `prompt_tokens` includes cached reads and cache writes; `completion_tokens` includes
///   reasoning.
public struct OpenAIChatAdapter: ProviderAdapter {
    public var api: Api { .chatCompletions }

    public init() {}

    public func makeRequest(body: JSONObject, model: String, tier: Tier, stream: Bool, key: Secret) throws(RouterError) -> UpstreamRequest {
        var body = try NativeBody.settingModel(body, model, api: self.api)
        body["service_tier"] = .string(OpenAITier.wireValue(tier))
        if stream {
            body["stream"] = true
            var options = body["stream_options"]?.object ?? JSONObject()
            options["include_usage"] = true
            body["stream_options"] = .object(options)
        } else if body["stream"] != nil {
            body["stream"] = false
        }
        return UpstreamRequest(
            path: "/chat/completions",
            headers: OpenAITier.headers(key: key, stream: stream),
            body: NativeBody.encode(body),
            stream: stream
        )
    }

    public func callerWantsStream(_ body: JSONObject) -> Bool {
        body["stream"]?.bool == true
    }

    public func makeStreamReader(for body: JSONObject, tier: Tier, headers: [(String, String)]) -> any StreamReader {
        Reader(forwardUsageChunk: body["stream_options"]?["include_usage"]?.bool == true, flex: tier == .flex)
    }

    public func readResponse(_ body: ByteBuffer, headers: [(String, String)]) throws(RouterError) -> UpstreamResult {
        let json = try NativeBody.parseAnswer(body, api: self.api, keeping: ["service_tier", "usage"])
        let reported = json["service_tier"]?.string ?? ""
        return UpstreamResult(
            usage: Self.usage(json["usage"]),
            servedTier: OpenAITier.served(reported),
            servedTierReported: reported
        )
    }

    public func classifyFailure(status: Int, headers: [(String, String)], body: ByteBuffer, flex: Bool) -> RaceStateMachine.AttemptFailure {
        UpstreamFailure.classify(provider: .openAI, status: status, headers: headers, body: body, flex: flex)
    }

    /// Chat usage → token classes.
    static func usage(_ usage: JSONValue?) -> TokenUsage {
        guard let usage, !usage.isNull else { return TokenUsage() }
        let prompt = NativeBody.count(usage["prompt_tokens"])
        let cached = NativeBody.count(usage["prompt_tokens_details"]?["cached_tokens"])
        let written = NativeBody.count(usage["prompt_tokens_details"]?["cache_write_tokens"])
        let completion = NativeBody.count(usage["completion_tokens"])
        let reasoning = NativeBody.count(usage["completion_tokens_details"]?["reasoning_tokens"])
        return TokenUsage(
            inputTokens: prompt.subtractingClamped(cached + written),
            cachedInputTokens: cached,
            cacheWriteTokens: written,
            outputTokens: completion,
            reasoningTokens: min(reasoning, completion)
        )
    }

    /// Reads `chat.completion.chunk`s and rebuilds the `chat.completion` they add up to.
    struct Reader: StreamReader {
        let forwardUsageChunk: Bool
        let flex: Bool
        private var started = false
        private var done = false
        private var head: JSONObject = [:]
        private var choices: [Int: Choice] = [:]
        private var usageJSON: JSONValue?
        private var reportedTier = ""

        struct Choice {
            var role = "assistant"
            var content: String?
            var refusal: String?
            var toolCalls: [Int: ToolCall] = [:]
            var finishReason: JSONValue = .null
            var logprobs: JSONValue = .null
        }

        struct ToolCall {
            var id = ""
            var type = "function"
            var name = ""
            var arguments = ""
        }

        /// The members of a chunk this reader reads: every chunk's, and the head's on the first.
        private static let chunkKeys = ["error", "service_tier", "usage", "choices"]
        private static let headKeys = ["id", "created", "model", "system_fingerprint"]
        private static let firstChunkKeys = Self.chunkKeys + Self.headKeys

        init(forwardUsageChunk: Bool, flex: Bool) {
            self.forwardUsageChunk = forwardUsageChunk
            self.flex = flex
        }

        mutating func consume(_ event: NativeEvent) -> EventDisposition {
            if event.data.readableBytesView.elementsEqual("[DONE]".utf8) {
                self.done = true
                return .terminal
            }
            // Each chunk repeats the answer's id, model, creation time and fingerprint: they are
            // built from the first chunk only, and checked but not built in the others.
            let keys = self.head.isEmpty ? Self.firstChunkKeys : Self.chunkKeys
            guard let object = try? JSONParser.parseObject(event.data.readableBytesView, keeping: keys) else {
                return .error(.retryable(NativeBody.malformedEvent(.openAI, event), beforeAnyByte: false))
            }
            if let error = object["error"] {
                let type = error["type"]?.string ?? "", code = error["code"]?.string ?? ""
                return .error(UpstreamFailure.classifyStreamError(
                    provider: .openAI, type: type, code: code, message: error["message"]?.string ?? "",
                    impliedStatus: UpstreamFailure.openAIImpliedStatus(type: type, code: code), flex: self.flex))
            }
            if self.head.isEmpty {
                for key in Self.headKeys {
                    if let value = object[key] { self.head[key] = value }
                }
            }
            if let tier = object["service_tier"]?.string { self.reportedTier = tier }
            if let usage = object["usage"], !usage.isNull { self.usageJSON = usage }

            var output = false
            for choiceJSON in object["choices"]?.array ?? [] {
                let index = Int(choiceJSON["index"]?.int ?? 0)
                var choice = self.choices[index] ?? Choice()
                if let delta = choiceJSON["delta"]?.object {
                    if let role = delta["role"]?.string { choice.role = role }
                    if let text = delta["content"]?.string {
                        choice.content = (choice.content ?? "") + text
                        if !text.isEmpty { output = true }
                    }
                    if let refusal = delta["refusal"]?.string {
                        choice.refusal = (choice.refusal ?? "") + refusal
                        if !refusal.isEmpty { output = true }
                    }
                    for callJSON in delta["tool_calls"]?.array ?? [] {
                        let callIndex = Int(callJSON["index"]?.int ?? 0)
                        var call = choice.toolCalls[callIndex] ?? ToolCall()
                        if let id = callJSON["id"]?.string { call.id = id }
                        if let type = callJSON["type"]?.string { call.type = type }
                        if let name = callJSON["function"]?["name"]?.string { call.name += name }
                        if let arguments = callJSON["function"]?["arguments"]?.string { call.arguments += arguments }
                        choice.toolCalls[callIndex] = call
                        output = true
                    }
                }
                if let finish = choiceJSON["finish_reason"], !finish.isNull { choice.finishReason = finish }
                if let logprobs = choiceJSON["logprobs"], !logprobs.isNull { choice.logprobs = Self.merge(choice.logprobs, logprobs) }
                self.choices[index] = choice
            }

            let usageOnly = (object["choices"]?.array?.isEmpty ?? true) && self.usageJSON != nil
            if usageOnly && !self.forwardUsageChunk { return .internalOnly }
            if !self.started {
                if output {
                    self.started = true
                    return .started
                }
                return .preamble
            }
            return .content
        }

        var result: UpstreamResult? {
            guard self.done || self.usageJSON != nil else { return nil }
            return UpstreamResult(
                usage: OpenAIChatAdapter.usage(self.usageJSON),
                servedTier: OpenAITier.served(self.reportedTier),
                servedTierReported: self.reportedTier
            )
        }

        func assembleResponse() throws(RouterError) -> ByteBuffer {
            var response: JSONObject = [:]
            response["id"] = self.head["id"] ?? .string("")
            response["object"] = "chat.completion"
            response["created"] = self.head["created"] ?? .int(0)
            response["model"] = self.head["model"] ?? .string("")
            var choices: [JSONValue] = []
            for index in self.choices.keys.sorted() {
                let choice = self.choices[index]!
                var message: JSONObject = [:]
                message["role"] = .string(choice.role)
                message["content"] = choice.content.map { .string($0) } ?? .null
                message["refusal"] = choice.refusal.map { .string($0) } ?? .null
                if !choice.toolCalls.isEmpty {
                    message["tool_calls"] = .array(choice.toolCalls.keys.sorted().map { key in
                        let call = choice.toolCalls[key]!
                        return .object([
                            "id": .string(call.id),
                            "type": .string(call.type),
                            "function": .object(["name": .string(call.name), "arguments": .string(call.arguments)]),
                        ])
                    })
                }
                message["annotations"] = .array([])
                choices.append(.object([
                    "index": .int(Int64(index)),
                    "message": .object(message),
                    "logprobs": choice.logprobs,
                    "finish_reason": choice.finishReason,
                ]))
            }
            response["choices"] = .array(choices)
            if let usage = self.usageJSON { response["usage"] = usage }
            if !self.reportedTier.isEmpty { response["service_tier"] = .string(self.reportedTier) }
            if let fingerprint = self.head["system_fingerprint"] { response["system_fingerprint"] = fingerprint }
            return NativeBody.encode(response)
        }

        /// Log-probabilities arrive per chunk as `{"content": [...]}`; the answer holds them all.
        static func merge(_ old: JSONValue, _ new: JSONValue) -> JSONValue {
            guard case .object(var merged) = old else { return new }
            for key in ["content", "refusal"] {
                if let more = new[key]?.array {
                    merged[key] = .array((merged[key]?.array ?? []) + more)
                }
            }
            return .object(merged)
        }
    }
}

/// OpenAI's spelling of tiers, shared by Chat Completions and Responses.
enum OpenAITier {
    static func wireValue(_ tier: Tier) -> String {
        switch tier {
        case .flex: "flex"
        case .standard: "default"
        case .priority: "priority"
        case .auto: "auto"
        }
    }

    /// The served tier as reported (`fast` is the 2026 name of `priority`; `scale` bills as standard).
    static func served(_ reported: String) -> Tier? {
        switch reported {
        case "flex": .flex
        case "default", "scale": .standard
        case "priority", "fast": .priority
        default: nil
        }
    }

    static func headers(key: Secret, stream: Bool) -> [(String, String)] {
        [
            ("authorization", "Bearer \(key.value)"),
            ("content-type", "application/json"),
            ("accept", stream ? "text/event-stream" : "application/json"),
        ]
    }
}
