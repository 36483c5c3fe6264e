internal import FlexCore
internal import FlexJSON

/// Typed requests ↔ OpenAI Chat Completions.
///
/// - Roles map one to one (`system`, `developer`, `user`, `assistant` with `tool_calls`, `tool`
///   with `tool_call_id`), participant names go to `name`. A message whose only part is text is
///   sent as a string, otherwise as content parts; images (`image_url`, inline bytes as a `data:`
///   URL, `detail` when not auto) only in user messages, as the API allows.
/// - Tools → `tools[].function` (`strict` when set); tool choice → `auto`, `none`, `required` or
///   `{"type":"function","function":{"name"}}`; response format → `response_format`
///   (`json_schema` with `name`, `schema`, `strict`); max output tokens →
///   `max_completion_tokens`; reasoning effort → `reasoning_effort` (``ReasoningMapping``).
/// - Not expressible: `metadata` (Chat Completions accepts it only together with `store: true`,
///   which keeps the conversation at OpenAI; flexd does not turn storage on behind the caller's
///   back), images in tool results.
/// - Streaming callers: the body asks for `stream_options.include_usage`, so the final typed event
///   carries usage.
struct OpenAIChatTranslator: TypedTranslator {
    var api: Api { .chatCompletions }

    func body(for request: TypedRequest, streaming: Bool) throws(RouterError) -> JSONObject {
        let chat = request.chat
        if !chat.metadata.isEmpty {
            throw RouterError.unsupportedForProvider(
                "chat.metadata",
                api: self.api,
                "Chat Completions accepts metadata only with store: true, which keeps the conversation at OpenAI; use the Responses API, or drop metadata"
            )
        }
        try request.refuseImages(
            in: [.tool],
            "tool messages carry text only here; use the Responses API for images in tool results"
        )

        var body: JSONObject = ["model": .string(request.model)]
        var messages: [JSONValue] = []
        messages.reserveCapacity(request.messages.count)
        for message in request.messages { messages.append(Self.message(message)) }
        body["messages"] = .array(messages)
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    var function: JSONObject = ["name": .string(tool.name)]
                    if !tool.description.isEmpty { function["description"] = .string(tool.description) }
                    function["parameters"] = tool.parameters
                    if tool.strict { function["strict"] = true }
                    return ["type": "function", "function": .object(function)]
                }
            )
        }
        if let choice = request.effectiveToolChoice {
            switch choice.mode {
            case .auto: body["tool_choice"] = "auto"
            case .none: body["tool_choice"] = "none"
            case .required: body["tool_choice"] = "required"
            case .named: body["tool_choice"] = ["type": "function", "function": ["name": .string(choice.name)]]
            }
        }
        if let parallel = request.effectiveParallelToolCalls { body["parallel_tool_calls"] = .bool(parallel) }
        if let format = chat.responseFormat {
            switch format.type {
            case .text: body["response_format"] = ["type": "text"]
            case .jsonObject: body["response_format"] = ["type": "json_object"]
            case .jsonSchema:
                body["response_format"] = [
                    "type": "json_schema",
                    "json_schema": [
                        "name": .string(format.name.isEmpty ? "response" : format.name),
                        "schema": request.responseSchema ?? [:],
                        "strict": .bool(format.strict),
                    ],
                ]
            }
        }
        if let temperature = chat.temperature { body["temperature"] = .double(temperature) }
        if let topP = chat.topP { body["top_p"] = .double(topP) }
        if let maximum = chat.maxOutputTokens { body["max_completion_tokens"] = .int(Int64(maximum)) }
        if !chat.stop.isEmpty { body["stop"] = .array(chat.stop.map { .string($0) }) }
        if let seed = chat.seed { body["seed"] = .int(seed) }
        if let effort = chat.reasoningEffort { body["reasoning_effort"] = .string(ReasoningMapping.openAI(effort)) }
        if streaming {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        }
        return body
    }

    private static func message(_ message: TypedRequest.Message) -> JSONValue {
        var object: JSONObject
        switch message.role {
        case .system, .developer:
            object = ["role": message.role == .system ? "system" : "developer", "content": Self.textContent(message)]
        case .user:
            object = ["role": "user", "content": Self.userContent(message)]
        case .assistant:
            object = ["role": "assistant", "content": message.parts.isEmpty ? .null : Self.textContent(message)]
            if !message.toolCalls.isEmpty {
                object["tool_calls"] = .array(
                    message.toolCalls.map { call in
                        [
                            "id": .string(call.id), "type": "function",
                            "function": ["name": .string(call.name), "arguments": .string(call.argumentsText)],
                        ]
                    }
                )
            }
        case .tool:
            return ["role": "tool", "tool_call_id": .string(message.toolCallID), "content": Self.textContent(message)]
        }
        if !message.name.isEmpty { object["name"] = .string(message.name) }
        return .object(object)
    }

    /// Text-only content: a string for one part, text parts otherwise.
    private static func textContent(_ message: TypedRequest.Message) -> JSONValue {
        if let text = message.singleText { return .string(text) }
        if message.parts.isEmpty { return "" }
        return .array(message.texts.map { ["type": "text", "text": .string($0)] })
    }

    private static func userContent(_ message: TypedRequest.Message) -> JSONValue {
        if let text = message.singleText { return .string(text) }
        return .array(
            message.parts.map { part in
                switch part {
                case .text(let text):
                    return ["type": "text", "text": .string(text)]
                case .image(let image):
                    var imageURL: JSONObject = ["url": .string(image.url)]
                    if image.detail != .auto { imageURL["detail"] = .string(image.detail == .low ? "low" : "high") }
                    return ["type": "image_url", "image_url": .object(imageURL)]
                }
            }
        )
    }

    // MARK: Answers

    func result(of answer: JSONObject) -> ChatResult {
        var result = ChatResult(id: answer["id"]?.string ?? "", model: answer["model"]?.string ?? "")
        let choices = answer["choices"]?.array ?? []
        if let choice = choices.first(where: { ($0["index"]?.int ?? 0) == 0 }) ?? choices.first {
            let message = choice["message"]
            result.text = Self.text(message?["content"])
            result.refusal = message?["refusal"]?.string ?? ""
            for call in message?["tool_calls"]?.array ?? [] {
                result.toolCalls.append(
                    ToolCall(
                        id: call["id"]?.string ?? "",
                        name: call["function"]?["name"]?.string ?? "",
                        argumentsJSON: call["function"]?["arguments"]?.string ?? ""
                    )
                )
            }
            result.nativeFinishReason = choice["finish_reason"]?.string ?? ""
            result.finishReason = Self.finishReason(result.nativeFinishReason, refused: !result.refusal.isEmpty)
        }
        if let usage = answer["usage"], !usage.isNull { result.usage = OpenAIChatAdapter.usage(usage) }
        return result
    }

    /// `content` as a string, or (OpenAI-compatible servers) text parts.
    private static func text(_ content: JSONValue?) -> String {
        if let text = content?.string { return text }
        return (content?.array ?? []).reduce(into: "") { text, part in text += part["text"]?.string ?? "" }
    }

    /// `stop` (a refusal when the model refused), `length`, `tool_calls` (and the legacy
    /// `function_call`), `content_filter`; anything else is `other`.
    static func finishReason(_ native: String, refused: Bool) -> FinishReason? {
        switch native {
        case "": nil
        case "stop": refused ? .refusal : .stop
        case "length": .length
        case "tool_calls", "function_call": .toolCalls
        case "content_filter": .contentFilter
        default: .other
        }
    }

    func makeStreamTranslator() -> any TypedStreamTranslator { Stream() }
}
