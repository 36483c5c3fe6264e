internal import FlexJSON

/// The shapes of tools, tool choices, calls, results and image parts, as each API documents them.
///
/// Typed requests are translated into these structures by flexd, so flexsim checks them as the
/// real APIs do (required fields, types, enum values, unknown keys) rather than reading only the
/// fields the simulation needs: a request flexsim accepts is one the provider would accept.
extension Check {
    // MARK: OpenAI

    /// A Chat Completions assistant `tool_calls` entry.
    func chatToolCall(_ value: JSONValue, _ path: String) throws(ProviderError) {
        let call = try self.object(value, path)
        try self.only(call, ["id", "type", "function", "custom"], path)
        _ = try self.string(try self.required(call, "id", path), self.path(path, "id"))
        let type = try self.enumValue(call, "type", path, ["function", "custom"]) ?? "function"
        let function = try self.object(try self.required(call, type, path), self.path(path, type))
        let functionPath = self.path(path, type)
        try self.only(function, type == "function" ? ["name", "arguments"] : ["name", "input"], functionPath)
        _ = try self.string(try self.required(function, "name", functionPath), self.path(functionPath, "name"))
        if type == "function" {
            _ = try self.string(
                try self.required(function, "arguments", functionPath),
                self.path(functionPath, "arguments")
            )
        }
    }

    /// A Chat Completions `image_url` content part's object.
    func chatImageURL(_ image: JSONObject, _ path: String) throws(ProviderError) {
        try self.only(image, ["url", "detail"], path)
        _ = try self.enumValue(image, "detail", path, ["auto", "low", "high"])
    }

    /// A Responses `input_image` content part.
    func responsesInputImage(_ part: JSONObject, _ path: String) throws(ProviderError) {
        try self.only(part, ["type", "image_url", "file_id", "detail"], path)
        guard part["image_url"] != nil || part["file_id"] != nil else {
            throw self.missing(self.path(path, "image_url"))
        }
        _ = try self.optionalString(part, "image_url", path)
        _ = try self.enumValue(part, "detail", path, ["low", "high", "auto"])
    }

    /// A Responses `function` tool.
    func responsesFunctionTool(_ tool: JSONObject, _ path: String) throws(ProviderError) {
        try self.only(tool, ["type", "name", "description", "parameters", "strict"], path)
        _ = try self.optionalString(tool, "description", path)
        if let parameters = tool["parameters"], !parameters.isNull {
            _ = try self.object(parameters, self.path(path, "parameters"))
        }
        _ = try self.bool(tool, "strict", path)
    }

    // MARK: Anthropic

    /// A client tool (no `type`, or `custom`); server tools have their own shapes and are not
    /// checked here.
    func anthropicTool(_ tool: JSONObject, _ path: String) throws(ProviderError) {
        guard tool["type"] == nil || tool["type"]?.string == "custom" else { return }
        try self.only(
            tool,
            [
                "type", "name", "description", "input_schema", "cache_control", "strict", "input_examples",
                "defer_loading",
                "allowed_callers", "eager_input_streaming",
            ],
            path
        )
        _ = try self.optionalString(tool, "description", path)
        let schema = try self.object(try self.required(tool, "input_schema", path), "\(path).input_schema")
        guard schema["type"]?.string == "object" else {
            throw self.invalid("\(path).input_schema.type: Input should be 'object'")
        }
        _ = try self.bool(tool, "strict", path)
    }

    func anthropicToolChoice(_ choice: JSONObject, type: String?) throws(ProviderError) {
        switch type {
        case "tool": try self.only(choice, ["type", "name", "disable_parallel_tool_use"], "tool_choice")
        case "none": try self.only(choice, ["type"], "tool_choice")
        default: try self.only(choice, ["type", "disable_parallel_tool_use"], "tool_choice")
        }
    }

    /// A `tool_use` or `tool_result` block beyond its required fields.
    func anthropicToolBlock(_ block: JSONObject, type: String, _ path: String) throws(ProviderError) {
        if type == "tool_use" {
            try self.only(block, ["type", "id", "name", "input", "cache_control", "caller"], path)
            return
        }
        try self.only(block, ["type", "tool_use_id", "content", "is_error", "cache_control"], path)
        _ = try self.bool(block, "is_error", path)
        switch block["content"] {
        case nil, .string?: break
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                let itemPath = "\(path).content.\(index)"
                let object = try self.object(item, itemPath)
                _ = try self.enumValue(object, "type", itemPath, ["text", "image", "search_result", "document"])
                if object["type"] == nil { throw self.missing("\(itemPath).type") }
            }
        case let other?: throw self.wrongType("\(path).content", expected: "valid list", got: other)
        }
    }

    func anthropicOutputConfig(_ config: JSONObject) throws(ProviderError) {
        try self.only(config, ["format", "effort"], "output_config")
        _ = try self.enumValue(config, "effort", "output_config", ["low", "medium", "high", "xhigh", "max"])
        if let format = config["format"], !format.isNull {
            try self.only(try self.object(format, "output_config.format"), ["type", "schema"], "output_config.format")
        }
    }

    // MARK: Gemini generateContent

    /// A `functionDeclarations` entry.
    func geminiFunctionDeclaration(_ declaration: JSONObject, _ path: String) throws(ProviderError) {
        try self.only(
            declaration,
            [
                "name", "description", "parameters", "parametersJsonSchema", "parameters_json_schema", "response",
                "responseJsonSchema", "response_json_schema", "behavior",
            ],
            path
        )
        let schemas = ["parameters", "parametersJsonSchema", "parameters_json_schema"].filter { declaration[$0] != nil }
        if schemas.count > 1 {
            throw self.invalid(
                "* \(self.geminiMessage).\(path): parameters and parameters_json_schema cannot both be set."
            )
        }
        if let key = schemas.first { _ = try self.object(declaration[key] ?? .null, "\(path).\(key)") }
    }

    /// `toolConfig.functionCallingConfig`.
    func geminiFunctionCallingConfig(_ config: JSONObject, _ path: String) throws(ProviderError) {
        try self.only(config, ["mode", "allowedFunctionNames", "allowed_function_names"], path)
        let mode = try self.optionalString(config, "mode", path)?.uppercased()
        let modes = ["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"]
        if let mode, !modes.contains(mode) { throw self.badValue("\(path).mode", mode, allowed: modes) }
        if let names = config["allowedFunctionNames"] ?? config["allowed_function_names"] {
            for (index, name) in try self.array(names, "\(path).allowed_function_names").enumerated() {
                _ = try self.string(name, "\(path).allowed_function_names[\(index)]")
            }
            guard mode == "ANY" || mode == "VALIDATED" else {
                throw self.invalid(
                    "* \(self.geminiMessage).\(path).allowed_function_names: allowed_function_names can only be set when mode is ANY or VALIDATED."
                )
            }
        }
    }

    /// The call, response and file parts' own fields.
    func geminiPart(_ part: JSONObject, _ path: String) throws(ProviderError) {
        if let value = part["functionCall"] ?? part["function_call"] {
            let call = try self.object(value, "\(path).function_call")
            try self.only(call, ["id", "name", "args", "partialArgs", "willContinue"], "\(path).function_call")
            _ = try self.string(try self.required(call, "name", "\(path).function_call"), "\(path).function_call.name")
            if let args = call["args"] { _ = try self.object(args, "\(path).function_call.args") }
        }
        if let value = part["functionResponse"] ?? part["function_response"] {
            let response = try self.object(value, "\(path).function_response")
            try self.only(
                response,
                ["id", "name", "response", "parts", "willContinue", "scheduling"],
                "\(path).function_response"
            )
            _ = try self.string(
                try self.required(response, "name", "\(path).function_response"),
                "\(path).function_response.name"
            )
            _ = try self.object(
                try self.required(response, "response", "\(path).function_response"),
                "\(path).function_response.response"
            )
        }
        if let value = part["fileData"] ?? part["file_data"] {
            let file = try self.object(value, "\(path).file_data")
            try self.only(file, ["mimeType", "mime_type", "fileUri", "file_uri", "displayName"], "\(path).file_data")
            guard let uri = file["fileUri"] ?? file["file_uri"] else {
                throw self.missing("\(path).file_data.file_uri")
            }
            _ = try self.string(uri, "\(path).file_data.file_uri")
        }
        if let signature = part["thoughtSignature"] ?? part["thought_signature"] {
            _ = try self.string(signature, "\(path).thought_signature")
        }
    }

    // MARK: Gemini Interactions

    /// An input step's own fields (the types are checked by the caller).
    func interactionsStep(_ step: JSONObject, type: String, _ path: String) throws(ProviderError) {
        switch type {
        case "user_input", "model_output":
            try self.only(step, ["type", "content"], path)
            for (index, item) in try self.array(step["content"] ?? [], "\(path).content").enumerated() {
                try self.interactionsContent(
                    try self.object(item, "\(path).content[\(index)]"),
                    "\(path).content[\(index)]"
                )
            }
        case "function_call":
            try self.only(step, ["type", "id", "name", "arguments", "signature"], path)
            for key in ["id", "name"] { _ = try self.string(try self.required(step, key, path), "\(path).\(key)") }
            _ = try self.object(try self.required(step, "arguments", path), "\(path).arguments")
        case "function_result":
            try self.only(step, ["type", "call_id", "name", "result", "is_error", "signature"], path)
            _ = try self.string(try self.required(step, "call_id", path), "\(path).call_id")
            _ = try self.optionalString(step, "name", path)
            _ = try self.required(step, "result", path)
            _ = try self.bool(step, "is_error", path)
        case "text", "image", "audio", "video", "document":
            try self.interactionsContent(step, path)
        default:
            break
        }
    }

    func interactionsContent(_ item: JSONObject, _ path: String) throws(ProviderError) {
        let type = try self.string(try self.required(item, "type", path), "\(path).type")
        switch type {
        case "text":
            try self.only(item, ["type", "text", "annotations"], path)
        case "image", "audio", "video", "document":
            try self.only(item, ["type", "data", "uri", "mime_type", "resolution", "caption"], path)
            guard item["data"] != nil || item["uri"] != nil else { throw self.missing("\(path).data") }
            _ = try self.enumValue(item, "resolution", path, ["low", "medium", "high", "ultra_high"])
        default:
            break
        }
    }

    /// `generation_config.tool_choice`: a mode, or `{"allowed_tools": {"mode", "tools"}}`.
    func interactionsToolChoice(_ value: JSONValue) throws(ProviderError) {
        let modes = ["auto", "any", "none", "validated"]
        if let mode = value.string {
            guard modes.contains(mode) else {
                throw self.badValue("generation_config.tool_choice", mode, allowed: modes)
            }
            return
        }
        let object = try self.object(value, "generation_config.tool_choice")
        try self.only(object, ["allowed_tools"], "generation_config.tool_choice")
        let allowed = try self.object(
            try self.required(object, "allowed_tools", "generation_config.tool_choice"),
            "generation_config.tool_choice.allowed_tools"
        )
        try self.only(allowed, ["mode", "tools"], "generation_config.tool_choice.allowed_tools")
        _ = try self.enumValue(allowed, "mode", "generation_config.tool_choice.allowed_tools", modes)
        for (index, name) in try self.array(allowed["tools"] ?? [], "generation_config.tool_choice.allowed_tools.tools")
            .enumerated()
        {
            _ = try self.string(name, "generation_config.tool_choice.allowed_tools.tools[\(index)]")
        }
    }

    /// A `response_format` entry.
    func interactionsResponseFormat(_ value: JSONValue) throws(ProviderError) {
        let format = try self.object(value, "response_format")
        guard format["type"]?.string == "text" else { return }  // audio and image formats are not simulated
        try self.only(format, ["type", "mime_type", "schema"], "response_format")
        _ = try self.enumValue(format, "mime_type", "response_format", ["application/json", "text/plain"])
        if let schema = format["schema"], !schema.isNull { _ = try self.object(schema, "response_format.schema") }
    }
}
