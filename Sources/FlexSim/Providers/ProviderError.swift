internal import FlexCatalog
internal import FlexCore
internal import FlexJSON

/// An error answered in the provider's own envelope and status.
///
/// - OpenAI: `{"error": {"message", "type", "param", "code"}}`
/// - Anthropic: `{"type": "error", "error": {"type", "message"}, "request_id"}`
/// - Gemini: `{"error": {"code", "message", "status", "details"?}}`
struct ProviderError: Error {
    var status: Int
    /// OpenAI `type`, Anthropic `error.type`, Gemini `status` (e.g. `INVALID_ARGUMENT`).
    var type: String
    var message: String
    var param: String?
    var code: String?
    /// What the ledger says about it (`invalid_request`, `unauthorized`, `model_not_found`, ...).
    var ledgerReason: String
    /// Gemini's `error.details` (google.rpc status details, e.g. an `ErrorInfo` with its `reason`);
    /// left out of the body when empty.
    var details: [JSONValue] = []

    func body(provider: Provider, requestID: String) -> JSONValue {
        switch provider {
        case .openAI:
            return [
                "error": [
                    "message": .string(self.message), "type": .string(self.type), "param": .optional(self.param),
                    "code": .optional(self.code),
                ]
            ]
        case .anthropic:
            return [
                "type": "error", "error": ["type": .string(self.type), "message": .string(self.message)],
                "request_id": .string(requestID),
            ]
        case .gemini:
            var error: JSONObject = [
                "code": .integer(self.status), "message": .string(self.message), "status": .string(self.type),
            ]
            if !self.details.isEmpty { error["details"] = .array(self.details) }
            return ["error": .object(error)]
        }
    }

    // MARK: Common errors per provider

    static func unauthorized(_ provider: Provider, missing: Bool) -> ProviderError {
        switch provider {
        case .openAI:
            return missing
                ? ProviderError(
                    status: 401,
                    type: "invalid_request_error",
                    message:
                        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    code: nil,
                    ledgerReason: "unauthorized"
                )
                : ProviderError(
                    status: 401,
                    type: "invalid_request_error",
                    message: "Incorrect API key provided.",
                    code: "invalid_api_key",
                    ledgerReason: "unauthorized"
                )
        case .anthropic:
            return ProviderError(
                status: 401,
                type: "authentication_error",
                message: missing ? "x-api-key header is required" : "invalid x-api-key",
                ledgerReason: "unauthorized"
            )
        case .gemini:
            // Google answers a request without a key 403, and a key it does not know 400 with an
            // ErrorInfo whose reason says so (its SDKs surface both as client errors).
            if missing {
                return ProviderError(
                    status: 403,
                    type: "PERMISSION_DENIED",
                    message:
                        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
                    ledgerReason: "unauthorized"
                )
            }
            return ProviderError(
                status: 400,
                type: "INVALID_ARGUMENT",
                message: "API key not valid. Please pass a valid API key.",
                ledgerReason: "unauthorized",
                details: [
                    [
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": ["service": "generativelanguage.googleapis.com"],
                    ]
                ]
            )
        }
    }

    /// `apiVersion` is Gemini's, from the path (`v1beta` when empty).
    static func modelNotFound(_ api: Api, model: String, apiVersion: String = "") -> ProviderError {
        switch api.provider {
        case .openAI:
            return ProviderError(
                status: 404,
                type: "invalid_request_error",
                message: "The model `\(model)` does not exist or you do not have access to it.",
                code: "model_not_found",
                ledgerReason: "model_not_found"
            )
        case .anthropic:
            return ProviderError(
                status: 404,
                type: "not_found_error",
                message: "model: \(model)",
                ledgerReason: "model_not_found"
            )
        case .gemini:
            let method = api == .interactions ? "interactions" : "generateContent"
            return ProviderError(
                status: 404,
                type: "NOT_FOUND",
                message:
                    "models/\(model) is not found for API version \(apiVersion.isEmpty ? "v1beta" : apiVersion), or is not supported for \(method). Call ListModels to see the list of available models and their supported methods.",
                ledgerReason: "model_not_found"
            )
        }
    }

    /// Capacity refusal of a flex request: OpenAI 429 "Resource Unavailable", Gemini 503.
    static func flexRefused(_ provider: Provider) -> ProviderError {
        switch provider {
        case .gemini:
            return ProviderError(
                status: 503,
                type: "UNAVAILABLE",
                message: "The model is overloaded. Please try again later.",
                ledgerReason: "refused_capacity"
            )
        default:
            return ProviderError(
                status: 429,
                type: "rate_limit_error",
                message:
                    "Resource Unavailable: flex processing capacity is temporarily exhausted. Retry later, or retry with service_tier 'auto' or 'default'.",
                code: "resource_unavailable",
                ledgerReason: "refused_capacity"
            )
        }
    }

    /// An injected error status in the provider's envelope.
    static func injected(_ provider: Provider, status: Int) -> ProviderError {
        switch (provider, status) {
        case (.anthropic, 529):
            return ProviderError(
                status: 529,
                type: "overloaded_error",
                message: "Overloaded",
                ledgerReason: "fault_status"
            )
        case (.anthropic, _):
            return ProviderError(
                status: status,
                type: status == 429 ? "rate_limit_error" : "api_error",
                message: status == 429
                    ? "Number of request tokens has exceeded your rate limit." : "Internal server error",
                ledgerReason: "fault_status"
            )
        case (.openAI, 429):
            return ProviderError(
                status: 429,
                type: "requests",
                message: "Rate limit reached for requests.",
                code: "rate_limit_exceeded",
                ledgerReason: "fault_status"
            )
        case (.openAI, _):
            return ProviderError(
                status: status,
                type: "server_error",
                message: "The server had an error while processing your request. Sorry about that!",
                ledgerReason: "fault_status"
            )
        case (.gemini, 429):
            return ProviderError(
                status: 429,
                type: "RESOURCE_EXHAUSTED",
                message: "Resource has been exhausted (e.g. check quota).",
                ledgerReason: "fault_status"
            )
        case (.gemini, 503):
            return ProviderError(
                status: 503,
                type: "UNAVAILABLE",
                message: "The model is overloaded. Please try again later.",
                ledgerReason: "fault_status"
            )
        case (.gemini, _):
            return ProviderError(
                status: status,
                type: status == 500 ? "INTERNAL" : "UNAVAILABLE",
                message:
                    "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
                ledgerReason: "fault_status"
            )
        }
    }

    static func bodyTooLarge(_ provider: Provider, limit: Int) -> ProviderError {
        switch provider {
        case .openAI:
            ProviderError(
                status: 413,
                type: "invalid_request_error",
                message: "Request body too large (limit \(limit) bytes).",
                code: "request_too_large",
                ledgerReason: "invalid_request"
            )
        case .anthropic:
            ProviderError(
                status: 413,
                type: "request_too_large",
                message: "Request exceeds the maximum allowed number of bytes.",
                ledgerReason: "invalid_request"
            )
        case .gemini:
            ProviderError(
                status: 413,
                type: "INVALID_ARGUMENT",
                message: "Request payload size exceeds the limit: \(limit) bytes.",
                ledgerReason: "invalid_request"
            )
        }
    }

    static func invalidJSON(_ provider: Provider, _ error: JSONParser.Error) -> ProviderError {
        switch provider {
        case .openAI:
            return ProviderError(
                status: 400,
                type: "invalid_request_error",
                message:
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.) \(error)",
                ledgerReason: "invalid_request"
            )
        case .anthropic:
            return ProviderError(
                status: 400,
                type: "invalid_request_error",
                message: "There was an error parsing the body: \(error)",
                ledgerReason: "invalid_request"
            )
        case .gemini:
            return ProviderError(
                status: 400,
                type: "INVALID_ARGUMENT",
                message: "Invalid JSON payload received. \(error)",
                ledgerReason: "invalid_request"
            )
        }
    }
}
