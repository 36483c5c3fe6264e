internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension OpenAIChatAdapter {
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
        private(set) var outputEvents = 0
        /// Committed to a streaming caller (``relayOnly()``): the choices are probed, not built.
        private var relaying = false

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

        /// What a relayed chunk is read for: the members the rules read, and whether its choices
        /// carry output (text, a refusal, tool calls) or are there at all.
        private static let relayKeys = ["error", "service_tier", "usage"]
        private static let relayProbes = [
            JSONProbe(.member("choices"), .anyElement, .member("delta"), .member("content"), matching: .nonEmptyString),
            JSONProbe(.member("choices"), .anyElement, .member("delta"), .member("refusal"), matching: .nonEmptyString),
            JSONProbe(
                .member("choices"),
                .anyElement,
                .member("delta"),
                .member("tool_calls"),
                matching: .nonEmptyArray
            ),
            JSONProbe(.member("choices"), matching: .nonEmptyArray),
        ]

        init(forwardUsageChunk: Bool, flex: Bool) {
            self.forwardUsageChunk = forwardUsageChunk
            self.flex = flex
        }

        mutating func relayOnly() {
            self.relaying = true
            self.head = [:]
            self.choices = [:]
        }

        mutating func consume(_ event: NativeEvent) -> EventDisposition {
            if event.data.readableBytesView.elementsEqual("[DONE]".utf8) {
                self.done = true
                return .terminal
            }
            if self.relaying { return self.relay(event) }
            // Each chunk repeats the answer's id, model, creation time and fingerprint: they are
            // built from the first chunk only, and checked but not built in the others.
            let keys = self.head.isEmpty ? Self.firstChunkKeys : Self.chunkKeys
            guard let object = try? JSONParser.parseObject(event.data.readableBytesView, keeping: keys) else {
                return .error(.retryable(NativeBody.malformedEvent(.openAI, event), beforeAnyByte: false))
            }
            if let error = object["error"] { return self.failure(error) }
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
                // Taken out of the dictionary while it grows, so its strings are appended in place
                // (a copy would make every chunk copy the whole text so far).
                var choice = self.choices.removeValue(forKey: index) ?? Choice()
                if let delta = choiceJSON["delta"]?.object {
                    if let role = delta["role"]?.string { choice.role = role }
                    if let text = delta["content"]?.string {
                        Self.append(text, to: &choice.content)
                        if !text.isEmpty { output = true }
                    }
                    if let refusal = delta["refusal"]?.string {
                        Self.append(refusal, to: &choice.refusal)
                        if !refusal.isEmpty { output = true }
                    }
                    for callJSON in delta["tool_calls"]?.array ?? [] {
                        let callIndex = Int(callJSON["index"]?.int ?? 0)
                        var call = choice.toolCalls.removeValue(forKey: callIndex) ?? ToolCall()
                        if let id = callJSON["id"]?.string { call.id = id }
                        if let type = callJSON["type"]?.string { call.type = type }
                        if let name = callJSON["function"]?["name"]?.string { call.name += name }
                        if let arguments = callJSON["function"]?["arguments"]?.string { call.arguments += arguments }
                        choice.toolCalls[callIndex] = call
                        output = true
                    }
                }
                if let finish = choiceJSON["finish_reason"], !finish.isNull { choice.finishReason = finish }
                if let logprobs = choiceJSON["logprobs"], !logprobs.isNull {
                    choice.logprobs = Self.merge(choice.logprobs, logprobs)
                }
                self.choices[index] = choice
            }

            if output { self.outputEvents += 1 }
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

        /// A chunk after the commit to a streaming caller: the same dispositions and counts as
        /// ``consume(_:)`` for a well-formed chunk, without building its choices.
        private mutating func relay(_ event: NativeEvent) -> EventDisposition {
            guard let (object, found) = NativeBody.relayed(event, keeping: Self.relayKeys, probing: Self.relayProbes)
            else {
                return .error(.retryable(NativeBody.malformedEvent(.openAI, event), beforeAnyByte: false))
            }
            if let error = object["error"] { return self.failure(error) }
            if let tier = object["service_tier"]?.string { self.reportedTier = tier }
            if let usage = object["usage"], !usage.isNull { self.usageJSON = usage }
            if found[0] || found[1] || found[2] { self.outputEvents += 1 }
            if !found[3] && self.usageJSON != nil && !self.forwardUsageChunk { return .internalOnly }
            return .content
        }

        private func failure(_ error: JSONValue) -> EventDisposition {
            let type = error["type"]?.string ?? ""
            let code = error["code"]?.string ?? ""
            return .error(
                UpstreamFailure.classifyStreamError(
                    provider: .openAI,
                    type: type,
                    code: code,
                    message: error["message"]?.string ?? "",
                    impliedStatus: UpstreamFailure.openAIImpliedStatus(type: type, code: code),
                    flex: self.flex
                )
            )
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
                    message["tool_calls"] = .array(
                        choice.toolCalls.keys.sorted().map { key in
                            let call = choice.toolCalls[key]!
                            return .object([
                                "id": .string(call.id),
                                "type": .string(call.type),
                                "function": .object(["name": .string(call.name), "arguments": .string(call.arguments)]),
                            ])
                        }
                    )
                }
                message["annotations"] = .array([])
                choices.append(
                    .object([
                        "index": .int(Int64(index)),
                        "message": .object(message),
                        "logprobs": choice.logprobs,
                        "finish_reason": choice.finishReason,
                    ])
                )
            }
            response["choices"] = .array(choices)
            if let usage = self.usageJSON { response["usage"] = usage }
            if !self.reportedTier.isEmpty { response["service_tier"] = .string(self.reportedTier) }
            if let fingerprint = self.head["system_fingerprint"] { response["system_fingerprint"] = fingerprint }
            return NativeBody.encode(response)
        }

        private static func append(_ text: String, to string: inout String?) {
            if string == nil {
                string = text
            } else {
                string!.append(text)
            }
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
