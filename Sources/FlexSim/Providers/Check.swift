internal import FlexCatalog
internal import FlexCore
internal import FlexJSON

/// Reads typed fields out of a request body and turns every problem into the provider's own
/// validation error (wording and paths in each provider's style).
struct Check {
    let provider: Provider
    /// Gemini names the request message in its errors (`GenerateContentRequest`).
    var geminiMessage = "GenerateContentRequest"

    func path(_ parent: String, _ key: String) -> String {
        if parent.isEmpty { return key }
        return "\(parent).\(key)"
    }

    func path(_ parent: String, index: Int) -> String {
        switch self.provider {
        case .anthropic: "\(parent).\(index)"
        default: "\(parent)[\(index)]"
        }
    }

    func invalid(_ message: String, param: String? = nil, code: String? = nil) -> ProviderError {
        switch self.provider {
        case .openAI:
            ProviderError(
                status: 400,
                type: "invalid_request_error",
                message: message,
                param: param,
                code: code,
                ledgerReason: "invalid_request"
            )
        case .anthropic:
            ProviderError(status: 400, type: "invalid_request_error", message: message, ledgerReason: "invalid_request")
        case .gemini:
            ProviderError(status: 400, type: "INVALID_ARGUMENT", message: message, ledgerReason: "invalid_request")
        }
    }

    func missing(_ path: String) -> ProviderError {
        switch self.provider {
        case .openAI:
            self.invalid("Missing required parameter: '\(path)'.", param: path, code: "missing_required_parameter")
        case .anthropic: self.invalid("\(path): Field required")
        case .gemini:
            self.invalid(
                "* \(self.geminiMessage).\(path): \(path.split(separator: ".").last.map(String.init) ?? path) is not specified"
            )
        }
    }

    func wrongType(_ path: String, expected: String, got value: JSONValue) -> ProviderError {
        switch self.provider {
        case .openAI:
            self.invalid(
                "Invalid type for '\(path)': expected \(expected), but got \(Self.article(value.typeName)) instead.",
                param: path,
                code: "invalid_type"
            )
        case .anthropic:
            self.invalid("\(path): Input should be \(Self.article(expected))")
        case .gemini:
            self.invalid(
                "Invalid JSON payload received. Invalid value at '\(path)' (\(expected)), \(value.jsonString.prefix(60))"
            )
        }
    }

    func badValue(_ path: String, _ value: String, allowed: [String]) -> ProviderError {
        switch self.provider {
        case .openAI:
            self.invalid(
                "Invalid value: '\(value)'. Supported values are: \(allowed.map { "'\($0)'" }.joined(separator: ", ")).",
                param: path,
                code: "invalid_value"
            )
        case .anthropic:
            self.invalid("\(path): Input should be \(Self.orList(allowed.map { "'\($0)'" }))")
        case .gemini:
            self.invalid(
                "Invalid value at '\(path)', \"\(value)\". Allowed values: \(allowed.joined(separator: ", "))."
            )
        }
    }

    func unknown(_ path: String) -> ProviderError {
        switch self.provider {
        case .openAI:
            self.invalid("Unrecognized request argument supplied: \(path)", param: path, code: "unknown_parameter")
        case .anthropic: self.invalid("\(path): Extra inputs are not permitted")
        case .gemini:
            self.invalid(
                "Invalid JSON payload received. Unknown name \"\(path.split(separator: ".").last.map(String.init) ?? path)\"\(path.contains(".") ? " at '\(path.split(separator: ".").dropLast().joined(separator: "."))'" : ""): Cannot find field."
            )
        }
    }

    static func orList(_ items: [String]) -> String {
        items.count < 2 ? items.joined() : items.dropLast().joined(separator: ", ") + " or " + items[items.count - 1]
    }

    static func article(_ noun: String) -> String {
        ["a", "e", "i", "o", "u"].contains(noun.prefix(1)) ? "an \(noun)" : "a \(noun)"
    }

    // MARK: Typed readers

    func object(_ value: JSONValue, _ path: String) throws(ProviderError) -> JSONObject {
        guard let object = value.object else { throw self.wrongType(path, expected: "object", got: value) }
        return object
    }

    /// Rejects keys not in `allowed`.
    func only(_ object: JSONObject, _ allowed: Set<String>, _ path: String) throws(ProviderError) {
        for key in object.keys where !allowed.contains(key) { throw self.unknown(self.path(path, key)) }
    }

    func required(_ object: JSONObject, _ key: String, _ path: String) throws(ProviderError) -> JSONValue {
        guard let value = object[key], !value.isNull || self.provider == .gemini else {
            throw self.missing(self.path(path, key))
        }
        return value
    }

    func string(_ value: JSONValue, _ path: String) throws(ProviderError) -> String {
        guard let text = value.string else { throw self.wrongType(path, expected: "string", got: value) }
        return text
    }

    func optionalString(_ object: JSONObject, _ key: String, _ path: String) throws(ProviderError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        return try self.string(value, self.path(path, key))
    }

    func bool(_ object: JSONObject, _ key: String, _ path: String) throws(ProviderError) -> Bool? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let flag = value.bool else { throw self.wrongType(self.path(path, key), expected: "boolean", got: value) }
        return flag
    }

    func int(_ object: JSONObject, _ key: String, _ path: String, min: Int64? = nil) throws(ProviderError) -> Int? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let number = value.int else {
            throw self.wrongType(self.path(path, key), expected: "integer", got: value)
        }
        if let min, number < min {
            switch self.provider {
            case .openAI:
                throw self.invalid(
                    "Invalid '\(self.path(path, key))': integer below minimum value. Expected a value >= \(min), but got \(number) instead.",
                    param: self.path(path, key),
                    code: "integer_below_min_value"
                )
            case .anthropic:
                throw self.invalid("\(self.path(path, key)): Input should be greater than or equal to \(min)")
            case .gemini: throw self.invalid("Invalid value at '\(self.path(path, key))': must be >= \(min)")
            }
        }
        return Int(clamping: number)
    }

    func number(_ object: JSONObject, _ key: String, _ path: String, range: ClosedRange<Double>) throws(ProviderError) {
        guard let value = object[key], !value.isNull else { return }
        guard let number = value.number else {
            throw self.wrongType(self.path(path, key), expected: "number", got: value)
        }
        guard range.contains(number) else {
            let p = self.path(path, key)
            switch self.provider {
            case .openAI:
                throw self.invalid(
                    "Invalid '\(p)': number must be between \(range.lowerBound) and \(range.upperBound), got \(number).",
                    param: p,
                    code: "invalid_value"
                )
            case .anthropic:
                throw self.invalid("\(p): Input should be between \(range.lowerBound) and \(range.upperBound)")
            case .gemini:
                throw self.invalid(
                    "Invalid value at '\(p)': \(number) is out of range [\(range.lowerBound), \(range.upperBound)]"
                )
            }
        }
    }

    func array(_ value: JSONValue, _ path: String) throws(ProviderError) -> [JSONValue] {
        guard let items = value.array else { throw self.wrongType(path, expected: "array", got: value) }
        return items
    }

    func enumValue(
        _ object: JSONObject,
        _ key: String,
        _ path: String,
        _ allowed: [String]
    ) throws(ProviderError) -> String? {
        guard let text = try self.optionalString(object, key, path) else { return nil }
        guard allowed.contains(text) else { throw self.badValue(self.path(path, key), text, allowed: allowed) }
        return text
    }
}
