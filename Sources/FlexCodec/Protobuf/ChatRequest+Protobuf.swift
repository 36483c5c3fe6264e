internal import CFlexProto
internal import CProtobufC
internal import NIOCore

extension ImagePart: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ImagePart
    static let messageName = "flexinference.v1.ImagePart"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__image_part__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let source: Source? =
            switch c.pointee.source_case {
            case FLEXINFERENCE__V1__IMAGE_PART__SOURCE_URL: .url(try CField.string(c.pointee.url, "ImagePart.url"))
            case FLEXINFERENCE__V1__IMAGE_PART__SOURCE_DATA: .data(CField.bytes(c.pointee.data))
            default: nil
            }
        self.init(
            source: source,
            mediaType: try CField.string(c.pointee.media_type, "ImagePart.media_type"),
            detail: try CField.enumValue(c.pointee.detail.rawValue, ImageDetail.self)
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        switch self.source {
        case .url(let url):
            c.pointee.source_case = FLEXINFERENCE__V1__IMAGE_PART__SOURCE_URL
            c.pointee.url = try arena.copy(url, field: "ImagePart.url")
        case .data(let data):
            c.pointee.source_case = FLEXINFERENCE__V1__IMAGE_PART__SOURCE_DATA
            c.pointee.data = try CField.setBytes(data, arena: arena)
        case nil:
            break
        }
        try CField.setString(&c.pointee.media_type, self.mediaType, "ImagePart.media_type", arena: arena)
        c.pointee.detail = Flexinference__V1__ImageDetail(rawValue: CField.rawEnum(self.detail))
    }
}

/// `ContentPart` is a Swift enum over the proto's oneof; an unset oneof is rejected on decode.
extension ContentPart: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ContentPart
    static let messageName = "flexinference.v1.ContentPart"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__content_part__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        switch c.pointee.part_case {
        case FLEXINFERENCE__V1__CONTENT_PART__PART_TEXT:
            self = .text(try CField.string(c.pointee.text, "ContentPart.text"))
        case FLEXINFERENCE__V1__CONTENT_PART__PART_IMAGE:
            guard let image = c.pointee.image else { throw FlexCodecError.invalidProtobuf(Self.messageName) }
            self = .image(try ImagePart(c: image))
        default:
            throw FlexCodecError(code: .missingField, message: "ContentPart has neither text nor image")
        }
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        switch self {
        case .text(let text):
            c.pointee.part_case = FLEXINFERENCE__V1__CONTENT_PART__PART_TEXT
            c.pointee.text = try arena.copy(text, field: "ContentPart.text")
        case .image(let image):
            c.pointee.part_case = FLEXINFERENCE__V1__CONTENT_PART__PART_IMAGE
            c.pointee.image = try image.makeC(arena: arena)
        }
    }
}

extension ToolCall: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ToolCall
    static let messageName = "flexinference.v1.ToolCall"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__tool_call__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            id: try CField.string(c.pointee.id, "ToolCall.id"),
            name: try CField.string(c.pointee.name, "ToolCall.name"),
            argumentsJSON: try CField.string(c.pointee.arguments_json, "ToolCall.arguments_json")
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        try CField.setString(&c.pointee.id, self.id, "ToolCall.id", arena: arena)
        try CField.setString(&c.pointee.name, self.name, "ToolCall.name", arena: arena)
        try CField.setString(&c.pointee.arguments_json, self.argumentsJSON, "ToolCall.arguments_json", arena: arena)
    }
}

extension ChatMessage: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ChatMessage
    static let messageName = "flexinference.v1.ChatMessage"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__chat_message__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            role: try CField.optionalEnum(c.pointee.role.rawValue, Role.self),
            content: try ContentPart.decodeArray(c.pointee.n_content, c.pointee.content),
            toolCalls: try ToolCall.decodeArray(c.pointee.n_tool_calls, c.pointee.tool_calls),
            toolCallID: try CField.string(c.pointee.tool_call_id, "ChatMessage.tool_call_id"),
            name: try CField.string(c.pointee.name, "ChatMessage.name")
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.role = Flexinference__V1__Role(rawValue: CField.rawEnum(self.role))
        (c.pointee.n_content, c.pointee.content) = try self.content.makeCArray(arena: arena)
        (c.pointee.n_tool_calls, c.pointee.tool_calls) = try self.toolCalls.makeCArray(arena: arena)
        try CField.setString(&c.pointee.tool_call_id, self.toolCallID, "ChatMessage.tool_call_id", arena: arena)
        try CField.setString(&c.pointee.name, self.name, "ChatMessage.name", arena: arena)
    }
}

extension ToolDefinition: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ToolDefinition
    static let messageName = "flexinference.v1.ToolDefinition"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__tool_definition__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            name: try CField.string(c.pointee.name, "ToolDefinition.name"),
            description: try CField.string(c.pointee.description, "ToolDefinition.description"),
            parametersJSONSchema: try CField.string(
                c.pointee.parameters_json_schema,
                "ToolDefinition.parameters_json_schema"
            ),
            strict: c.pointee.strict != 0
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        try CField.setString(&c.pointee.name, self.name, "ToolDefinition.name", arena: arena)
        try CField.setString(&c.pointee.description, self.description, "ToolDefinition.description", arena: arena)
        try CField.setString(
            &c.pointee.parameters_json_schema,
            self.parametersJSONSchema,
            "ToolDefinition.parameters_json_schema",
            arena: arena
        )
        c.pointee.strict = self.strict ? 1 : 0
    }
}

extension ToolChoice: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ToolChoice
    static let messageName = "flexinference.v1.ToolChoice"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__tool_choice__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            mode: try CField.enumValue(c.pointee.mode.rawValue, ToolChoiceMode.self),
            name: try CField.string(c.pointee.name, "ToolChoice.name")
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.mode = Flexinference__V1__ToolChoiceMode(rawValue: CField.rawEnum(self.mode))
        try CField.setString(&c.pointee.name, self.name, "ToolChoice.name", arena: arena)
    }
}

extension ResponseFormat: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ResponseFormat
    static let messageName = "flexinference.v1.ResponseFormat"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__response_format__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            type: try CField.enumValue(c.pointee.type.rawValue, ResponseFormatType.self),
            name: try CField.string(c.pointee.name, "ResponseFormat.name"),
            jsonSchema: try CField.string(c.pointee.json_schema, "ResponseFormat.json_schema"),
            strict: c.pointee.strict != 0
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.type = Flexinference__V1__ResponseFormatType(rawValue: CField.rawEnum(self.type))
        try CField.setString(&c.pointee.name, self.name, "ResponseFormat.name", arena: arena)
        try CField.setString(&c.pointee.json_schema, self.jsonSchema, "ResponseFormat.json_schema", arena: arena)
        c.pointee.strict = self.strict ? 1 : 0
    }
}

extension ChatRequest: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ChatRequest
    static let messageName = "flexinference.v1.ChatRequest"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__chat_request__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let r = c.pointee
        self.init(
            messages: try ChatMessage.decodeArray(r.n_messages, r.messages),
            tools: try ToolDefinition.decodeArray(r.n_tools, r.tools),
            toolChoice: try ToolChoice.decode(r.tool_choice),
            parallelToolCalls: r.optional_parallel_tool_calls_case
                == FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_PARALLEL_TOOL_CALLS_PARALLEL_TOOL_CALLS
                ? r.parallel_tool_calls != 0 : nil,
            responseFormat: try ResponseFormat.decode(r.response_format),
            temperature: r.optional_temperature_case
                == FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_TEMPERATURE_TEMPERATURE
                ? r.temperature : nil,
            topP: r.optional_top_p_case == FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_TOP_P_TOP_P ? r.top_p : nil,
            maxOutputTokens: r.optional_max_output_tokens_case
                == FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_MAX_OUTPUT_TOKENS_MAX_OUTPUT_TOKENS
                ? r.max_output_tokens : nil,
            stop: try CField.strings(r.n_stop, r.stop, "ChatRequest.stop"),
            reasoningEffort: try CField.optionalEnum(r.reasoning_effort.rawValue, ReasoningEffort.self),
            seed: r.optional_seed_case == FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_SEED_SEED ? r.seed : nil,
            metadata: try CField.map(r.n_metadata, r.metadata, "ChatRequest.metadata") {
                ($0.pointee.key, $0.pointee.value)
            }
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        (c.pointee.n_messages, c.pointee.messages) = try self.messages.makeCArray(arena: arena)
        (c.pointee.n_tools, c.pointee.tools) = try self.tools.makeCArray(arena: arena)
        c.pointee.tool_choice = try self.toolChoice?.makeC(arena: arena)
        if let parallelToolCalls = self.parallelToolCalls {
            c.pointee.optional_parallel_tool_calls_case =
                FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_PARALLEL_TOOL_CALLS_PARALLEL_TOOL_CALLS
            c.pointee.parallel_tool_calls = parallelToolCalls ? 1 : 0
        }
        c.pointee.response_format = try self.responseFormat?.makeC(arena: arena)
        if let temperature = self.temperature {
            c.pointee.optional_temperature_case = FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_TEMPERATURE_TEMPERATURE
            c.pointee.temperature = temperature
        }
        if let topP = self.topP {
            c.pointee.optional_top_p_case = FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_TOP_P_TOP_P
            c.pointee.top_p = topP
        }
        if let maxOutputTokens = self.maxOutputTokens {
            c.pointee.optional_max_output_tokens_case =
                FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_MAX_OUTPUT_TOKENS_MAX_OUTPUT_TOKENS
            c.pointee.max_output_tokens = maxOutputTokens
        }
        (c.pointee.n_stop, c.pointee.stop) = try CField.setStrings(self.stop, "ChatRequest.stop", arena: arena)
        c.pointee.reasoning_effort = Flexinference__V1__ReasoningEffort(rawValue: CField.rawEnum(self.reasoningEffort))
        if let seed = self.seed {
            c.pointee.optional_seed_case = FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_SEED_SEED
            c.pointee.seed = seed
        }
        (c.pointee.n_metadata, c.pointee.metadata) = try CField.setMap(
            self.metadata,
            "ChatRequest.metadata",
            arena: arena,
            initEntry: flexinference__v1__chat_request__metadata_entry__init,
            setEntry: { entry, key, value in
                entry.pointee.key = key
                entry.pointee.value = value
            }
        )
    }
}

extension ChatResult: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ChatResult
    static let messageName = "flexinference.v1.ChatResult"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__chat_result__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let r = c.pointee
        self.init(
            id: try CField.string(r.id, "ChatResult.id"),
            model: try CField.string(r.model, "ChatResult.model"),
            text: try CField.string(r.text, "ChatResult.text"),
            refusal: try CField.string(r.refusal, "ChatResult.refusal"),
            toolCalls: try ToolCall.decodeArray(r.n_tool_calls, r.tool_calls),
            reasoningSummary: try CField.string(r.reasoning_summary, "ChatResult.reasoning_summary"),
            finishReason: try CField.optionalEnum(r.finish_reason.rawValue, FinishReason.self),
            nativeFinishReason: try CField.string(r.native_finish_reason, "ChatResult.native_finish_reason"),
            usage: try TokenUsage.decode(r.usage)
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        try CField.setString(&c.pointee.id, self.id, "ChatResult.id", arena: arena)
        try CField.setString(&c.pointee.model, self.model, "ChatResult.model", arena: arena)
        try CField.setString(&c.pointee.text, self.text, "ChatResult.text", arena: arena)
        try CField.setString(&c.pointee.refusal, self.refusal, "ChatResult.refusal", arena: arena)
        (c.pointee.n_tool_calls, c.pointee.tool_calls) = try self.toolCalls.makeCArray(arena: arena)
        try CField.setString(
            &c.pointee.reasoning_summary,
            self.reasoningSummary,
            "ChatResult.reasoning_summary",
            arena: arena
        )
        c.pointee.finish_reason = Flexinference__V1__FinishReason(rawValue: CField.rawEnum(self.finishReason))
        try CField.setString(
            &c.pointee.native_finish_reason,
            self.nativeFinishReason,
            "ChatResult.native_finish_reason",
            arena: arena
        )
        c.pointee.usage = try self.usage?.makeC(arena: arena)
    }
}
