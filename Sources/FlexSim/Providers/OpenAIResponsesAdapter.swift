internal import FlexCatalog
internal import FlexCore
internal import FlexJSON
internal import NIOCore

/// `POST /openai/v1/responses`.
struct OpenAIResponsesAdapter: APIAdapter {
    var api: Api { .responses }

    static let allowed: Set<String> = [
        "model", "input", "instructions", "stream", "stream_options", "service_tier", "max_output_tokens",
        "temperature", "top_p",
        "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning", "metadata", "store", "previous_response_id",
        "include",
        "truncation", "user", "background", "prompt", "prompt_cache_key", "safety_identifier", "top_logprobs",
        "max_tool_calls",
        "conversation", "prompt_cache_retention",
    ]
    static let roles = ["user", "assistant", "system", "developer"]
    static let itemTypes = ["message", "function_call", "function_call_output", "reasoning", "item_reference"]

    func responseID(_ ids: inout IDSource) -> String { "resp_" + ids.hex(48) }

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
        let input = try check.required(root, "input", "")
        var items: [JSONValue] = []
        var textTokens = 0
        var imageTokens = 0
        var lastType = "message"
        switch input {
        case .string(let text): textTokens += TokenEstimator.text(text) + 4
        case .array(let list):
            items = list
            for (index, item) in list.enumerated() {
                let path = check.path("input", index: index)
                let object = try check.object(item, path)
                let type = try check.optionalString(object, "type", path) ?? "message"
                guard Self.itemTypes.contains(type) else {
                    throw check.badValue(check.path(path, "type"), type, allowed: Self.itemTypes)
                }
                switch type {
                case "message":
                    let role = try check.string(try check.required(object, "role", path), check.path(path, "role"))
                    guard Self.roles.contains(role) else {
                        throw check.badValue(check.path(path, "role"), role, allowed: Self.roles)
                    }
                    let content = try check.required(object, "content", path)
                    if case .array(let parts) = content {
                        for (partIndex, part) in parts.enumerated() {
                            let partPath = check.path(check.path(path, "content"), index: partIndex)
                            let partObject = try check.object(part, partPath)
                            let partType = try check.string(
                                try check.required(partObject, "type", partPath),
                                check.path(partPath, "type")
                            )
                            let types = [
                                "input_text", "input_image", "input_file", "input_audio", "output_text", "refusal",
                            ]
                            guard types.contains(partType) else {
                                throw check.badValue(check.path(partPath, "type"), partType, allowed: types)
                            }
                            if partType == "input_image" { try check.responsesInputImage(partObject, partPath) }
                        }
                    } else if content.string == nil {
                        throw check.wrongType(
                            check.path(path, "content"),
                            expected: "one of a string or array of objects",
                            got: content
                        )
                    }
                    let counted = OpenAICommon.contentTokens(content)
                    textTokens += 4 + counted.text
                    imageTokens += counted.images
                case "function_call_output":
                    _ = try check.string(try check.required(object, "call_id", path), check.path(path, "call_id"))
                    let output = try check.required(object, "output", path)
                    if case .array(let parts) = output {
                        for (partIndex, part) in parts.enumerated() {
                            let partPath = check.path(check.path(path, "output"), index: partIndex)
                            let partObject = try check.object(part, partPath)
                            let types = ["input_text", "input_image", "input_file"]
                            let partType = try check.string(
                                try check.required(partObject, "type", partPath),
                                check.path(partPath, "type")
                            )
                            guard types.contains(partType) else {
                                throw check.badValue(check.path(partPath, "type"), partType, allowed: types)
                            }
                            if partType == "input_image" { try check.responsesInputImage(partObject, partPath) }
                        }
                    } else if output.string == nil {
                        throw check.wrongType(
                            check.path(path, "output"),
                            expected: "one of a string or array of objects",
                            got: output
                        )
                    }
                    textTokens += TokenEstimator.strings(in: item)
                case "function_call":
                    for key in ["call_id", "name", "arguments"] {
                        _ = try check.string(try check.required(object, key, path), check.path(path, key))
                    }
                    textTokens += TokenEstimator.strings(in: item)
                default: textTokens += TokenEstimator.strings(in: item)
                }
                lastType = type
            }
        default:
            throw check.wrongType("input", expected: "one of a string or array of objects", got: input)
        }
        let model = try SimRequest.resolveModel(modelID, api: self.api, context: context)
        let tierAsked = try check.optionalString(root, "service_tier", "")
        if let tierAsked, !OpenAICommon.serviceTiers.contains(tierAsked) {
            throw check.badValue("service_tier", tierAsked, allowed: OpenAICommon.serviceTiers)
        }
        let tier = try OpenAICommon.tier(tierAsked, model: model, check: check, date: context.date)
        let stream = try check.bool(root, "stream", "") ?? false
        if root["stream_options"] != nil && !stream {
            throw check.invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param: "stream_options",
                code: "invalid_value"
            )
        }
        if try check.bool(root, "background", "") == true {
            throw check.invalid(
                "flexsim does not simulate background responses ('background': true).",
                param: "background",
                code: "invalid_value"
            )
        }
        try check.number(root, "temperature", "", range: 0...2)
        try check.number(root, "top_p", "", range: 0...1)
        let maxTokens = try check.int(root, "max_output_tokens", "", min: 16)
        var effort: String?
        if let reasoning = root["reasoning"], !reasoning.isNull {
            let object = try check.object(reasoning, "reasoning")
            effort = try check.enumValue(object, "effort", "reasoning", OpenAICommon.efforts)
            if !model.reasoning { throw OpenAICommon.unsupported("reasoning.effort", model: modelID, check: check) }
        }
        let instructions = try check.optionalString(root, "instructions", "")

        var request = SimRequest(api: self.api, model: model, tierAsked: tierAsked, tier: tier, stream: stream)
        request.requestedModel = modelID
        request.tools = try OpenAICommon.tools(root["tools"], chatShape: false, check: check)
        request.toolChoice = try OpenAICommon.toolChoice(root["tool_choice"], check: check)
        request.parallelToolCalls = try check.bool(root, "parallel_tool_calls", "") ?? true
        request.lastTurnIsToolResult = lastType == "function_call_output"
        var textConfig: JSONValue = ["format": ["type": "text"], "verbosity": "medium"]
        if let text = root["text"], !text.isNull {
            let object = try check.object(text, "text")
            if let format = object["format"], !format.isNull {
                let formatObject = try check.object(format, "text.format")
                let type = try check.enumValue(
                    formatObject,
                    "type",
                    "text.format",
                    ["text", "json_object", "json_schema"]
                )
                if type == "json_schema" {
                    _ = try check.string(try check.required(formatObject, "name", "text.format"), "text.format.name")
                    request.responseSchema = try check.required(formatObject, "schema", "text.format")
                }
                request.jsonObject = type == "json_object"
            }
            textConfig = .object(object)
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
        request.echo = [
            "instructions": .optional(instructions),
            "max_output_tokens": maxTokens.map { .integer($0) } ?? .null,
            "metadata": root["metadata"] ?? [:],
            "parallel_tool_calls": .bool(request.parallelToolCalls),
            "previous_response_id": root["previous_response_id"] ?? .null,
            "reasoning": ["effort": model.reasoning ? .string(effort ?? "medium") : .null, "summary": .null],
            "store": root["store"] ?? true,
            "temperature": root["temperature"] ?? 1.0,
            "text": textConfig,
            "tool_choice": root["tool_choice"] ?? "auto",
            "tools": root["tools"] ?? [],
            "top_p": root["top_p"] ?? 1.0,
            "truncation": root["truncation"] ?? "disabled",
            "user": root["user"] ?? .null,
        ]
        let toolTokens = root["tools"].map(TokenEstimator.strings(in:)) ?? 0
        let instructionTokens = instructions.map(TokenEstimator.text) ?? 0
        let total = textTokens + imageTokens + toolTokens + instructionTokens
        let prefix = Array(items.dropLast())
        let prefixTokens = instructionTokens + toolTokens + prefix.reduce(0) { $0 + 4 + TokenEstimator.strings(in: $1) }
        request.input = CacheAccounting.implicit(
            total: total,
            prefixTokens: prefixTokens,
            prefixKey: CacheAccounting.key(
                prefix + [.optional(instructions), root["tools"] ?? .null],
                model: modelID,
                seed: context.seed
            ),
            model: model,
            context: context,
            reportsWrites: OpenAICommon.reportsWrites(model, date: context.date)
        )
        return request
    }

    /// The output items, with ids fixed once so that stream and final object agree.
    struct Items {
        var reasoningID: String?
        var messageID: String
        var callItemIDs: [String]
    }

    func items(_ output: SimOutput, ids: inout IDSource) -> Items {
        Items(
            reasoningID: output.reasoningTokens > 0 ? "rs_" + ids.hex(48) : nil,
            messageID: "msg_" + ids.hex(48),
            callItemIDs: output.toolCalls.map { _ in "fc_" + ids.hex(48) }
        )
    }

    func outputItems(_ output: SimOutput, _ items: Items) -> [JSONValue] {
        var result: [JSONValue] = []
        if let id = items.reasoningID { result.append(["id": .string(id), "type": "reasoning", "summary": []]) }
        var callIndex = 0
        for item in output.items {
            switch item {
            case .text(let pieces):
                result.append([
                    "id": .string(items.messageID), "type": "message", "status": "completed", "role": "assistant",
                    "content": [
                        ["type": "output_text", "annotations": [], "logprobs": [], "text": .string(pieces.joined())]
                    ],
                ])
            case .toolCall(let callID, let name, let arguments, _):
                result.append([
                    "id": .string(items.callItemIDs[callIndex]), "type": "function_call", "status": "completed",
                    "arguments": .string(arguments), "call_id": .string(callID), "name": .string(name),
                ])
                callIndex += 1
            }
        }
        return result
    }

    func responseObject(
        status: String,
        output: [JSONValue],
        usage: JSONValue,
        request: SimRequest,
        context: RenderContext,
        incomplete: Bool
    ) -> JSONValue {
        var object: JSONObject = [
            "id": .string(context.responseID), "object": "response", "created_at": .int(context.createdAt),
            "status": .string(status),
            "background": false, "error": .null,
            "incomplete_details": incomplete ? ["reason": "max_output_tokens"] : .null,
        ]
        object["instructions"] = request.echo["instructions"] ?? .null
        object["max_output_tokens"] = request.echo["max_output_tokens"] ?? .null
        object["max_tool_calls"] = .null
        object["model"] = .string(context.model)
        object["output"] = .array(output)
        for key in ["parallel_tool_calls", "previous_response_id", "reasoning"] {
            object[key] = request.echo[key] ?? .null
        }
        object["service_tier"] = .string(context.servedTierWire)
        for key in ["store", "temperature", "text", "tool_choice", "tools", "top_p", "truncation"] {
            object[key] = request.echo[key] ?? .null
        }
        object["usage"] = usage
        object["user"] = request.echo["user"] ?? .null
        object["metadata"] = request.echo["metadata"] ?? [:]
        return .object(object)
    }

    /// As captured from the live API: `error` right after `response.in_progress`, then `response.failed`.
    func streamError(sequence: Int, request: SimRequest, context: inout RenderContext) -> [ByteBuffer] {
        let error: JSONValue = [
            "type": "service_unavailable_error", "code": "server_is_overloaded",
            "message": "Our servers are currently overloaded. Please try again later.", "param": .null,
        ]
        var failed = self.responseObject(
            status: "failed",
            output: [],
            usage: .null,
            request: request,
            context: context,
            incomplete: false
        ).object!
        failed["error"] = [
            "code": "server_error", "message": "Our servers are currently overloaded. Please try again later.",
        ]
        return [
            SSE.event("error", ["type": "error", "error": error, "sequence_number": .integer(sequence)]),
            SSE.event(
                "response.failed",
                ["type": "response.failed", "response": .object(failed), "sequence_number": .integer(sequence + 1)]
            ),
        ]
    }

    func responseBody(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> JSONValue {
        let items = self.items(output, ids: &context.ids)
        let incomplete = output.finish == .length
        return self.responseObject(
            status: incomplete ? "incomplete" : "completed",
            output: self.outputItems(output, items),
            usage: OpenAICommon.responsesUsage(
                context.usage,
                reportsWrites: OpenAICommon.reportsWrites(request.model, date: context.date)
            ),
            request: request,
            context: context,
            incomplete: incomplete
        )
    }

    func stream(_ output: SimOutput, request: SimRequest, context: inout RenderContext) -> StreamPlan {
        let items = self.items(output, ids: &context.ids)
        var sequence = 0
        func event(_ type: String, _ fields: JSONObject) -> ByteBuffer {
            var object: JSONObject = ["type": .string(type)]
            object.fields.append(contentsOf: fields.fields)
            object["sequence_number"] = .integer(sequence)
            sequence += 1
            return SSE.event(type, .object(object))
        }
        var plan = StreamPlan()
        let initial = self.responseObject(
            status: "in_progress",
            output: [],
            usage: .null,
            request: request,
            context: context,
            incomplete: false
        )
        plan.preamble.append(event("response.created", ["response": initial]))
        plan.preamble.append(event("response.in_progress", ["response": initial]))
        var pendingReasoning = output.reasoningTokens
        var outputIndex = 0
        let finalItems = self.outputItems(output, items)
        if let id = items.reasoningID {
            plan.body.append(
                (
                    event(
                        "response.output_item.added",
                        ["output_index": 0, "item": ["id": .string(id), "type": "reasoning", "summary": []]]
                    ), pendingReasoning
                )
            )
            pendingReasoning = 0
            plan.body.append((event("response.output_item.done", ["output_index": 0, "item": finalItems[0]]), 0))
            outputIndex = 1
        }
        var callIndex = 0
        for item in output.items {
            let index = JSONValue.integer(outputIndex)
            switch item {
            case .text(let pieces):
                let itemID = JSONValue.string(items.messageID)
                plan.body.append(
                    (
                        event(
                            "response.output_item.added",
                            [
                                "output_index": index,
                                "item": [
                                    "id": itemID, "type": "message", "status": "in_progress", "role": "assistant",
                                    "content": [],
                                ],
                            ]
                        ), pendingReasoning
                    )
                )
                pendingReasoning = 0
                plan.body.append(
                    (
                        event(
                            "response.content_part.added",
                            [
                                "item_id": itemID, "output_index": index, "content_index": 0,
                                "part": ["type": "output_text", "annotations": [], "logprobs": [], "text": ""],
                            ]
                        ), 0
                    )
                )
                for piece in pieces {
                    plan.body.append(
                        (
                            event(
                                "response.output_text.delta",
                                [
                                    "item_id": itemID, "output_index": index, "content_index": 0,
                                    "delta": .string(piece), "logprobs": [],
                                ]
                            ), 1
                        )
                    )
                }
                let text = JSONValue.string(pieces.joined())
                plan.body.append(
                    (
                        event(
                            "response.output_text.done",
                            [
                                "item_id": itemID, "output_index": index, "content_index": 0, "text": text,
                                "logprobs": [],
                            ]
                        ), 0
                    )
                )
                plan.body.append(
                    (
                        event(
                            "response.content_part.done",
                            [
                                "item_id": itemID, "output_index": index, "content_index": 0,
                                "part": ["type": "output_text", "annotations": [], "logprobs": [], "text": text],
                            ]
                        ), 0
                    )
                )
            case .toolCall(let callID, let name, let arguments, let pieces):
                let itemID = JSONValue.string(items.callItemIDs[callIndex])
                callIndex += 1
                plan.body.append(
                    (
                        event(
                            "response.output_item.added",
                            [
                                "output_index": index,
                                "item": [
                                    "id": itemID, "type": "function_call", "status": "in_progress",
                                    "arguments": "", "call_id": .string(callID), "name": .string(name),
                                ],
                            ]
                        ), pendingReasoning
                    )
                )
                pendingReasoning = 0
                for piece in pieces {
                    plan.body.append(
                        (
                            event(
                                "response.function_call_arguments.delta",
                                ["item_id": itemID, "output_index": index, "delta": .string(piece)]
                            ), 1
                        )
                    )
                }
                plan.body.append(
                    (
                        event(
                            "response.function_call_arguments.done",
                            [
                                "item_id": itemID, "output_index": index, "name": .string(name),
                                "arguments": .string(arguments),
                            ]
                        ), 0
                    )
                )
            }
            plan.body.append(
                (event("response.output_item.done", ["output_index": index, "item": finalItems[outputIndex]]), 0)
            )
            outputIndex += 1
        }
        let incomplete = output.finish == .length
        let final = self.responseObject(
            status: incomplete ? "incomplete" : "completed",
            output: finalItems,
            usage: OpenAICommon.responsesUsage(
                context.usage,
                reportsWrites: OpenAICommon.reportsWrites(request.model, date: context.date)
            ),
            request: request,
            context: context,
            incomplete: incomplete
        )
        plan.terminal.append(event(incomplete ? "response.incomplete" : "response.completed", ["response": final]))
        return plan
    }
}
