internal import FlexCatalog
internal import FlexCore
internal import FlexJSON
internal import NIOCore

/// `POST /gemini/{v1beta,v1}/interactions` (the Interactions API, streaming and not).
struct GeminiInteractionsAdapter: APIAdapter {
    var api: Api { .interactions }

    static let allowed: Set<String> = [
        "model", "agent", "input", "system_instruction", "generation_config", "tools", "response_format",
        "response_mime_type",
        "response_modalities", "stream", "store", "previous_interaction_id", "background", "service_tier",
        "cached_content",
        "webhook_config", "safety_settings", "labels", "environment", "continuation_token", "agent_config",
    ]
    static let generationKeys: Set<String> = [
        "temperature", "top_p", "max_output_tokens", "thinking_level", "thinking_summaries", "tool_choice", "seed",
        "stop_sequences", "image_config", "speech_config", "transcription_config", "video_config",
    ]

    func responseID(_ ids: inout IDSource) -> String { "v1_" + ids.token(40) }

    func parse(
        _ body: JSONValue,
        urlModel: String?,
        stream _: Bool,
        context: ParseContext
    ) throws(ProviderError) -> SimRequest {
        var check = Check(provider: .gemini)
        check.geminiMessage = "CreateInteractionRequest"
        let root = try check.object(body, "body")
        try check.only(root, Self.allowed, "")
        guard root["agent"] == nil || root["agent"]!.isNull else {
            throw check.invalid("flexsim simulates model interactions only, not agents.")
        }
        let modelID = try check.string(try check.required(root, "model", ""), "model")
        guard let input = root["input"], !input.isNull else { throw check.missing("input") }
        var textTokens = 0
        var imageTokens = 0
        var lastIsFunctionResult = false
        var items: [JSONValue] = []
        switch input {
        case .string(let text): textTokens = TokenEstimator.text(text) + 4
        case .object: items = [input]
        case .array(let list): items = list
        default: throw check.wrongType("input", expected: "string or list", got: input)
        }
        let itemTypes = [
            "text", "image", "audio", "video", "document", "user_input", "model_output", "function_call",
            "function_result", "thought",
        ]
        for (index, item) in items.enumerated() {
            let path = "input[\(index)]"
            let object = try check.object(item, path)
            let type = try check.string(try check.required(object, "type", path), "\(path).type")
            guard itemTypes.contains(type) else { throw check.badValue("\(path).type", type, allowed: itemTypes) }
            try check.interactionsStep(object, type: type, path)
            lastIsFunctionResult = type == "function_result"
            let contents: [JSONValue] =
                type == "user_input" || type == "model_output" ? (object["content"]?.array ?? []) : [item]
            for content in contents {
                if content["type"]?.string == "image" {
                    imageTokens += TokenEstimator.image(provider: .gemini, base64: content["data"]?.string)
                } else {
                    if content["type"]?.string == "text", content["text"]?.string == nil {
                        throw check.missing("\(path).text")
                    }
                    textTokens += 4 + TokenEstimator.strings(in: content)
                }
            }
        }
        let model = try SimRequest.resolveModel(modelID, api: self.api, context: context)
        let tierAsked = try check.optionalString(root, "service_tier", "")
        let tier = try GeminiCommon.tier(
            tierAsked,
            model: model,
            check: check,
            path: "service_tier",
            date: context.date
        )
        let stream = try check.bool(root, "stream", "") ?? false
        if try check.bool(root, "background", "") == true {
            throw check.invalid("flexsim does not simulate background interactions.")
        }

        var request = SimRequest(api: self.api, model: model, tierAsked: tierAsked, tier: tier, stream: stream)
        request.requestedModel = modelID
        var level: String?
        if let config = root["generation_config"], !config.isNull {
            let object = try check.object(config, "generation_config")
            try check.only(object, Self.generationKeys, "generation_config")
            try check.number(object, "temperature", "generation_config", range: 0...2)
            request.maxOutputTokens = try check.int(object, "max_output_tokens", "generation_config", min: 1)
            level = try check.enumValue(
                object,
                "thinking_level",
                "generation_config",
                ["minimal", "low", "medium", "high"]
            )
            request.visibleThinking =
                (try check.optionalString(object, "thinking_summaries", "generation_config")) == "auto"
            if let choice = object["tool_choice"], !choice.isNull { try check.interactionsToolChoice(choice) }
            if let choice = object["tool_choice"]?.string {
                request.toolChoice = choice == "none" ? .none : choice == "any" ? .required : .auto
            }
        }
        var toolTokens = 0
        if let tools = root["tools"], !tools.isNull {
            for (index, tool) in try check.array(tools, "tools").enumerated() {
                let object = try check.object(tool, "tools[\(index)]")
                guard object["type"]?.string == "function" else { continue }
                let name = try check.string(
                    try check.required(object, "name", "tools[\(index)]"),
                    "tools[\(index)].name"
                )
                try check.only(object, ["type", "name", "description", "parameters"], "tools[\(index)]")
                if let parameters = object["parameters"], !parameters.isNull {
                    _ = try check.object(parameters, "tools[\(index)].parameters")
                }
                request.tools.append(ToolSpec(name: name, parameters: object["parameters"]))
            }
            toolTokens = TokenEstimator.strings(in: tools)
        }
        var formats: [JSONValue] = []
        if let format = root["response_format"], !format.isNull { formats = format.array ?? [format] }
        for format in formats { try check.interactionsResponseFormat(format) }
        for format in formats where format["type"]?.string == "text" {
            let mime = format["mime_type"]?.string
            if let schema = format["schema"], !schema.isNull {
                request.responseSchema = schema
            } else if mime == "application/json" {
                request.jsonObject = true
            }
        }
        if root["response_mime_type"]?.string == "application/json" && request.responseSchema == nil {
            request.jsonObject = true
        }
        request.lastTurnIsToolResult = lastIsFunctionResult
        request.reasoningTokens = GeminiCommon.thoughtTokens(
            model: model,
            budget: nil,
            level: level,
            seed: context.seed,
            hash: context.contentHash
        )
        request.contentHash = context.contentHash
        request.forcedOutputTokens = context.forcedOutputTokens
        request.imageTokens = imageTokens
        let systemTokens = root["system_instruction"].map(TokenEstimator.strings(in:)) ?? 0
        let total = textTokens + imageTokens + toolTokens + systemTokens
        let prefix = Array(items.dropLast())
        let prefixTokens = systemTokens + toolTokens + prefix.reduce(0) { $0 + TokenEstimator.strings(in: $1) }
        request.input = CacheAccounting.implicit(
            total: total,
            prefixTokens: prefixTokens,
            prefixKey: CacheAccounting.key(
                prefix + [root["system_instruction"] ?? .null, root["tools"] ?? .null],
                model: modelID,
                seed: context.seed
            ),
            model: model,
            context: context,
            reportsWrites: false
        )
        request.echo = ["system_instruction": root["system_instruction"] ?? .null]
        return request
    }

    func streamError(sequence: Int, request _: SimRequest, context _: inout RenderContext) -> [ByteBuffer] {
        [
            SSE.event(
                "error",
                [
                    "error": ["code": "UNAVAILABLE", "message": "The model is overloaded. Please try again later."],
                    "event_id": .string("evt_\(sequence + 1)"), "event_type": "error",
                ]
            )
        ]
    }

    static func timestamp(_ seconds: Int64) -> String {
        let date = CalendarDate(unixSeconds: seconds)
        let s = Int(((seconds % 86_400) + 86_400) % 86_400)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(date)T\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))Z"
    }

    func steps(_ output: SimOutput, context: inout RenderContext) -> [JSONValue] {
        var steps: [JSONValue] = []
        if !output.thinking.isEmpty {
            steps.append([
                "type": "thought", "signature": .string("Cq" + context.ids.token(40)),
                "summary": [["type": "text", "text": .string(output.thinking.joined())]],
            ])
        }
        for item in output.items {
            switch item {
            case .text(let pieces):
                steps.append(["type": "model_output", "content": [["type": "text", "text": .string(pieces.joined())]]])
            case .toolCall(let callID, let name, let arguments, _):
                steps.append([
                    "type": "function_call", "id": .string(callID), "name": .string(name),
                    "arguments": (try? JSONParser.parse(arguments)) ?? [:],
                ])
            }
        }
        return steps
    }

    func status(_ output: SimOutput) -> String {
        switch output.finish {
        case .toolCalls: "requires_action"
        case .length: "incomplete"
        case .stop: "completed"
        }
    }

    func interaction(
        status: String,
        steps: [JSONValue]?,
        output: SimOutput?,
        usage: Bool,
        context: RenderContext
    ) -> JSONValue {
        var object: JSONObject = [
            "id": .string(context.responseID), "status": .string(status),
            "created": .string(Self.timestamp(context.createdAt)),
            "model": .string(context.model), "object": "interaction", "service_tier": .string(context.servedTierWire),
        ]
        if let steps { object["steps"] = .array(steps) }
        if let output, !output.text.isEmpty { object["output_text"] = .string(output.text) }
        object["updated"] = .string(Self.timestamp(context.createdAt))
        if usage { object["usage"] = GeminiCommon.interactionUsage(context.usage) }
        return .object(object)
    }

    func responseBody(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> JSONValue {
        let steps = self.steps(output, context: &context)
        var body = self.interaction(
            status: self.status(output),
            steps: steps,
            output: output,
            usage: true,
            context: context
        ).object!
        body["role"] = "model"
        return .object(body)
    }

    func stream(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> StreamPlan {
        var plan = StreamPlan()
        var eventNumber = 0
        func event(_ type: String, _ fields: JSONObject) -> ByteBuffer {
            var object = fields
            eventNumber += 1
            object["event_id"] = .string("evt_\(eventNumber)")
            object["event_type"] = .string(type)
            return SSE.event(type, .object(object))
        }
        plan.preamble.append(
            event(
                "interaction.created",
                [
                    "interaction": self.interaction(
                        status: "in_progress",
                        steps: nil,
                        output: nil,
                        usage: false,
                        context: context
                    )
                ]
            )
        )
        plan.preamble.append(
            event(
                "interaction.status_update",
                ["interaction_id": .string(context.responseID), "status": "in_progress"]
            )
        )
        var index = 0
        var pendingReasoning = output.reasoningTokens
        if !output.thinking.isEmpty {
            plan.body.append(
                (event("step.start", ["index": .integer(index), "step": ["type": "thought", "summary": []]]), 0)
            )
            for piece in output.thinking {
                plan.body.append(
                    (
                        event(
                            "step.delta",
                            [
                                "index": .integer(index),
                                "delta": [
                                    "type": "thought_summary", "content": ["type": "text", "text": .string(piece)],
                                ],
                            ]
                        ), 1
                    )
                )
                pendingReasoning -= 1
            }
            plan.body.append(
                (
                    event(
                        "step.delta",
                        [
                            "index": .integer(index),
                            "delta": ["type": "thought_signature", "signature": .string("Cq" + context.ids.token(40))],
                        ]
                    ), 0
                )
            )
            plan.body.append((event("step.stop", ["index": .integer(index)]), 0))
            index += 1
        }
        pendingReasoning = max(0, pendingReasoning)
        for item in output.items {
            switch item {
            case .text(let pieces):
                plan.body.append(
                    (
                        event(
                            "step.start",
                            ["index": .integer(index), "step": ["type": "model_output", "content": []]]
                        ), pendingReasoning
                    )
                )
                for piece in pieces {
                    plan.body.append(
                        (
                            event(
                                "step.delta",
                                ["index": .integer(index), "delta": ["type": "text", "text": .string(piece)]]
                            ), 1
                        )
                    )
                }
            case .toolCall(let callID, let name, _, let pieces):
                plan.body.append(
                    (
                        event(
                            "step.start",
                            [
                                "index": .integer(index),
                                "step": [
                                    "type": "function_call", "id": .string(callID), "name": .string(name),
                                    "arguments": [:],
                                ],
                            ]
                        ), pendingReasoning
                    )
                )
                for piece in pieces {
                    plan.body.append(
                        (
                            event(
                                "step.delta",
                                [
                                    "index": .integer(index),
                                    "delta": ["type": "arguments_delta", "arguments": .string(piece)],
                                ]
                            ), 1
                        )
                    )
                }
            }
            pendingReasoning = 0
            plan.body.append((event("step.stop", ["index": .integer(index)]), 0))
            index += 1
        }
        plan.terminal.append(
            event(
                "interaction.status_update",
                [
                    "interaction_id": .string(context.responseID), "status": .string(self.status(output)),
                    "usage": GeminiCommon.interactionUsage(context.usage),
                ]
            )
        )
        plan.terminal.append(
            event(
                "interaction.completed",
                [
                    "interaction": self.interaction(
                        status: self.status(output),
                        steps: nil,
                        output: nil,
                        usage: true,
                        context: context
                    )
                ]
            )
        )
        return plan
    }
}
