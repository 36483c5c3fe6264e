internal import FlexCore
internal import FlexJSON

/// Typed requests ↔ OpenAI Responses.
///
/// - Messages become `input` items in order: `{"type":"message","role",...}` for system,
///   developer, user (text as a string or `input_text`/`input_image` parts, `detail` always sent)
///   and assistant text (one string: assistant input takes no `input_text`), a `function_call`
///   item per assistant tool call, a `function_call_output` per tool result (text, or
///   `input_text`/`input_image` parts when it has images).
/// - Tools → `{"type":"function","name","description","parameters","strict"}`, `strict` always
///   sent (the Responses API defaults it to true, the typed default is false); tool choice →
///   `auto`/`none`/`required`/`{"type":"function","name"}`; response format → `text.format`
///   (`json_schema` with `name`, `schema`, `strict`); max output tokens → `max_output_tokens`
///   (OpenAI's minimum is 16); reasoning effort → `reasoning.effort`; metadata → `metadata`.
/// - Not expressible: `stop` and `seed` (the API has neither), participant names.
/// - The reasoning summary comes from `reasoning` items' `summary` text, which OpenAI only sends
///   when `reasoning.summary` is asked for; flexd does not ask (it needs a verified organization).
struct OpenAIResponsesTranslator: TypedTranslator {
    var api: Api { .responses }

    func body(for request: TypedRequest, streaming: Bool) throws(RouterError) -> JSONObject {
        let chat = request.chat
        if !chat.stop.isEmpty {
            throw RouterError.unsupportedForProvider(
                "chat.stop",
                api: self.api,
                "the Responses API has no stop sequences; use Chat Completions"
            )
        }
        if chat.seed != nil {
            throw RouterError.unsupportedForProvider(
                "chat.seed",
                api: self.api,
                "the Responses API has no seed; use Chat Completions"
            )
        }
        try request.refuseParticipantNames()

        var body: JSONObject = ["model": .string(request.model)]
        var input: [JSONValue] = []
        for message in request.messages { input.append(contentsOf: Self.items(message)) }
        body["input"] = .array(input)
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    var object: JSONObject = ["type": "function", "name": .string(tool.name)]
                    if !tool.description.isEmpty { object["description"] = .string(tool.description) }
                    object["parameters"] = tool.parameters
                    object["strict"] = .bool(tool.strict)
                    return .object(object)
                }
            )
        }
        if let choice = request.effectiveToolChoice {
            switch choice.mode {
            case .auto: body["tool_choice"] = "auto"
            case .none: body["tool_choice"] = "none"
            case .required: body["tool_choice"] = "required"
            case .named: body["tool_choice"] = ["type": "function", "name": .string(choice.name)]
            }
        }
        if let parallel = request.effectiveParallelToolCalls { body["parallel_tool_calls"] = .bool(parallel) }
        if let format = chat.responseFormat {
            switch format.type {
            case .text: body["text"] = ["format": ["type": "text"]]
            case .jsonObject: body["text"] = ["format": ["type": "json_object"]]
            case .jsonSchema:
                body["text"] = [
                    "format": [
                        "type": "json_schema", "name": .string(format.name.isEmpty ? "response" : format.name),
                        "schema": request.responseSchema ?? [:], "strict": .bool(format.strict),
                    ]
                ]
            }
        }
        if let temperature = chat.temperature { body["temperature"] = .double(temperature) }
        if let topP = chat.topP { body["top_p"] = .double(topP) }
        if let maximum = chat.maxOutputTokens { body["max_output_tokens"] = .int(Int64(maximum)) }
        if let effort = chat.reasoningEffort {
            body["reasoning"] = ["effort": .string(ReasoningMapping.openAI(effort))]
        }
        if !chat.metadata.isEmpty {
            body["metadata"] = .object(
                JSONObject(chat.metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: .string($0.value)) })
            )
        }
        return body
    }

    private static func items(_ message: TypedRequest.Message) -> [JSONValue] {
        switch message.role {
        case .system, .developer, .user:
            let role: JSONValue = message.role == .system ? "system" : message.role == .developer ? "developer" : "user"
            let content: JSONValue = message.singleText.map { .string($0) } ?? .array(message.parts.map(Self.inputPart))
            return [["type": "message", "role": role, "content": content]]
        case .assistant:
            var items: [JSONValue] = []
            if !message.parts.isEmpty {
                items.append(["type": "message", "role": "assistant", "content": .string(message.texts.joined())])
            }
            for call in message.toolCalls {
                items.append([
                    "type": "function_call", "call_id": .string(call.id), "name": .string(call.name),
                    "arguments": .string(call.argumentsText),
                ])
            }
            return items
        case .tool:
            let output: JSONValue =
                message.images.isEmpty ? .string(message.texts.joined()) : .array(message.parts.map(Self.inputPart))
            return [["type": "function_call_output", "call_id": .string(message.toolCallID), "output": output]]
        }
    }

    private static func inputPart(_ part: TypedRequest.Part) -> JSONValue {
        switch part {
        case .text(let text):
            return ["type": "input_text", "text": .string(text)]
        case .image(let image):
            let detail: JSONValue = image.detail == .low ? "low" : image.detail == .high ? "high" : "auto"
            return ["type": "input_image", "image_url": .string(image.url), "detail": detail]
        }
    }

    // MARK: Answers

    func result(of answer: JSONObject) -> ChatResult {
        var result = ChatResult(id: answer["id"]?.string ?? "", model: answer["model"]?.string ?? "")
        var summaries: [String] = []
        for item in answer["output"]?.array ?? [] {
            switch item["type"]?.string {
            case "message":
                for part in item["content"]?.array ?? [] {
                    switch part["type"]?.string {
                    case "output_text": result.text += part["text"]?.string ?? ""
                    case "refusal": result.refusal += part["refusal"]?.string ?? ""
                    default: break
                    }
                }
            case "function_call":
                result.toolCalls.append(
                    ToolCall(
                        id: item["call_id"]?.string ?? "",
                        name: item["name"]?.string ?? "",
                        argumentsJSON: item["arguments"]?.string ?? ""
                    )
                )
            case "reasoning":
                for part in item["summary"]?.array ?? [] {
                    if let text = part["text"]?.string, !text.isEmpty { summaries.append(text) }
                }
            default:
                break
            }
        }
        result.reasoningSummary = summaries.joined(separator: "\n\n")
        let status = answer["status"]?.string ?? ""
        let reason = answer["incomplete_details"]?["reason"]?.string ?? ""
        result.nativeFinishReason = status == "incomplete" && !reason.isEmpty ? reason : status
        result.finishReason = Self.finishReason(
            status: status,
            incompleteReason: reason,
            calledTools: !result.toolCalls.isEmpty,
            refused: !result.refusal.isEmpty
        )
        if let usage = answer["usage"], !usage.isNull { result.usage = OpenAIResponsesAdapter.usage(usage) }
        return result
    }

    /// A response has a status, not a finish reason: `completed` is `tool_calls` when it holds
    /// function calls, `refusal` when it holds a refusal, else `stop`; `incomplete` is `length`
    /// for `max_output_tokens` and `content_filter` for `content_filter`; anything else is `other`.
    static func finishReason(
        status: String,
        incompleteReason: String,
        calledTools: Bool,
        refused: Bool
    ) -> FinishReason? {
        switch status {
        case "": return nil
        case "completed": return calledTools ? .toolCalls : refused ? .refusal : .stop
        case "incomplete":
            switch incompleteReason {
            case "max_output_tokens": return .length
            case "content_filter": return .contentFilter
            default: return .other
            }
        default: return .other
        }
    }

    func makeStreamTranslator() -> any TypedStreamTranslator { Stream() }
}
