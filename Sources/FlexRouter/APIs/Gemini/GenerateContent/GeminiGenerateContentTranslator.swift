internal import FlexCore
internal import FlexJSON

/// Typed requests ↔ Gemini generateContent.
///
/// - Leading system and developer messages → `systemInstruction.parts` (later ones are
///   `unsupported_for_provider`, as for Anthropic). User → `{"role":"user","parts"}`, assistant →
///   `{"role":"model","parts"}` with text and `functionCall` parts (Gemini 3 and later: the first
///   call of a turn carries Google's placeholder `thoughtSignature`, since the typed history has
///   none); tool results → `functionResponse` parts (`name` from the message or from the call it
///   answers; `response` is the result's JSON object, or `{"output": text}`) in one user turn,
///   with a user message right after them. Images → `inlineData` (base64) or `fileData`
///   (`fileUri`, `mimeType` when known).
/// - Tools → one `functionDeclarations` tool with `parametersJsonSchema`; tool choice →
///   `toolConfig.functionCallingConfig.mode` (`AUTO`, `NONE`, `ANY`, named: `ANY` with
///   `allowedFunctionNames`; a strict tool makes `auto` `VALIDATED`); `generationConfig`:
///   `temperature`, `topP`, `maxOutputTokens`, `stopSequences`, `seed`, JSON output
///   (`responseMimeType: application/json`, `responseJsonSchema`), `thinkingConfig`
///   (``ReasoningMapping``; `includeThoughts` so the reasoning summary comes back), image detail →
///   `mediaResolution` (one setting for the request, so all images must agree).
/// - Not expressible: metadata (`labels` exist only on Vertex AI), parallel calls off, images in
///   tool results, participant names, images with different details.
struct GeminiGenerateContentTranslator: TypedTranslator {
    var api: Api { .generateContent }

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
        try request.refuseImages(in: [.tool], "Gemini function responses carry JSON only")
        let seed = try GeminiTyped.seed(request)
        let resolution = try Self.mediaResolution(request)
        let (instructions, turns) = try request.leadingInstructions()

        var body = JSONObject()
        var contents: [JSONValue] = []
        for group in TypedRequest.groups(turns) { contents.append(try Self.content(group, request)) }
        body["contents"] = .array(contents)
        if !instructions.isEmpty {
            body["systemInstruction"] = ["parts": .array(instructions.flatMap(\.texts).map { ["text": .string($0)] })]
        }
        if !request.tools.isEmpty {
            body["tools"] = [
                [
                    "functionDeclarations": .array(
                        request.tools.map { tool in
                            var declaration: JSONObject = ["name": .string(tool.name)]
                            if !tool.description.isEmpty { declaration["description"] = .string(tool.description) }
                            declaration["parametersJsonSchema"] = tool.parameters
                            return .object(declaration)
                        }
                    )
                ]
            ]
        }
        if let mode = GeminiTyped.mode(request) {
            var config: JSONObject = ["mode": .string(mode.rawValue)]
            if let choice = request.effectiveToolChoice, choice.mode == .named {
                config["allowedFunctionNames"] = [.string(choice.name)]
            }
            body["toolConfig"] = ["functionCallingConfig": .object(config)]
        }

        var generation = JSONObject()
        if let temperature = chat.temperature { generation["temperature"] = .double(temperature) }
        if let topP = chat.topP { generation["topP"] = .double(topP) }
        if let maximum = chat.maxOutputTokens { generation["maxOutputTokens"] = .int(Int64(maximum)) }
        if !chat.stop.isEmpty { generation["stopSequences"] = .array(chat.stop.map { .string($0) }) }
        if let seed { generation["seed"] = .int(seed) }
        switch chat.responseFormat?.type {
        case .jsonObject?:
            generation["responseMimeType"] = "application/json"
        case .jsonSchema?:
            generation["responseMimeType"] = "application/json"
            generation["responseJsonSchema"] = request.responseSchema ?? [:]
        case .text?, nil:
            break
        }
        if let effort = chat.reasoningEffort {
            var thinking = JSONObject()
            if ReasoningMapping.geminiUsesThinkingLevel(request.model) {
                thinking["thinkingLevel"] = .string(ReasoningMapping.geminiLevel(effort))
            } else {
                thinking["thinkingBudget"] = .int(Int64(ReasoningMapping.geminiBudget(effort)))
            }
            if effort != .none { thinking["includeThoughts"] = true }
            generation["thinkingConfig"] = .object(thinking)
        }
        if let resolution { generation["mediaResolution"] = .string(resolution) }
        if !generation.isEmpty { body["generationConfig"] = .object(generation) }
        return body
    }

    /// `MEDIA_RESOLUTION_LOW`/`_HIGH` when images ask for a detail; they must all ask the same.
    private static func mediaResolution(_ request: TypedRequest) throws(RouterError) -> String? {
        let images = request.messages.flatMap(\.images)
        guard let first = images.first, images.contains(where: { $0.detail != .auto }) else { return nil }
        if let different = images.first(where: { $0.detail != first.detail }) {
            throw RouterError.unsupportedForProvider(
                "\(different.field).detail",
                api: request.api,
                "generateContent has one media resolution per request, so every image needs the same detail"
            )
        }
        return first.detail == .low ? "MEDIA_RESOLUTION_LOW" : "MEDIA_RESOLUTION_HIGH"
    }

    private static func content(
        _ group: [TypedRequest.Message],
        _ request: TypedRequest
    ) throws(RouterError) -> JSONValue {
        guard let first = group.first else { return [:] }
        switch first.role {
        case .assistant:
            var parts: [JSONValue] = first.texts.map { ["text": .string($0)] }
            for (position, call) in first.toolCalls.enumerated() {
                var part: JSONObject = ["functionCall": ["name": .string(call.name), "args": .object(call.arguments)]]
                if position == 0 && GeminiTyped.needsSignature(request.model) {
                    part["thoughtSignature"] = .string(GeminiTyped.placeholderSignature)
                }
                parts.append(.object(part))
            }
            return ["role": "model", "parts": .array(parts)]
        default:
            var parts: [JSONValue] = []
            for message in group {
                if message.role == .tool {
                    let name = try GeminiTyped.toolName(message, in: request)
                    parts.append([
                        "functionResponse": [
                            "name": .string(name), "response": .object(GeminiTyped.functionResponse(message)),
                        ]
                    ])
                } else {
                    parts.append(contentsOf: message.parts.map(Self.part))
                }
            }
            return ["role": "user", "parts": .array(parts)]
        }
    }

    private static func part(_ part: TypedRequest.Part) -> JSONValue {
        switch part {
        case .text(let text):
            return ["text": .string(text)]
        case .image(let image):
            switch image.source {
            case .inline(let mediaType, let base64):
                return ["inlineData": ["mimeType": .string(mediaType), "data": .string(base64)]]
            case .url(let url):
                var file = JSONObject()
                if !image.mediaType.isEmpty { file["mimeType"] = .string(image.mediaType) }
                file["fileUri"] = .string(url)
                return ["fileData": .object(file)]
            }
        }
    }

    // MARK: Answers

    func result(of answer: JSONObject) -> ChatResult {
        let responseID = answer["responseId"]?.string ?? ""
        var result = ChatResult(id: responseID, model: answer["modelVersion"]?.string ?? "")
        let candidates = answer["candidates"]?.array ?? []
        if let candidate = candidates.first(where: { ($0["index"]?.int ?? 0) == 0 }) ?? candidates.first {
            for part in candidate["content"]?["parts"]?.array ?? [] {
                if let call = part["functionCall"] {
                    result.toolCalls.append(
                        ToolCall(
                            id: GeminiTyped.callID(
                                call["id"]?.string,
                                responseID: responseID,
                                position: result.toolCalls.count
                            ),
                            name: call["name"]?.string ?? "",
                            argumentsJSON: (call["args"] ?? [:]).jsonString
                        )
                    )
                } else if let text = part["text"]?.string {
                    if part["thought"]?.bool == true { result.reasoningSummary += text } else { result.text += text }
                }
            }
            result.nativeFinishReason = candidate["finishReason"]?.string ?? ""
        }
        if candidates.isEmpty, let blocked = answer["promptFeedback"]?["blockReason"]?.string {
            result.nativeFinishReason = blocked
            result.finishReason = .contentFilter
        } else {
            result.finishReason = Self.finishReason(result.nativeFinishReason, calledTools: !result.toolCalls.isEmpty)
        }
        if let usage = answer["usageMetadata"]?.object { result.usage = GeminiGenerateContentAdapter.usage(usage) }
        return result
    }

    /// `STOP` → stop (tool calls when the answer called functions: Gemini has no separate reason);
    /// `MAX_TOKENS` → length; the safety reasons (`SAFETY`, `RECITATION`, `BLOCKLIST`,
    /// `PROHIBITED_CONTENT`, `SPII`, `IMAGE_SAFETY`, ...) → content filter; anything else (`OTHER`,
    /// `MALFORMED_FUNCTION_CALL`, ...) → other. A prompt blocked before any candidate
    /// (`promptFeedback.blockReason`) → content filter.
    static func finishReason(_ native: String, calledTools: Bool) -> FinishReason? {
        switch native {
        case "", "FINISH_REASON_UNSPECIFIED": nil
        case "STOP": calledTools ? .toolCalls : .stop
        case "MAX_TOKENS": .length
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT",
            "IMAGE_RECITATION":
            .contentFilter
        default: .other
        }
    }

    func makeStreamTranslator() -> any TypedStreamTranslator { Stream() }
}
