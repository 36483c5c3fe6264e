internal import FlexCodec
internal import FlexJSON
internal import NIOCore

extension SavingsRecord {
    /// The record as compact JSON (one line, no spaces, fit for a header value), with the wire
    /// protocol's field names (`savings.proto`) and names for its enums (`flex`, `openai`,
    /// `chat_completions`, `flex_start_timeout`); money in integer pico-USD. What the HTTP door
    /// sends in `flexd-savings`.
    ///
    /// Written field by field into one buffer rather than built as a `JSONValue` first: it is on
    /// every door answer's path, before the head goes out. Strings are escaped by FlexJSON's
    /// writer, so no control character (no CR or LF) can reach a header.
    var compactJSON: String {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(640)
        let tokens = self.tokens
        buffer.writeStaticString("{\"request_id\":")
        JSONValue.writeString(self.requestID, into: &buffer)
        Self.member("provider", self.provider?.name, into: &buffer)
        Self.member("api", self.api?.name, into: &buffer)
        Self.member("model", self.model, into: &buffer)
        Self.member("start_within", self.startWithin, into: &buffer)
        Self.member("tier_requested", self.tierRequested?.name, into: &buffer)
        Self.member("tier_served", self.tierServed?.name, into: &buffer)
        Self.member("tier_served_reported", self.tierServedReported, into: &buffer)
        buffer.writeStaticString(self.fellBack ? ",\"fell_back\":true" : ",\"fell_back\":false")
        Self.member("fallback_reason", self.fallbackReason?.name, into: &buffer)
        Self.member("flex_attempts", Int64(self.flexAttempts), into: &buffer)
        Self.member("flex_wait_us", Int64(clamping: self.flexWaitMicroseconds), into: &buffer)
        Self.member("time_to_start_us", Int64(clamping: self.timeToStartMicroseconds), into: &buffer)
        buffer.writeStaticString(",\"tokens\":{\"input_tokens\":")
        buffer.writeString(String(Int64(clamping: tokens.inputTokens)))
        Self.member("cached_input_tokens", Int64(clamping: tokens.cachedInputTokens), into: &buffer)
        Self.member("cache_write_tokens", Int64(clamping: tokens.cacheWriteTokens), into: &buffer)
        Self.member("cache_write_1h_tokens", Int64(clamping: tokens.cacheWrite1hTokens), into: &buffer)
        Self.member("output_tokens", Int64(clamping: tokens.outputTokens), into: &buffer)
        Self.member("reasoning_tokens", Int64(clamping: tokens.reasoningTokens), into: &buffer)
        buffer.writeStaticString("}")
        Self.member("standard_cost_picousd", self.standardCostPicoUSD, into: &buffer)
        Self.member("actual_cost_picousd", self.actualCostPicoUSD, into: &buffer)
        Self.member("saved_picousd", self.savedPicoUSD, into: &buffer)
        Self.member("fee_picousd", self.feePicoUSD, into: &buffer)
        Self.member("price_date", self.priceDate, into: &buffer)
        Self.member("retries", Int64(self.retries), into: &buffer)
        buffer.writeStaticString(self.tokensEstimated ? ",\"tokens_estimated\":true}" : ",\"tokens_estimated\":false}")
        return String(buffer: buffer)
    }

    /// `,"name":"value"` (escaped), or `,"name":null`.
    private static func member(_ name: StaticString, _ value: String?, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(",\"")
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
        if let value {
            JSONValue.writeString(value, into: &buffer)
        } else {
            buffer.writeStaticString("null")
        }
    }

    /// `,"name":123`.
    private static func member(_ name: StaticString, _ value: Int64, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(",\"")
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
        buffer.writeString(String(value))
    }
}
