internal import FlexCore
internal import FlexJSON
internal import NIOCore

/// A typed request after the checks every provider needs, holding what the five translators share:
/// tool schemas and call arguments parsed, images resolved to a URL or inline base64, and the
/// conversation split into its leading instructions and the turns after them.
///
/// Checking once here means a malformed request gets the same `invalid_chat_request` error whatever
/// provider it was meant for, and the translators only decide what their API can express.
struct TypedRequest {
    let chat: ChatRequest
    let api: Api
    let model: String
    let tools: [Tool]
    let messages: [Message]
    /// The response format's schema, parsed (only for ``ResponseFormatType/jsonSchema``).
    let responseSchema: JSONValue?

    /// A tool with its parameter schema parsed.
    struct Tool {
        var name: String
        var description: String
        /// A JSON object (an empty schema becomes `{"type":"object","properties":{}}`).
        var parameters: JSONValue
        var strict: Bool
    }

    /// One message, checked.
    struct Message {
        var index: Int
        var role: Role
        var parts: [Part]
        var toolCalls: [Call]
        var toolCallID: String
        var name: String

        /// The message's path in the typed request, for error messages.
        var field: String { "chat.messages[\(self.index)]" }

        /// The text parts in order.
        var texts: [String] {
            self.parts.compactMap { if case .text(let text) = $0 { text } else { nil } }
        }

        /// The only part is text (the APIs that accept a plain string take it as one).
        var singleText: String? {
            guard self.parts.count == 1, case .text(let text) = self.parts[0] else { return nil }
            return text
        }

        var images: [Image] {
            self.parts.compactMap { if case .image(let image) = $0 { image } else { nil } }
        }
    }

    enum Part {
        case text(String)
        case image(Image)
    }

    /// An image, resolved: an http(s) (or other) URL, or inline base64 bytes with their media type
    /// (from ``ImagePart/Source/data(_:)`` or a `data:` URL).
    struct Image {
        enum Source: Equatable {
            case url(String)
            case inline(mediaType: String, base64: String)
        }

        var source: Source
        var detail: ImageDetail
        /// The part's path, e.g. `chat.messages[0].content[1].image`.
        var field: String
        /// The media type: the inline data's, else the one the caller gave for the URL, else the
        /// one the URL's extension names, else "".
        var mediaType: String

        /// The image as one URL (a `data:` URL for inline bytes), for the APIs that take URLs only.
        var url: String {
            switch self.source {
            case .url(let url): url
            case .inline(let mediaType, let base64): "data:\(mediaType);base64,\(base64)"
            }
        }
    }

    /// An assistant's tool call, its arguments parsed.
    struct Call {
        var id: String
        var name: String
        /// The arguments as the caller sent them (`{}` when empty).
        var argumentsText: String
        /// The arguments, a JSON object.
        var arguments: JSONObject
    }

    init(_ chat: ChatRequest, api: Api, model: String) throws(RouterError) {
        self.chat = chat
        self.api = api
        self.model = model
        guard !chat.messages.isEmpty else {
            throw RouterError.invalidChatRequest("chat.messages", "send at least one message")
        }
        var messages: [Message] = []
        messages.reserveCapacity(chat.messages.count)
        for (index, message) in chat.messages.enumerated() {
            messages.append(try Self.check(message, index: index, api: api))
        }
        self.messages = messages

        var tools: [Tool] = []
        var names: Set<String> = []
        for (index, tool) in chat.tools.enumerated() {
            let field = "chat.tools[\(index)]"
            guard !tool.name.isEmpty else {
                throw RouterError.invalidChatRequest("\(field).name", "a tool needs a name")
            }
            guard names.insert(tool.name).inserted else {
                throw RouterError.invalidChatRequest("\(field).name", "two tools are named \(tool.name.prefix(64))")
            }
            let parameters: JSONValue =
                tool.parametersJSONSchema.isEmpty
                ? ["type": "object", "properties": [:]]
                : .object(
                    try Self.object(
                        tool.parametersJSONSchema,
                        "\(field).parameters_json_schema",
                        "the parameters' JSON schema"
                    )
                )
            tools.append(
                Tool(name: tool.name, description: tool.description, parameters: parameters, strict: tool.strict)
            )
        }
        self.tools = tools

        if let choice = chat.toolChoice {
            switch choice.mode {
            case .named:
                guard !choice.name.isEmpty else {
                    throw RouterError.invalidChatRequest(
                        "chat.tool_choice.name",
                        "a named tool choice needs the tool's name"
                    )
                }
                guard names.contains(choice.name) else {
                    throw RouterError.invalidChatRequest(
                        "chat.tool_choice.name",
                        "no tool is named \(choice.name.prefix(64))"
                    )
                }
            case .required:
                guard !tools.isEmpty else {
                    throw RouterError.invalidChatRequest(
                        "chat.tool_choice",
                        "a required tool call needs at least one tool"
                    )
                }
            case .auto, .none:
                break
            }
        }

        if let format = chat.responseFormat, format.type == .jsonSchema {
            guard !format.jsonSchema.isEmpty else {
                throw RouterError.invalidChatRequest(
                    "chat.response_format.json_schema",
                    "a JSON schema response format needs its schema"
                )
            }
            self.responseSchema = .object(
                try Self.object(format.jsonSchema, "chat.response_format.json_schema", "the response's JSON schema")
            )
        } else {
            self.responseSchema = nil
        }
        if let maximum = chat.maxOutputTokens, maximum == 0 {
            throw RouterError.invalidChatRequest(
                "chat.max_output_tokens",
                "must be at least 1 (leave it unset for the provider's default)"
            )
        }
    }

    // MARK: Checks

    private static func check(_ message: ChatMessage, index: Int, api: Api) throws(RouterError) -> Message {
        let field = "chat.messages[\(index)]"
        guard let role = message.role else { throw RouterError.invalidChatRequest("\(field).role", "set the role") }
        var parts: [Part] = []
        parts.reserveCapacity(message.content.count)
        for (partIndex, part) in message.content.enumerated() {
            switch part {
            case .text(let text):
                parts.append(.text(text))
            case .image(let image):
                parts.append(.image(try Self.resolve(image, field: "\(field).content[\(partIndex)].image")))
            }
        }
        var calls: [Call] = []
        for (callIndex, call) in message.toolCalls.enumerated() {
            let callField = "\(field).tool_calls[\(callIndex)]"
            guard role == .assistant else {
                throw RouterError.invalidChatRequest(callField, "only assistant messages carry tool calls")
            }
            guard !call.id.isEmpty else {
                throw RouterError.invalidChatRequest("\(callField).id", "a tool call needs its id")
            }
            guard !call.name.isEmpty else {
                throw RouterError.invalidChatRequest("\(callField).name", "a tool call needs the tool's name")
            }
            let text = call.argumentsJSON.isEmpty ? "{}" : call.argumentsJSON
            let arguments = try Self.object(text, "\(callField).arguments_json", "the call's arguments")
            calls.append(Call(id: call.id, name: call.name, argumentsText: text, arguments: arguments))
        }
        switch role {
        case .tool:
            guard !message.toolCallID.isEmpty else {
                throw RouterError.invalidChatRequest(
                    "\(field).tool_call_id",
                    "a tool result needs the id of the call it answers"
                )
            }
        case .assistant:
            guard !parts.isEmpty || !calls.isEmpty else {
                throw RouterError.invalidChatRequest(
                    "\(field).content",
                    "an assistant message needs content or tool calls"
                )
            }
        case .system, .developer, .user:
            guard !parts.isEmpty else {
                throw RouterError.invalidChatRequest("\(field).content", "the message has no content")
            }
        }
        if role != .tool && !message.toolCallID.isEmpty {
            throw RouterError.invalidChatRequest("\(field).tool_call_id", "only tool messages answer a call")
        }
        if role != .user && role != .tool,
            let image = parts.lazy.compactMap({ part -> Image? in
                if case .image(let image) = part { image } else { nil }
            }).first
        {
            throw RouterError.unsupportedForProvider(
                image.field,
                api: api,
                "images can only be sent in user and tool messages"
            )
        }
        return Message(
            index: index,
            role: role,
            parts: parts,
            toolCalls: calls,
            toolCallID: message.toolCallID,
            name: message.name
        )
    }

    private static func resolve(_ image: ImagePart, field: String) throws(RouterError) -> Image {
        switch image.source {
        case nil:
            throw RouterError.invalidChatRequest(field, "an image needs a url or data")
        case .data(let bytes)?:
            guard !image.mediaType.isEmpty else {
                throw RouterError.invalidChatRequest(
                    "\(field).media_type",
                    "inline image data needs its media type, e.g. image/png"
                )
            }
            guard bytes.readableBytes > 0 else {
                throw RouterError.invalidChatRequest("\(field).data", "the image data is empty")
            }
            return Image(
                source: .inline(mediaType: image.mediaType, base64: Base64.encode(bytes.readableBytesView)),
                detail: image.detail,
                field: field,
                mediaType: image.mediaType
            )
        case .url(let url)?:
            guard !url.isEmpty else { throw RouterError.invalidChatRequest("\(field).url", "the image url is empty") }
            guard url.hasPrefix("data:") else {
                let mediaType = image.mediaType.isEmpty ? Self.mediaType(ofURL: url) : image.mediaType
                return Image(source: .url(url), detail: image.detail, field: field, mediaType: mediaType)
            }
            // data:<media type>;base64,<payload>
            guard let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") else {
                throw RouterError.invalidChatRequest(
                    "\(field).url",
                    "a data: URL must be base64 (data:<media type>;base64,<data>)"
                )
            }
            let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].dropLast(";base64".count)
            let mediaType = header.isEmpty ? image.mediaType : String(header)
            let payload = String(url[url.index(after: comma)...])
            guard !mediaType.isEmpty, !payload.isEmpty else {
                throw RouterError.invalidChatRequest("\(field).url", "a data: URL needs a media type and data")
            }
            return Image(
                source: .inline(mediaType: mediaType, base64: payload),
                detail: image.detail,
                field: field,
                mediaType: mediaType
            )
        }
    }

    /// The image media type a URL's path extension names, or "".
    static func mediaType(ofURL url: String) -> String {
        let path = url.prefix { $0 != "?" && $0 != "#" }
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return "" }
        switch path[path.index(after: dot)...].lowercased() {
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "heic": return "image/heic"
        case "heif": return "image/heif"
        default: return ""
        }
    }

    /// Parses JSON text that must be an object.
    static func object(_ text: String, _ field: String, _ what: String) throws(RouterError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw RouterError.invalidChatRequest(
                field,
                "\(what) is not valid JSON (\(error.reason) at byte \(error.offset))"
            )
        }
        guard let object = value.object else {
            throw RouterError.invalidChatRequest(field, "\(what) must be a JSON object, not \(value.typeName)")
        }
        return object
    }
}
