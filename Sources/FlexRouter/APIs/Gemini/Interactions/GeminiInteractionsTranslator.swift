internal import FlexCore
internal import FlexJSON

/// Typed requests ↔ Gemini Interactions (API revision 2026-05-20: steps).
///
/// - Leading system and developer messages → `system_instruction` (one string; several texts are
///   joined with a blank line; later ones are `unsupported_for_provider`). The conversation →
///   `input` steps: `user_input` with `content` (`text`, `image` with `data` or `uri`,
///   `mime_type`, `resolution` for a low or high detail), `model_output` with the assistant's
///   text, a `function_call` step (`id`, `name`, `arguments`) per assistant call, a
///   `function_result` step (`call_id`, `name` when known, `result`: the text, or content items
///   when it has images) per tool result.
/// - Tools → `{"type":"function","name","description","parameters"}`; tool choice →
///   `generation_config.tool_choice` (`auto`, `none`, `any`, named:
///   `{"allowed_tools":{"mode":"any","tools":[name]}}`; a strict tool makes `auto` `validated`);
///   `generation_config`: `temperature`, `top_p`, `max_output_tokens`, `stop_sequences`, `seed`,
///   `thinking_level` and `thinking_summaries: auto` (``ReasoningMapping``: Interactions has only
///   levels); JSON output → `response_format` `{"type":"text","mime_type":"application/json","schema"}`.
/// - Not expressible: metadata, parallel calls off, participant names.
struct GeminiInteractionsTranslator: TypedTranslator {
    var api: Api { .interactions }

    func body(for request: TypedRequest, streaming: Bool) throws(RouterError) -> JSONObject {
        let chat = request.chat
        if let key = chat.metadata.keys.sorted().first {
            throw RouterError.unsupportedForProvider(
                "chat.metadata.\(key)",
                api: self.api,
                "the Gemini API has no request metadata"
            )
        }
        try GeminiTyped.refuseSerialToolCalls(request)
        try request.refuseParticipantNames()
        let seed = try GeminiTyped.seed(request)
        let (instructions, turns) = try request.leadingInstructions()

        var body: JSONObject = ["model": .string(request.model)]
        var input: [JSONValue] = []
        for message in turns { input.append(contentsOf: try Self.steps(message, request)) }
        body["input"] = .array(input)
        if !instructions.isEmpty {
            body["system_instruction"] = .string(instructions.flatMap(\.texts).joined(separator: "\n\n"))
        }
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    var object: JSONObject = ["type": "function", "name": .string(tool.name)]
                    if !tool.description.isEmpty { object["description"] = .string(tool.description) }
                    object["parameters"] = tool.parameters
                    return .object(object)
                }
            )
        }

        var generation = JSONObject()
        if let temperature = chat.temperature { generation["temperature"] = .double(temperature) }
        if let topP = chat.topP { generation["top_p"] = .double(topP) }
        if let maximum = chat.maxOutputTokens { generation["max_output_tokens"] = .int(Int64(maximum)) }
        if !chat.stop.isEmpty { generation["stop_sequences"] = .array(chat.stop.map { .string($0) }) }
        if let seed { generation["seed"] = .int(seed) }
        if let effort = chat.reasoningEffort {
            generation["thinking_level"] = .string(ReasoningMapping.geminiLevel(effort))
            if effort != .none { generation["thinking_summaries"] = "auto" }
        }
        switch GeminiTyped.mode(request) {
        case .auto?: generation["tool_choice"] = "auto"
        case .none?: generation["tool_choice"] = "none"
        case .validated?: generation["tool_choice"] = "validated"
        case .any?:
            if let choice = request.effectiveToolChoice, choice.mode == .named {
                generation["tool_choice"] = ["allowed_tools": ["mode": "any", "tools": [.string(choice.name)]]]
            } else {
                generation["tool_choice"] = "any"
            }
        case nil:
            break
        }
        if !generation.isEmpty { body["generation_config"] = .object(generation) }
        switch chat.responseFormat?.type {
        case .jsonObject?:
            body["response_format"] = ["type": "text", "mime_type": "application/json"]
        case .jsonSchema?:
            body["response_format"] = [
                "type": "text", "mime_type": "application/json", "schema": request.responseSchema ?? [:],
            ]
        case .text?, nil:
            break
        }
        return body
    }

    private static func steps(
        _ message: TypedRequest.Message,
        _ request: TypedRequest
    ) throws(RouterError) -> [JSONValue] {
        switch message.role {
        case .assistant:
            var steps: [JSONValue] = []
            if !message.parts.isEmpty {
                steps.append([
                    "type": "model_output",
                    "content": .array(message.texts.map { ["type": "text", "text": .string($0)] }),
                ])
            }
            for call in message.toolCalls {
                steps.append([
                    "type": "function_call", "id": .string(call.id), "name": .string(call.name),
                    "arguments": .object(call.arguments),
                ])
            }
            return steps
        case .tool:
            var step: JSONObject = ["type": "function_result", "call_id": .string(message.toolCallID)]
            if let name = request.toolName(of: message) { step["name"] = .string(name) }
            step["result"] =
                message.images.isEmpty ? .string(message.texts.joined()) : .array(message.parts.map(Self.content))
            return [.object(step)]
        case .user, .system, .developer:
            return [["type": "user_input", "content": .array(message.parts.map(Self.content))]]
        }
    }

    private static func content(_ part: TypedRequest.Part) -> JSONValue {
        switch part {
        case .text(let text):
            return ["type": "text", "text": .string(text)]
        case .image(let image):
            var object: JSONObject = ["type": "image"]
            switch image.source {
            case .inline(_, let base64): object["data"] = .string(base64)
            case .url(let url): object["uri"] = .string(url)
            }
            if !image.mediaType.isEmpty { object["mime_type"] = .string(image.mediaType) }
            switch image.detail {
            case .low: object["resolution"] = "low"
            case .high: object["resolution"] = "high"
            case .auto: break
            }
            return .object(object)
        }
    }

    // MARK: Answers

    func result(of answer: JSONObject) -> ChatResult {
        var result = ChatResult(id: answer["id"]?.string ?? "", model: answer["model"]?.string ?? "")
        var steps = answer["steps"]?.array ?? []
        // Only what the model produced this turn: the steps after the last input step, should the
        // interaction echo its input.
        if let lastInput = steps.lastIndex(where: {
            ["user_input", "function_result"].contains($0["type"]?.string ?? "")
        }) {
            steps = Array(steps[(lastInput + 1)...])
        }
        var thoughts: [String] = []
        for step in steps {
            switch step["type"]?.string {
            case "model_output":
                for item in step["content"]?.array ?? [] where item["type"]?.string == "text" {
                    result.text += item["text"]?.string ?? ""
                }
            case "thought":
                let text = (step["summary"]?.array ?? []).reduce(into: "") { text, item in
                    text += item["text"]?.string ?? ""
                }
                if !text.isEmpty { thoughts.append(text) }
            case "function_call":
                result.toolCalls.append(
                    ToolCall(
                        id: step["id"]?.string ?? "",
                        name: step["name"]?.string ?? "",
                        argumentsJSON: (step["arguments"] ?? [:]).jsonString
                    )
                )
            default:
                break
            }
        }
        result.reasoningSummary = thoughts.joined(separator: "\n\n")
        result.nativeFinishReason = answer["status"]?.string ?? ""
        result.finishReason = Self.finishReason(result.nativeFinishReason, calledTools: !result.toolCalls.isEmpty)
        if let usage = answer["usage"]?.object { result.usage = GeminiInteractionsAdapter.usage(usage) }
        return result
    }

    /// An interaction has a status: `completed` → stop (tool calls if it called functions),
    /// `requires_action` → tool calls, `incomplete` → length (the output limit is what leaves a
    /// model interaction incomplete), `failed`/`cancelled`/anything else → other.
    static func finishReason(_ status: String, calledTools: Bool) -> FinishReason? {
        switch status {
        case "", "in_progress": nil
        case "completed": calledTools ? .toolCalls : .stop
        case "requires_action": .toolCalls
        case "incomplete": .length
        default: .other
        }
    }

    func makeStreamTranslator() -> any TypedStreamTranslator { Stream() }
}
