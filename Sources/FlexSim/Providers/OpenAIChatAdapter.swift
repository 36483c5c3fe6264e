internal import FlexCatalog
internal import FlexCore
internal import FlexJSON
internal import NIOCore

/// `POST /openai/v1/chat/completions`.
struct OpenAIChatAdapter: APIAdapter {
    var api: Api { .chatCompletions }

    static let allowed: Set<String> = [
        "model", "messages", "stream", "stream_options", "service_tier", "max_tokens", "max_completion_tokens",
        "temperature",
        "top_p", "n", "stop", "tools", "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort",
        "seed", "user",
        "metadata", "store", "logprobs", "top_logprobs", "frequency_penalty", "presence_penalty", "logit_bias",
        "modalities",
        "audio", "prediction", "verbosity", "prompt_cache_key", "safety_identifier", "prompt_cache_retention",
        "web_search_options", "functions", "function_call",
    ]
    static let roles = ["system", "developer", "user", "assistant", "tool", "function"]

    func responseID(_ ids: inout IDSource) -> String { "chatcmpl-" + ids.token(29) }

    func parse(
        _ body: JSONValue,
        urlModel: String?,
        stream _: Bool,
        context: ParseContext
    ) throws(ProviderError) -> SimRequest {
        let check = Check(provider: .openAI)
        let root = try check.object(body, "body")
        try check.only(root, Self.allowed, "")
        let modelID = try check.string(try check.required(root, "model", ""), "model")
        let messagesValue = try check.required(root, "messages", "")
        let messages = try check.array(messagesValue, "messages")
        guard !messages.isEmpty else {
            throw check.invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                param: "messages",
                code: "empty_array"
            )
        }
        var textTokens = 3
        var imageTokens = 0
        var lastRole = ""
        for (index, message) in messages.enumerated() {
            let path = check.path("messages", index: index)
            let object = try check.object(message, path)
            let role = try check.string(try check.required(object, "role", path), check.path(path, "role"))
            guard Self.roles.contains(role) else {
                throw check.badValue(check.path(path, "role"), role, allowed: Self.roles)
            }
            let content = object["content"] ?? .null
            switch content {
            case .string, .array: break
            case .null where role == "assistant" && object["tool_calls"] != nil: break
            case .null: throw check.missing(check.path(path, "content"))
            default:
                throw check.wrongType(
                    check.path(path, "content"),
                    expected: "one of a string or array of objects",
                    got: content
                )
            }
            if case .array(let parts) = content {
                for (partIndex, part) in parts.enumerated() {
                    let partPath = check.path(check.path(path, "content"), index: partIndex)
                    let partObject = try check.object(part, partPath)
                    let type = try check.string(
                        try check.required(partObject, "type", partPath),
                        check.path(partPath, "type")
                    )
                    let types = ["text", "image_url", "input_audio", "file", "refusal"]
                    guard types.contains(type) else {
                        throw check.badValue(check.path(partPath, "type"), type, allowed: types)
                    }
                    if ["system", "developer", "tool"].contains(role) && type != "text" {
                        throw check.badValue(check.path(partPath, "type"), type, allowed: ["text"])
                    }
                    if type == "text" {
                        _ = try check.string(
                            try check.required(partObject, "text", partPath),
                            check.path(partPath, "text")
                        )
                    }
                    if type == "image_url" {
                        guard role == "user" else {
                            throw check.invalid(
                                "Invalid 'messages[\(index)]': image_url is only supported for messages with role 'user'.",
                                param: path,
                                code: "invalid_value"
                            )
                        }
                        let image = try check.object(
                            try check.required(partObject, "image_url", partPath),
                            check.path(partPath, "image_url")
                        )
                        _ = try check.string(
                            try check.required(image, "url", check.path(partPath, "image_url")),
                            check.path(partPath, "image_url.url")
                        )
                        try check.chatImageURL(image, check.path(partPath, "image_url"))
                    }
                }
            }
            if role == "tool" {
                _ = try check.string(try check.required(object, "tool_call_id", path), check.path(path, "tool_call_id"))
            }
            if let calls = object["tool_calls"], !calls.isNull {
                guard role == "assistant" else { throw check.unknown(check.path(path, "tool_calls")) }
                for (callIndex, call) in try check.array(calls, check.path(path, "tool_calls")).enumerated() {
                    try check.chatToolCall(call, check.path(check.path(path, "tool_calls"), index: callIndex))
                }
            }
            let counted = OpenAICommon.contentTokens(content)
            textTokens += 4 + counted.text + (object["tool_calls"].map(TokenEstimator.strings(in:)) ?? 0)
            imageTokens += counted.images
            lastRole = role
        }
        let model = try SimRequest.resolveModel(modelID, api: self.api, context: context)
        let tierAsked = try check.optionalString(root, "service_tier", "")
        if let tierAsked, !OpenAICommon.serviceTiers.contains(tierAsked) {
            throw check.badValue("service_tier", tierAsked, allowed: OpenAICommon.serviceTiers)
        }
        let tier = try OpenAICommon.tier(tierAsked, model: model, check: check, date: context.date)
        let stream = try check.bool(root, "stream", "") ?? false
        var includeUsage = false
        if let options = root["stream_options"], !options.isNull {
            guard stream else {
                throw check.invalid(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    param: "stream_options",
                    code: "invalid_value"
                )
            }
            let object = try check.object(options, "stream_options")
            includeUsage = try check.bool(object, "include_usage", "stream_options") ?? false
        }
        if let n = try check.int(root, "n", "", min: 1), n != 1 {
            throw check.invalid(
                "Invalid 'n': flexsim simulates one choice only (n=1).",
                param: "n",
                code: "invalid_value"
            )
        }
        try check.number(root, "temperature", "", range: 0...2)
        try check.number(root, "top_p", "", range: 0...1)
        let maxCompletion = try check.int(root, "max_completion_tokens", "", min: 1)
        let maxLegacy = try check.int(root, "max_tokens", "", min: 1)
        let maxTokens = maxCompletion ?? maxLegacy
        let effort = try check.enumValue(root, "reasoning_effort", "", OpenAICommon.efforts)
        if effort != nil && !model.reasoning {
            throw OpenAICommon.unsupported("reasoning_effort", model: modelID, check: check)
        }
        if root["max_tokens"] != nil && model.reasoning {
            throw check.invalid(
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                param: "max_tokens",
                code: "unsupported_parameter"
            )
        }

        var request = SimRequest(api: self.api, model: model, tierAsked: tierAsked, tier: tier, stream: stream)
        request.requestedModel = modelID
        request.includeUsage = includeUsage
        request.tools = try OpenAICommon.tools(root["tools"], chatShape: true, check: check)
        request.toolChoice = try OpenAICommon.toolChoice(root["tool_choice"], check: check)
        request.parallelToolCalls = try check.bool(root, "parallel_tool_calls", "") ?? true
        request.lastTurnIsToolResult = lastRole == "tool" || lastRole == "function"
        if let format = root["response_format"], !format.isNull {
            let object = try check.object(format, "response_format")
            let type = try check.enumValue(object, "type", "response_format", ["text", "json_object", "json_schema"])
            if type == "json_schema" {
                let schema = try check.object(
                    try check.required(object, "json_schema", "response_format"),
                    "response_format.json_schema"
                )
                _ = try check.string(
                    try check.required(schema, "name", "response_format.json_schema"),
                    "response_format.json_schema.name"
                )
                request.responseSchema = schema["schema"] ?? ["type": "object"]
            }
            request.jsonObject = type == "json_object"
        }
        request.maxOutputTokens = maxTokens
        request.reasoningTokens = OpenAICommon.reasoningTokens(
            effort: effort,
            model: model,
            seed: context.seed,
            hash: context.contentHash
        )
        request.contentHash = context.contentHash
        request.forcedOutputTokens = context.forcedOutputTokens
        request.imageTokens = imageTokens
        let toolTokens = root["tools"].map(TokenEstimator.strings(in:)) ?? 0
        let total = textTokens + imageTokens + toolTokens
        let prefix = Array(messages.dropLast())
        let prefixTokens = prefix.reduce(toolTokens) { sum, m in
            sum + 4 + OpenAICommon.contentTokens(m["content"] ?? .null).text
                + OpenAICommon.contentTokens(m["content"] ?? .null).images
        }
        request.input = CacheAccounting.implicit(
            total: total,
            prefixTokens: prefixTokens,
            prefixKey: CacheAccounting.key(prefix + [root["tools"] ?? .null], model: modelID, seed: context.seed),
            model: model,
            context: context,
            reportsWrites: OpenAICommon.reportsWrites(model, date: context.date)
        )
        return request
    }

    func streamError(sequence _: Int, request _: SimRequest, context _: inout RenderContext) -> [ByteBuffer] {
        [
            SSE.event(
                nil,
                [
                    "error": [
                        "message": "The server had an error while processing your request. Sorry about that!",
                        "type": "server_error", "param": .null, "code": .null,
                    ]
                ]
            )
        ]
    }

    static func finishReason(_ finish: SimOutput.Finish) -> String {
        switch finish {
        case .stop: "stop"
        case .length: "length"
        case .toolCalls: "tool_calls"
        }
    }

    func responseBody(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> JSONValue {
        let calls = output.toolCalls
        var message: JSONObject = [
            "role": "assistant",
            "content": calls.isEmpty ? .string(output.text) : .null,
            "refusal": .null,
            "annotations": [],
        ]
        if !calls.isEmpty {
            message["tool_calls"] = .array(
                calls.map { call in
                    [
                        "id": .string(call.callID), "type": "function",
                        "function": ["name": .string(call.name), "arguments": .string(call.arguments)],
                    ]
                }
            )
        }
        return [
            "id": .string(context.responseID),
            "object": "chat.completion",
            "created": .int(context.createdAt),
            "model": .string(context.model),
            "choices": [
                [
                    "index": 0, "message": .object(message), "logprobs": .null,
                    "finish_reason": .string(Self.finishReason(output.finish)),
                ]
            ],
            "usage": OpenAICommon.chatUsage(
                context.usage,
                reportsWrites: OpenAICommon.reportsWrites(request.model, date: context.date)
            ),
            "service_tier": .string(context.servedTierWire),
            "system_fingerprint": "fp_flexsim",
        ]
    }

    func stream(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> StreamPlan {
        let id = context.responseID
        let created = context.createdAt
        let model = context.model
        let tier = context.servedTierWire
        let includeUsage = request.includeUsage
        func chunk(_ delta: JSONObject, finish: String? = nil) -> ByteBuffer {
            var object: JSONObject = [
                "id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": .string(model),
                "service_tier": .string(tier), "system_fingerprint": "fp_flexsim",
                "choices": [
                    ["index": 0, "delta": .object(delta), "logprobs": .null, "finish_reason": .optional(finish)]
                ],
            ]
            if includeUsage { object["usage"] = .null }
            return SSE.event(nil, .object(object))
        }
        var plan = StreamPlan()
        let calls = output.toolCalls
        plan.preamble.append(chunk(["role": "assistant", "content": calls.isEmpty ? "" : .null, "refusal": .null]))
        var pendingReasoning = output.reasoningTokens
        for item in output.items {
            switch item {
            case .text(let pieces):
                for piece in pieces {
                    plan.body.append((chunk(["content": .string(piece)]), 1 + pendingReasoning))
                    pendingReasoning = 0
                }
            case .toolCall(let callID, let name, _, let pieces):
                let index = calls.firstIndex { $0.callID == callID } ?? 0
                plan.body.append(
                    (
                        chunk([
                            "tool_calls": [
                                [
                                    "index": .integer(index), "id": .string(callID), "type": "function",
                                    "function": ["name": .string(name), "arguments": ""],
                                ]
                            ]
                        ]), pendingReasoning
                    )
                )
                pendingReasoning = 0
                for piece in pieces {
                    plan.body.append(
                        (
                            chunk([
                                "tool_calls": [["index": .integer(index), "function": ["arguments": .string(piece)]]]
                            ]), 1
                        )
                    )
                }
            }
        }
        if plan.body.isEmpty { plan.body.append((chunk(["content": ""]), pendingReasoning)) }
        plan.terminal.append(chunk([:], finish: Self.finishReason(output.finish)))
        if includeUsage {
            let usage: JSONValue = [
                "id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": .string(model),
                "service_tier": .string(tier), "system_fingerprint": "fp_flexsim", "choices": [],
                "usage": OpenAICommon.chatUsage(
                    context.usage,
                    reportsWrites: OpenAICommon.reportsWrites(request.model, date: context.date)
                ),
            ]
            plan.terminal.append(SSE.event(nil, usage))
        }
        plan.terminal.append(SSE.raw("data: [DONE]\n\n"))
        return plan
    }
}
