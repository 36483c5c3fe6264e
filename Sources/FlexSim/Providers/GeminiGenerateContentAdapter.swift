internal import FlexCatalog
internal import FlexCore
internal import FlexJSON
internal import NIOCore

/// `POST /gemini/{v1beta,v1}/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`.
struct GeminiGenerateContentAdapter: APIAdapter {
    var api: Api { .generateContent }

    static let allowed: Set<String> = [
        "contents", "systemInstruction", "system_instruction", "generationConfig", "generation_config", "tools",
        "toolConfig",
        "tool_config", "safetySettings", "safety_settings", "cachedContent", "cached_content", "labels", "serviceTier",
        "service_tier",
        "model",
    ]
    static let generationKeys: Set<String> = [
        "temperature", "topP", "top_p", "topK", "top_k", "candidateCount", "candidate_count", "maxOutputTokens",
        "max_output_tokens",
        "stopSequences", "stop_sequences", "responseMimeType", "response_mime_type", "responseSchema",
        "response_schema",
        "responseJsonSchema", "response_json_schema", "_responseJsonSchema", "thinkingConfig", "thinking_config",
        "seed",
        "presencePenalty", "presence_penalty", "frequencyPenalty", "frequency_penalty", "responseLogprobs",
        "response_logprobs",
        "logprobs", "mediaResolution", "media_resolution", "responseModalities", "response_modalities", "speechConfig",
        "speech_config", "enableEnhancedCivicAnswers", "imageConfig", "image_config",
    ]
    static let partKeys: Set<String> = [
        "text", "inlineData", "inline_data", "fileData", "file_data", "functionCall", "function_call",
        "functionResponse",
        "function_response", "thought", "thoughtSignature", "thought_signature", "executableCode",
        "codeExecutionResult",
        "videoMetadata", "mediaResolution", "partMetadata",
    ]

    func responseID(_ ids: inout IDSource) -> String { ids.token(22) }

    static func field(_ object: JSONObject, _ camel: String, _ snake: String) -> JSONValue? {
        if let value = object[camel], !value.isNull { return value }
        if let value = object[snake], !value.isNull { return value }
        return nil
    }

    func parse(
        _ body: JSONValue,
        urlModel: String?,
        stream _: Bool,
        context: ParseContext
    ) throws(ProviderError) -> SimRequest {
        let check = Check(provider: .gemini)
        let root = try check.object(body, "body")
        try check.only(root, Self.allowed, "")
        let modelID = String((urlModel ?? "").dropPrefix("models/"))
        guard let contentsValue = root["contents"], !contentsValue.isNull else { throw check.missing("contents") }
        let contents = try check.array(contentsValue, "contents")
        guard !contents.isEmpty else { throw check.missing("contents") }
        var textTokens = 0
        var imageTokens = 0
        var lastIsFunctionResponse = false
        for (index, content) in contents.enumerated() {
            let path = "contents[\(index)]"
            let object = try check.object(content, path)
            try check.only(object, ["role", "parts"], path)
            if let role = try check.optionalString(object, "role", path), role != "user", role != "model",
                role != "function"
            {
                throw check.invalid("Please use a valid role: user, model.")
            }
            guard let partsValue = object["parts"] else {
                throw check.invalid("* GenerateContentRequest.\(path).parts: contents.parts must not be empty.")
            }
            let parts = try check.array(partsValue, "\(path).parts")
            guard !parts.isEmpty else {
                throw check.invalid("* GenerateContentRequest.\(path).parts: contents.parts must not be empty.")
            }
            lastIsFunctionResponse = false
            for (partIndex, part) in parts.enumerated() {
                let partPath = "\(path).parts[\(partIndex)]"
                let partObject = try check.object(part, partPath)
                try check.only(partObject, Self.partKeys, partPath)
                try check.geminiPart(partObject, partPath)
                if let blob = Self.field(partObject, "inlineData", "inline_data") {
                    let blobObject = try check.object(blob, "\(partPath).inline_data")
                    let mime = Self.field(blobObject, "mimeType", "mime_type")?.string ?? ""
                    guard let data = blobObject["data"]?.string else {
                        throw check.missing("\(partPath).inline_data.data")
                    }
                    if mime.hasPrefix("image/") {
                        imageTokens += TokenEstimator.image(provider: .gemini, base64: data)
                    } else {
                        textTokens += 258
                    }
                } else if Self.field(partObject, "fileData", "file_data") != nil {
                    imageTokens += 258
                } else {
                    if let text = partObject["text"], text.string == nil {
                        throw check.wrongType("\(partPath).text", expected: "TYPE_STRING", got: text)
                    }
                    textTokens += TokenEstimator.strings(in: part)
                }
                if Self.field(partObject, "functionResponse", "function_response") != nil {
                    lastIsFunctionResponse = true
                }
            }
        }
        let model = try SimRequest.resolveModel(modelID, api: self.api, context: context)
        let tierAsked = Self.field(root, "serviceTier", "service_tier").flatMap(\.string)
        let tier = try GeminiCommon.tier(
            tierAsked,
            model: model,
            check: check,
            path: "service_tier",
            date: context.date
        )

        var request = SimRequest(api: self.api, model: model, tierAsked: tierAsked, tier: tier, stream: false)
        request.requestedModel = modelID
        var thinkingBudget: Int?
        var thinkingLevel: String?
        if let config = Self.field(root, "generationConfig", "generation_config") {
            let object = try check.object(config, "generation_config")
            try check.only(object, Self.generationKeys, "generation_config")
            try check.number(object, "temperature", "generation_config", range: 0...2)
            let camelMax = try check.int(object, "maxOutputTokens", "generation_config", min: 1)
            let snakeMax = try check.int(object, "max_output_tokens", "generation_config", min: 1)
            request.maxOutputTokens = camelMax ?? snakeMax
            if let count = try check.int(object, "candidateCount", "generation_config", min: 1), count != 1 {
                throw check.invalid("flexsim simulates one candidate only (candidateCount=1).")
            }
            let mime = Self.field(object, "responseMimeType", "response_mime_type")?.string
            if let mime, !["text/plain", "application/json", "text/x.enum"].contains(mime) {
                throw check.invalid(
                    "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`."
                )
            }
            let schema =
                Self.field(object, "responseJsonSchema", "response_json_schema") ?? object["_responseJsonSchema"]
                ?? Self.field(object, "responseSchema", "response_schema")
            if schema != nil && mime != "application/json" && mime != "text/x.enum" {
                throw check.invalid(
                    "* GenerateContentRequest.generation_config.response_mime_type: response_mime_type must be application/json or text/x.enum when a response schema is set."
                )
            }
            request.responseSchema = schema
            request.jsonObject = mime == "application/json" && schema == nil
            if let thinking = Self.field(object, "thinkingConfig", "thinking_config") {
                let t = try check.object(thinking, "generation_config.thinking_config")
                let camelBudget = try check.int(t, "thinkingBudget", "generation_config.thinking_config")
                let snakeBudget = try check.int(t, "thinking_budget", "generation_config.thinking_config")
                thinkingBudget = camelBudget ?? snakeBudget
                thinkingLevel = Self.field(t, "thinkingLevel", "thinking_level")?.string?.lowercased()
                let camelThoughts = try check.bool(t, "includeThoughts", "generation_config.thinking_config")
                let snakeThoughts = try check.bool(t, "include_thoughts", "generation_config.thinking_config")
                request.visibleThinking = camelThoughts ?? snakeThoughts ?? false
            }
        }
        var toolTokens = 0
        if let tools = root["tools"], !tools.isNull {
            for (index, tool) in try check.array(tools, "tools").enumerated() {
                let object = try check.object(tool, "tools[\(index)]")
                for (declarationIndex, declaration)
                    in (Self.field(object, "functionDeclarations", "function_declarations")?.array ?? []).enumerated()
                {
                    guard let name = declaration["name"]?.string else {
                        throw check.missing("tools[\(index)].function_declarations.name")
                    }
                    try check.geminiFunctionDeclaration(
                        try check.object(declaration, "tools[\(index)].function_declarations[\(declarationIndex)]"),
                        "tools[\(index)].function_declarations[\(declarationIndex)]"
                    )
                    let parameters =
                        declaration["parametersJsonSchema"] ?? declaration["parameters_json_schema"]
                        ?? declaration["parameters"]
                    request.tools.append(ToolSpec(name: name, parameters: parameters))
                }
            }
            toolTokens = TokenEstimator.strings(in: tools)
        }
        if let toolConfig = Self.field(root, "toolConfig", "tool_config") {
            let object = try check.object(toolConfig, "tool_config")
            try check.only(
                object,
                [
                    "functionCallingConfig", "function_calling_config", "retrievalConfig", "retrieval_config",
                    "includeServerSideToolInvocations",
                ],
                "tool_config"
            )
            if let calling = Self.field(object, "functionCallingConfig", "function_calling_config") {
                try check.geminiFunctionCallingConfig(
                    try check.object(calling, "tool_config.function_calling_config"),
                    "tool_config.function_calling_config"
                )
            }
        }
        if let toolConfig = Self.field(root, "toolConfig", "tool_config"),
            let mode = (Self.field(toolConfig.object ?? [:], "functionCallingConfig", "function_calling_config"))?[
                "mode"
            ]?.string?.uppercased()
        {
            request.toolChoice = mode == "NONE" ? .none : mode == "ANY" ? .required : .auto
        }
        request.lastTurnIsToolResult = lastIsFunctionResponse
        request.reasoningTokens = GeminiCommon.thoughtTokens(
            model: model,
            budget: thinkingBudget,
            level: thinkingLevel,
            seed: context.seed,
            hash: context.contentHash
        )
        if !request.visibleThinking { request.visibleThinking = false }
        request.contentHash = context.contentHash
        request.forcedOutputTokens = context.forcedOutputTokens
        request.imageTokens = imageTokens
        let system = Self.field(root, "systemInstruction", "system_instruction")
        let systemTokens = system.map(TokenEstimator.strings(in:)) ?? 0
        let total = textTokens + imageTokens + toolTokens + systemTokens
        let prefix = Array(contents.dropLast())
        let prefixTokens = systemTokens + toolTokens + prefix.reduce(0) { $0 + TokenEstimator.strings(in: $1) }
        request.input = CacheAccounting.implicit(
            total: total,
            prefixTokens: prefixTokens,
            prefixKey: CacheAccounting.key(
                prefix + [system ?? .null, root["tools"] ?? .null],
                model: modelID,
                seed: context.seed
            ),
            model: model,
            context: context,
            reportsWrites: false
        )
        return request
    }

    func streamError(sequence _: Int, request _: SimRequest, context _: inout RenderContext) -> [ByteBuffer] {
        [
            SSE.event(
                nil,
                [
                    "error": [
                        "code": 503, "message": "The model is overloaded. Please try again later.",
                        "status": "UNAVAILABLE",
                    ]
                ],
                lineEnd: "\r\n"
            )
        ]
    }

    static func finishReason(_ finish: SimOutput.Finish) -> String { finish == .length ? "MAX_TOKENS" : "STOP" }

    func parts(_ output: SimOutput) -> [JSONValue] {
        var parts: [JSONValue] = []
        if !output.thinking.isEmpty { parts.append(["text": .string(output.thinking.joined()), "thought": true]) }
        for item in output.items {
            switch item {
            case .text(let pieces): parts.append(["text": .string(pieces.joined())])
            case .toolCall(_, let name, let arguments, _):
                parts.append([
                    "functionCall": ["name": .string(name), "args": (try? JSONParser.parse(arguments)) ?? [:]]
                ])
            }
        }
        return parts
    }

    func chunk(_ parts: [JSONValue], finish: String?, usage: JSONValue?, context: RenderContext) -> JSONValue {
        var candidate: JSONObject = ["content": ["parts": .array(parts), "role": "model"]]
        if let finish { candidate["finishReason"] = .string(finish) }
        candidate["index"] = 0
        var object: JSONObject = ["candidates": [.object(candidate)]]
        if let usage { object["usageMetadata"] = usage }
        object["modelVersion"] = .string(context.model)
        object["responseId"] = .string(context.responseID)
        return .object(object)
    }

    func responseBody(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> JSONValue {
        self.chunk(
            self.parts(output),
            finish: Self.finishReason(output.finish),
            usage: GeminiCommon.usageMetadata(
                context.usage,
                tier: context.servedTierWire,
                imageTokens: request.imageTokens
            ),
            context: context
        )
    }

    func stream(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> StreamPlan {
        var plan = StreamPlan()
        var pendingReasoning = output.reasoningTokens
        func add(_ parts: [JSONValue], _ tokens: Int) {
            plan.body.append(
                (
                    SSE.event(nil, self.chunk(parts, finish: nil, usage: nil, context: context), lineEnd: "\r\n"),
                    tokens + pendingReasoning
                )
            )
            pendingReasoning = 0
        }
        if !output.thinking.isEmpty {
            for group in stride(from: 0, to: output.thinking.count, by: 16) {
                let pieces = output.thinking[group..<min(group + 16, output.thinking.count)]
                plan.body.append(
                    (
                        SSE.event(
                            nil,
                            self.chunk(
                                [["text": .string(pieces.joined()), "thought": true]],
                                finish: nil,
                                usage: nil,
                                context: context
                            ),
                            lineEnd: "\r\n"
                        ), pieces.count
                    )
                )
                pendingReasoning -= pieces.count
            }
            pendingReasoning = max(0, pendingReasoning)
        }
        for item in output.items {
            switch item {
            case .text(let pieces):
                for group in stride(from: 0, to: max(1, pieces.count), by: 8) {
                    let slice = pieces.isEmpty ? [] : pieces[group..<min(group + 8, pieces.count)]
                    add([["text": .string(slice.joined())]], slice.count)
                }
            case .toolCall(_, let name, let arguments, let pieces):
                add(
                    [["functionCall": ["name": .string(name), "args": (try? JSONParser.parse(arguments)) ?? [:]]]],
                    pieces.count
                )
            }
        }
        plan.terminal.append(
            SSE.event(
                nil,
                self.chunk(
                    [["text": ""]],
                    finish: Self.finishReason(output.finish),
                    usage: GeminiCommon.usageMetadata(
                        context.usage,
                        tier: context.servedTierWire,
                        imageTokens: request.imageTokens
                    ),
                    context: context
                ),
                lineEnd: "\r\n"
            )
        )
        return plan
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> Substring {
        self.hasPrefix(prefix) ? self.dropFirst(prefix.count) : Substring(self)
    }
}
