internal import FlexCore
internal import FlexJSON

/// Typed requests ↔ Anthropic Messages.
///
/// - Leading system and developer messages → `system` (a string for one text, else text blocks);
///   Anthropic has one system prompt, so an instruction later in the conversation is
///   `unsupported_for_provider`. User and assistant messages → `messages` (a string for one text,
///   else blocks: `text`, `image` with a `base64` or `url` source, `tool_use` with the arguments
///   as `input`). Consecutive tool results, and a user message right after them, become one user
///   message of `tool_result` blocks first (Anthropic wants every result of a parallel call in the
///   next user turn, before any other content).
/// - Tools → `{"name","description","input_schema"}` (`strict: true` when set); tool choice →
///   `{"type":"auto"|"none"|"any"}` or `{"type":"tool","name"}`; parallel calls off →
///   `disable_parallel_tool_use`; JSON schema output → `output_config.format`
///   (`{"type":"json_schema","schema"}`, always enforced); stop → `stop_sequences`; reasoning
///   effort → `thinking` (and `output_config.effort` on adaptive models, ``ReasoningMapping``);
///   metadata key `user_id` → `metadata.user_id`.
/// - `max_tokens` is required: the typed `max_output_tokens`, else 4096 plus the thinking room of
///   the reasoning effort.
/// - Not expressible: `seed`, JSON mode without a schema, metadata keys other than `user_id`,
///   image `detail`, participant names.
struct AnthropicMessagesTranslator: TypedTranslator {
    var api: Api { .messages }

    /// `max_tokens` when the typed request has no maximum (before the thinking room).
    static let defaultMaxTokens = 4096

    func body(for request: TypedRequest, streaming: Bool) throws(RouterError) -> JSONObject {
        let chat = request.chat
        if chat.seed != nil {
            throw RouterError.unsupportedForProvider("chat.seed", api: self.api, "Anthropic has no seed")
        }
        if chat.responseFormat?.type == .jsonObject {
            throw RouterError.unsupportedForProvider(
                "chat.response_format.type",
                api: self.api,
                "Anthropic has no JSON mode without a schema; send a JSON schema"
            )
        }
        if let key = chat.metadata.keys.sorted().first(where: { $0 != "user_id" }) {
            throw RouterError.unsupportedForProvider(
                "chat.metadata.\(key)",
                api: self.api,
                "Anthropic's metadata has only user_id"
            )
        }
        try request.refuseParticipantNames()
        try request.refuseImageDetail()
        let (instructions, turns) = try request.leadingInstructions()

        var body: JSONObject = ["model": .string(request.model)]
        let thinking = chat.reasoningEffort.map { ReasoningMapping.anthropic($0, model: request.model) }
        let room = chat.reasoningEffort.map(ReasoningMapping.anthropicBudget) ?? 0
        let maxTokens = chat.maxOutputTokens.map(Int.init) ?? Self.defaultMaxTokens + room
        if case .budget(let budget)? = thinking, budget >= maxTokens {
            throw RouterError.unsupportedForProvider(
                "chat.reasoning_effort",
                api: self.api,
                "this model thinks on a budget of \(budget) tokens for that effort, which must be less than max_output_tokens (\(maxTokens)); raise max_output_tokens or lower the effort"
            )
        }
        body["max_tokens"] = .int(Int64(maxTokens))
        if !instructions.isEmpty {
            if instructions.count == 1, let text = instructions[0].singleText {
                body["system"] = .string(text)
            } else {
                body["system"] = .array(instructions.flatMap(\.texts).map { ["type": "text", "text": .string($0)] })
            }
        }
        var messages: [JSONValue] = []
        for group in TypedRequest.groups(turns) { messages.append(Self.message(group)) }
        body["messages"] = .array(messages)
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    var object: JSONObject = ["name": .string(tool.name)]
                    if !tool.description.isEmpty { object["description"] = .string(tool.description) }
                    object["input_schema"] = tool.parameters
                    if tool.strict { object["strict"] = true }
                    return .object(object)
                }
            )
        }
        if let choice = Self.toolChoice(request) { body["tool_choice"] = .object(choice) }
        if let temperature = chat.temperature { body["temperature"] = .double(temperature) }
        if let topP = chat.topP { body["top_p"] = .double(topP) }
        if !chat.stop.isEmpty { body["stop_sequences"] = .array(chat.stop.map { .string($0) }) }
        if let user = chat.metadata["user_id"] { body["metadata"] = ["user_id": .string(user)] }
        var outputConfig = JSONObject()
        switch thinking {
        case .disabled?: body["thinking"] = ["type": "disabled"]
        case .budget(let budget)?: body["thinking"] = ["type": "enabled", "budget_tokens": .int(Int64(budget))]
        case .adaptive(let effort)?:
            body["thinking"] = ["type": "adaptive"]
            outputConfig["effort"] = .string(effort)
        case nil: break
        }
        if chat.responseFormat?.type == .jsonSchema, let schema = request.responseSchema {
            outputConfig["format"] = ["type": "json_schema", "schema": schema]
        }
        if !outputConfig.isEmpty { body["output_config"] = .object(outputConfig) }
        return body
    }

    private static func toolChoice(_ request: TypedRequest) -> JSONObject? {
        let serial = request.effectiveParallelToolCalls == false
        var choice: JSONObject
        switch request.effectiveToolChoice?.mode {
        case nil:
            guard serial else { return nil }
            choice = ["type": "auto"]
        case .auto?: choice = ["type": "auto"]
        case .none?: return ["type": "none"]
        case .required?: choice = ["type": "any"]
        case .named?: choice = ["type": "tool", "name": .string(request.effectiveToolChoice?.name ?? "")]
        }
        if serial { choice["disable_parallel_tool_use"] = true }
        return choice
    }

    /// One Anthropic message for a group (one message, or tool results and the user message after).
    private static func message(_ group: [TypedRequest.Message]) -> JSONValue {
        guard let first = group.first else { return [:] }
        switch first.role {
        case .assistant:
            if first.toolCalls.isEmpty, let text = first.singleText {
                return ["role": "assistant", "content": .string(text)]
            }
            var blocks: [JSONValue] = first.texts.map { ["type": "text", "text": .string($0)] }
            for call in first.toolCalls {
                blocks.append([
                    "type": "tool_use", "id": .string(call.id), "name": .string(call.name),
                    "input": .object(call.arguments),
                ])
            }
            return ["role": "assistant", "content": .array(blocks)]
        case .user where group.count == 1:
            if let text = first.singleText { return ["role": "user", "content": .string(text)] }
            return ["role": "user", "content": .array(first.parts.map(Self.block))]
        default:
            var blocks: [JSONValue] = []
            for message in group {
                guard message.role == .tool else {
                    blocks.append(contentsOf: message.parts.map(Self.block))
                    continue
                }
                var result: JSONObject = ["type": "tool_result", "tool_use_id": .string(message.toolCallID)]
                if let text = message.singleText {
                    result["content"] = .string(text)
                } else if !message.parts.isEmpty {
                    result["content"] = .array(message.parts.map(Self.block))
                }
                blocks.append(.object(result))
            }
            return ["role": "user", "content": .array(blocks)]
        }
    }

    private static func block(_ part: TypedRequest.Part) -> JSONValue {
        switch part {
        case .text(let text):
            return ["type": "text", "text": .string(text)]
        case .image(let image):
            switch image.source {
            case .inline(let mediaType, let base64):
                return [
                    "type": "image",
                    "source": ["type": "base64", "media_type": .string(mediaType), "data": .string(base64)],
                ]
            case .url(let url):
                return ["type": "image", "source": ["type": "url", "url": .string(url)]]
            }
        }
    }

    // MARK: Answers

    func result(of answer: JSONObject) -> ChatResult {
        var result = ChatResult(id: answer["id"]?.string ?? "", model: answer["model"]?.string ?? "")
        var thoughts: [String] = []
        for block in answer["content"]?.array ?? [] {
            switch block["type"]?.string {
            case "text":
                result.text += block["text"]?.string ?? ""
            case "tool_use":
                result.toolCalls.append(
                    ToolCall(
                        id: block["id"]?.string ?? "",
                        name: block["name"]?.string ?? "",
                        argumentsJSON: (block["input"] ?? [:]).jsonString
                    )
                )
            case "thinking":
                if let text = block["thinking"]?.string, !text.isEmpty { thoughts.append(text) }
            default:
                break
            }
        }
        result.reasoningSummary = thoughts.joined(separator: "\n\n")
        result.nativeFinishReason = answer["stop_reason"]?.string ?? ""
        result.finishReason = Self.finishReason(result.nativeFinishReason)
        if let usage = answer["usage"]?.object { result.usage = AnthropicMessagesAdapter.usage(usage) }
        return result
    }

    /// `end_turn` and `stop_sequence` → stop; `max_tokens` and `model_context_window_exceeded` →
    /// length; `tool_use` → tool calls; `refusal` → refusal; anything else (`pause_turn`, ...) →
    /// other.
    static func finishReason(_ native: String) -> FinishReason? {
        switch native {
        case "": nil
        case "end_turn", "stop_sequence": .stop
        case "max_tokens", "model_context_window_exceeded": .length
        case "tool_use": .toolCalls
        case "refusal": .refusal
        default: .other
        }
    }

    func makeStreamTranslator() -> any TypedStreamTranslator { Stream() }
}
