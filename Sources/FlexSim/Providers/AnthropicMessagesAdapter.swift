internal import FlexCatalog
internal import FlexCore
internal import FlexJSON
internal import NIOCore

/// `POST /anthropic/v1/messages`.
struct AnthropicMessagesAdapter: APIAdapter {
    var api: Api { .messages }

    static let allowed: Set<String> = [
        "model", "messages", "max_tokens", "system", "stream", "temperature", "top_p", "top_k", "stop_sequences",
        "tools",
        "tool_choice", "metadata", "service_tier", "thinking", "output_config", "container", "inference_geo", "speed",
        "cache_control", "mcp_servers", "context_management",
    ]
    static let blockTypes = [
        "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
        "search_result", "server_tool_use", "web_search_tool_result", "container_upload",
    ]

    func responseID(_ ids: inout IDSource) -> String { "msg_01" + ids.token(22) }

    func parse(
        _ body: JSONValue,
        urlModel: String?,
        stream _: Bool,
        context: ParseContext
    ) throws(ProviderError) -> SimRequest {
        let check = Check(provider: .anthropic)
        let root = try check.object(body, "body")
        try check.only(root, Self.allowed, "")
        let modelID = try check.string(try check.required(root, "model", ""), "model")
        guard let maxTokens = try check.int(root, "max_tokens", "", min: 1) else { throw check.missing("max_tokens") }
        let messages = try check.array(try check.required(root, "messages", ""), "messages")
        guard !messages.isEmpty else { throw check.invalid("messages: at least one message is required") }

        // Blocks in cache order (tools, system, messages) with their token counts.
        var blocks: [(value: JSONValue, tokens: Int, breakpoint: String?)] = []
        func breakpoint(_ value: JSONValue) -> String? {
            guard let control = value["cache_control"], !control.isNull else { return nil }
            return control["ttl"]?.string ?? "5m"
        }
        if let tools = root["tools"], !tools.isNull {
            for (index, tool) in try check.array(tools, "tools").enumerated() {
                let object = try check.object(tool, "tools.\(index)")
                _ = try check.string(try check.required(object, "name", "tools.\(index)"), "tools.\(index).name")
                try check.anthropicTool(object, "tools.\(index)")
                blocks.append((tool, TokenEstimator.strings(in: tool) + 8, breakpoint(tool)))
            }
        }
        switch root["system"] {
        case nil, .null?: break
        case .string(let text)?: blocks.append((.string(text), TokenEstimator.text(text), nil))
        case .array(let parts)?:
            for (index, part) in parts.enumerated() {
                let object = try check.object(part, "system.\(index)")
                guard object["type"]?.string == "text" else {
                    throw check.badValue("system.\(index).type", object["type"]?.string ?? "null", allowed: ["text"])
                }
                _ = try check.string(try check.required(object, "text", "system.\(index)"), "system.\(index).text")
                blocks.append((part, TokenEstimator.strings(in: part), breakpoint(part)))
            }
        case let other?: throw check.wrongType("system", expected: "valid string", got: other)
        }
        var imageTokens = 0
        var lastIsToolResult = false
        for (index, message) in messages.enumerated() {
            let path = "messages.\(index)"
            let object = try check.object(message, path)
            try check.only(object, ["role", "content"], path)
            let role = try check.string(try check.required(object, "role", path), "\(path).role")
            guard role == "user" || role == "assistant" else {
                throw check.badValue("\(path).role", role, allowed: ["user", "assistant"])
            }
            let content = try check.required(object, "content", path)
            lastIsToolResult = false
            switch content {
            case .string(let text): blocks.append((content, TokenEstimator.text(text) + 4, nil))
            case .array(let parts):
                for (partIndex, part) in parts.enumerated() {
                    let partPath = "\(path).content.\(partIndex)"
                    let block = try check.object(part, partPath)
                    let type = try check.string(try check.required(block, "type", partPath), "\(partPath).type")
                    guard Self.blockTypes.contains(type) else {
                        throw check.badValue("\(partPath).type", type, allowed: Self.blockTypes)
                    }
                    var tokens = 4
                    switch type {
                    case "text":
                        tokens += TokenEstimator.text(
                            try check.string(try check.required(block, "text", partPath), "\(partPath).text")
                        )
                    case "image":
                        let source = try check.object(
                            try check.required(block, "source", partPath),
                            "\(partPath).source"
                        )
                        let sourceType = try check.enumValue(
                            source,
                            "type",
                            "\(partPath).source",
                            ["base64", "url", "file"]
                        )
                        if sourceType == "base64" {
                            let media = try check.enumValue(
                                source,
                                "media_type",
                                "\(partPath).source",
                                ["image/jpeg", "image/png", "image/gif", "image/webp"]
                            )
                            if media == nil { throw check.missing("\(partPath).source.media_type") }
                            _ = try check.string(
                                try check.required(source, "data", "\(partPath).source"),
                                "\(partPath).source.data"
                            )
                        }
                        let image = TokenEstimator.image(provider: .anthropic, base64: source["data"]?.string)
                        imageTokens += image
                        tokens += image
                    case "tool_use":
                        for key in ["id", "name"] {
                            _ = try check.string(try check.required(block, key, partPath), "\(partPath).\(key)")
                        }
                        _ = try check.object(try check.required(block, "input", partPath), "\(partPath).input")
                        try check.anthropicToolBlock(block, type: type, partPath)
                        tokens += TokenEstimator.strings(in: part)
                    case "tool_result":
                        _ = try check.string(
                            try check.required(block, "tool_use_id", partPath),
                            "\(partPath).tool_use_id"
                        )
                        try check.anthropicToolBlock(block, type: type, partPath)
                        tokens += TokenEstimator.strings(in: part)
                        lastIsToolResult = role == "user"
                    default: tokens += TokenEstimator.strings(in: part)
                    }
                    blocks.append((part, tokens, breakpoint(part)))
                }
            default: throw check.wrongType("\(path).content", expected: "valid list", got: content)
            }
        }

        let model = try SimRequest.resolveModel(modelID, api: self.api, context: context)
        let tierAsked = try check.enumValue(root, "service_tier", "", ["auto", "standard_only"])
        let tier: Tier =
            tierAsked != "standard_only" && model.offers(.priority, on: context.date) ? .priority : .standard
        let stream = try check.bool(root, "stream", "") ?? false
        try check.number(root, "temperature", "", range: 0...1)
        try check.number(root, "top_p", "", range: 0...1)
        _ = try check.int(root, "top_k", "", min: 0)

        var request = SimRequest(api: self.api, model: model, tierAsked: tierAsked, tier: tier, stream: stream)
        request.requestedModel = modelID
        if let thinking = root["thinking"], !thinking.isNull {
            let object = try check.object(thinking, "thinking")
            let type = try check.enumValue(object, "type", "thinking", ["enabled", "disabled", "adaptive"])
            if type == "enabled" {
                guard let budget = try check.int(object, "budget_tokens", "thinking.enabled", min: 1024) else {
                    throw check.missing("thinking.enabled.budget_tokens")
                }
                guard budget < maxTokens else {
                    throw check.invalid(
                        "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
                    )
                }
                var random = SimRandom(seed: context.seed, context.contentHash, 0x7417)
                request.reasoningTokens = min(budget, 64 + Int(random.next() % 192))
                request.visibleThinking = true
            } else if type == "adaptive" {
                request.reasoningTokens = 96
                request.visibleThinking = true
            }
        }
        if let tools = root["tools"], !tools.isNull {
            request.tools = (tools.array ?? []).compactMap { tool in
                tool["name"]?.string.map { ToolSpec(name: $0, parameters: tool["input_schema"]) }
            }
        }
        if let choice = root["tool_choice"], !choice.isNull {
            let object = try check.object(choice, "tool_choice")
            let type = try check.enumValue(object, "type", "tool_choice", ["auto", "any", "tool", "none"])
            try check.anthropicToolChoice(object, type: type)
            switch type {
            case "any": request.toolChoice = .required
            case "tool":
                request.toolChoice = .named(
                    try check.string(try check.required(object, "name", "tool_choice"), "tool_choice.name")
                )
            case "none": request.toolChoice = .none
            default: request.toolChoice = .auto
            }
            request.parallelToolCalls = !(try check.bool(object, "disable_parallel_tool_use", "tool_choice") ?? false)
        }
        if let config = root["output_config"], !config.isNull {
            try check.anthropicOutputConfig(try check.object(config, "output_config"))
        }
        if let config = root["output_config"], !config.isNull,
            let format = try check.object(config, "output_config")["format"], !format.isNull
        {
            let object = try check.object(format, "output_config.format")
            _ = try check.enumValue(object, "type", "output_config.format", ["json_schema"])
            request.responseSchema =
                try check.object(
                    try check.required(object, "schema", "output_config.format"),
                    "output_config.format.schema"
                ).isEmpty ? ["type": "object"] : object["schema"]
        }
        request.lastTurnIsToolResult = lastIsToolResult
        request.maxOutputTokens = maxTokens - request.reasoningTokens
        request.contentHash = context.contentHash
        request.forcedOutputTokens = context.forcedOutputTokens
        request.imageTokens = imageTokens

        // Explicit prompt caching: everything up to the last cache_control breakpoint.
        let total = blocks.reduce(0) { $0 + $1.tokens }
        var counts = TokenUsage(inputTokens: UInt64(total))
        let automatic = root["cache_control"].flatMap { $0.isNull ? nil : ($0["ttl"]?.string ?? "5m") }
        if let last = blocks.lastIndex(where: { $0.breakpoint != nil })
            ?? (automatic != nil && !blocks.isEmpty ? blocks.count - 1 : nil)
        {
            let prefix = blocks[...last]
            let prefixTokens = prefix.reduce(0) { $0 + $1.tokens }
            if prefixTokens >= 1024 {
                let key = CacheAccounting.key(prefix.map(\.value), model: modelID, seed: context.seed)
                counts.inputTokens -= UInt64(prefixTokens)
                if context.cache.lookupAndInsert(key) {
                    counts.cachedInputTokens = UInt64(prefixTokens)
                } else if (blocks[last].breakpoint ?? automatic) == "1h" {
                    counts.cacheWrite1hTokens = UInt64(prefixTokens)
                } else {
                    counts.cacheWriteTokens = UInt64(prefixTokens)
                }
            }
        }
        request.input = counts
        return request
    }

    func streamError(sequence _: Int, request _: SimRequest, context: inout RenderContext) -> [ByteBuffer] {
        [
            SSE.event(
                "error",
                [
                    "type": "error", "error": ["type": "overloaded_error", "message": "Overloaded"],
                    "request_id": .string(context.requestID),
                ]
            )
        ]
    }

    static func stopReason(_ finish: SimOutput.Finish) -> String {
        switch finish {
        case .stop: "end_turn"
        case .length: "max_tokens"
        case .toolCalls: "tool_use"
        }
    }

    func usage(_ u: TokenUsage, tier: String, outputTokens: UInt64) -> JSONValue {
        [
            "input_tokens": .integer(Int(u.inputTokens)),
            "cache_creation_input_tokens": .integer(Int(u.cacheWriteTokens + u.cacheWrite1hTokens)),
            "cache_read_input_tokens": .integer(Int(u.cachedInputTokens)),
            "cache_creation": [
                "ephemeral_5m_input_tokens": .integer(Int(u.cacheWriteTokens)),
                "ephemeral_1h_input_tokens": .integer(Int(u.cacheWrite1hTokens)),
            ],
            "output_tokens": .integer(Int(outputTokens)),
            "service_tier": .string(tier),
        ]
    }

    static func toolID(_ callID: String) -> String { "toolu_01" + callID.dropFirst(5).prefix(22) }

    func signature(_ context: inout RenderContext) -> String { "EqQBCkgIARABGAIiQ" + context.ids.token(60) }

    func responseBody(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> JSONValue {
        var content: [JSONValue] = []
        if !output.thinking.isEmpty {
            content.append([
                "type": "thinking", "thinking": .string(output.thinking.joined()),
                "signature": .string(self.signature(&context)),
            ])
        }
        for item in output.items {
            switch item {
            case .text(let pieces): content.append(["type": "text", "text": .string(pieces.joined())])
            case .toolCall(let callID, let name, let arguments, _):
                content.append([
                    "type": "tool_use", "id": .string(Self.toolID(callID)), "name": .string(name),
                    "input": (try? JSONParser.parse(arguments)) ?? [:],
                ])
            }
        }
        return [
            "id": .string(context.responseID), "type": "message", "role": "assistant", "model": .string(context.model),
            "content": .array(content), "stop_reason": .string(Self.stopReason(output.finish)), "stop_sequence": .null,
            "usage": self.usage(context.usage, tier: context.servedTierWire, outputTokens: context.usage.outputTokens),
        ]
    }

    func stream(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> StreamPlan {
        var plan = StreamPlan()
        let start: JSONValue = [
            "type": "message_start",
            "message": [
                "id": .string(context.responseID), "type": "message", "role": "assistant",
                "model": .string(context.model),
                "content": [], "stop_reason": .null, "stop_sequence": .null,
                "usage": self.usage(context.usage, tier: context.servedTierWire, outputTokens: 1),
            ],
        ]
        plan.preamble.append(SSE.event("message_start", start))
        plan.preamble.append(SSE.event("ping", ["type": "ping"]))
        var index = 0
        func add(_ name: String, _ data: JSONValue, _ tokens: Int) { plan.body.append((SSE.event(name, data), tokens)) }
        var pendingReasoning = output.reasoningTokens
        if !output.thinking.isEmpty {
            add(
                "content_block_start",
                [
                    "type": "content_block_start", "index": .integer(index),
                    "content_block": ["type": "thinking", "thinking": "", "signature": ""],
                ],
                0
            )
            for piece in output.thinking {
                add(
                    "content_block_delta",
                    [
                        "type": "content_block_delta", "index": .integer(index),
                        "delta": ["type": "thinking_delta", "thinking": .string(piece)],
                    ],
                    1
                )
                pendingReasoning -= 1
            }
            add(
                "content_block_delta",
                [
                    "type": "content_block_delta", "index": .integer(index),
                    "delta": ["type": "signature_delta", "signature": .string(self.signature(&context))],
                ],
                0
            )
            add("content_block_stop", ["type": "content_block_stop", "index": .integer(index)], 0)
            index += 1
        }
        for item in output.items {
            switch item {
            case .text(let pieces):
                add(
                    "content_block_start",
                    [
                        "type": "content_block_start", "index": .integer(index),
                        "content_block": ["type": "text", "text": ""],
                    ],
                    max(0, pendingReasoning)
                )
                pendingReasoning = 0
                for piece in pieces {
                    add(
                        "content_block_delta",
                        [
                            "type": "content_block_delta", "index": .integer(index),
                            "delta": ["type": "text_delta", "text": .string(piece)],
                        ],
                        1
                    )
                }
            case .toolCall(let callID, let name, _, let pieces):
                add(
                    "content_block_start",
                    [
                        "type": "content_block_start", "index": .integer(index),
                        "content_block": [
                            "type": "tool_use", "id": .string(Self.toolID(callID)), "name": .string(name), "input": [:],
                        ],
                    ],
                    max(0, pendingReasoning)
                )
                pendingReasoning = 0
                add(
                    "content_block_delta",
                    [
                        "type": "content_block_delta", "index": .integer(index),
                        "delta": ["type": "input_json_delta", "partial_json": ""],
                    ],
                    0
                )
                for piece in pieces {
                    add(
                        "content_block_delta",
                        [
                            "type": "content_block_delta", "index": .integer(index),
                            "delta": ["type": "input_json_delta", "partial_json": .string(piece)],
                        ],
                        1
                    )
                }
            }
            add("content_block_stop", ["type": "content_block_stop", "index": .integer(index)], 0)
            if index == 0 { plan.body.append((SSE.event("ping", ["type": "ping"]), 0)) }
            index += 1
        }
        let u = context.usage
        plan.terminal.append(
            SSE.event(
                "message_delta",
                [
                    "type": "message_delta",
                    "delta": ["stop_reason": .string(Self.stopReason(output.finish)), "stop_sequence": .null],
                    "usage": [
                        "input_tokens": .integer(Int(u.inputTokens)),
                        "cache_creation_input_tokens": .integer(Int(u.cacheWriteTokens + u.cacheWrite1hTokens)),
                        "cache_read_input_tokens": .integer(Int(u.cachedInputTokens)),
                        "output_tokens": .integer(Int(u.outputTokens)),
                    ],
                ]
            )
        )
        plan.terminal.append(SSE.event("message_stop", ["type": "message_stop"]))
        return plan
    }
}
