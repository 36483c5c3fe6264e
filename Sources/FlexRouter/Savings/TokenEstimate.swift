internal import FlexCore
internal import FlexJSON

/// flexd's own count of a request's input tokens, for a call the provider billed but whose usage
/// never arrived and whose API reports no input count before its end (a stream cut after the
/// start, a call stopped after the start by its deadline or a CANCEL): about four UTF-8 bytes per
/// token, the rule of thumb the providers publish for English text. (Output is counted from the
/// events: ``StreamReader/outputEvents``.)
enum TokenEstimate {
    /// Tokens of `bytes` bytes of text, rounded up.
    static func tokens(ofBytes bytes: Int) -> UInt64 {
        UInt64(max(0, bytes) + 3) / 4
    }

    /// Input tokens of a request body: every string's tokens, skipping the keys that carry no
    /// prompt (the model, roles, types, binary data, ids).
    static func inputTokens(_ body: JSONObject) -> UInt64 {
        self.tokens(in: .object(body))
    }

    /// Input tokens of a native body read in two parts: the members the router kept and those it
    /// passed on unparsed (parsed here: only a call cut short asks).
    static func inputTokens(_ kept: JSONObject, _ passed: PassedMembers) -> UInt64 {
        self.inputTokens(kept) + self.inputTokens(passed.parsed())
    }

    private static func tokens(in value: JSONValue) -> UInt64 {
        switch value {
        case .string(let text): return self.tokens(ofBytes: text.utf8.count)
        case .array(let items): return items.reduce(0) { $0 + self.tokens(in: $1) }
        case .object(let object):
            return object.fields.reduce(0) { total, field in
                Self.skippedKeys.contains(field.key) ? total : total + Self.tokens(in: field.value)
            }
        case .int, .double, .bool, .null: return 0
        }
    }

    static let skippedKeys: Set<String> = [
        "model", "role", "type", "data", "mime_type", "mimeType", "media_type", "id", "call_id", "tool_use_id",
        "signature", "thoughtSignature", "service_tier", "stream", "stream_options", "cache_control", "url",
        "image_url", "file_id",
    ]
}
