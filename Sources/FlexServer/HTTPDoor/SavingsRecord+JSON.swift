internal import FlexCodec
internal import FlexJSON
internal import NIOCore

extension SavingsRecord {
    /// The record as compact JSON, with the wire protocol's field names (`savings.proto`) and names
    /// for its enums (`flex`, `openai`, `chat_completions`, `flex_start_timeout`); money in integer
    /// pico-USD. What the HTTP door sends in `flexd-savings`.
    var json: JSONValue {
        let tokens = self.tokens
        return .object([
            "request_id": .string(self.requestID),
            "provider": .optional(self.provider?.name),
            "api": .optional(self.api?.name),
            "model": .string(self.model),
            "start_within": .string(self.startWithin),
            "tier_requested": .optional(self.tierRequested?.name),
            "tier_served": .optional(self.tierServed?.name),
            "tier_served_reported": .string(self.tierServedReported),
            "fell_back": .bool(self.fellBack),
            "fallback_reason": .optional(self.fallbackReason?.name),
            "flex_attempts": .int(Int64(self.flexAttempts)),
            "flex_wait_us": .int(Int64(clamping: self.flexWaitMicroseconds)),
            "time_to_start_us": .int(Int64(clamping: self.timeToStartMicroseconds)),
            "tokens": .object([
                "input_tokens": .int(Int64(clamping: tokens.inputTokens)),
                "cached_input_tokens": .int(Int64(clamping: tokens.cachedInputTokens)),
                "cache_write_tokens": .int(Int64(clamping: tokens.cacheWriteTokens)),
                "cache_write_1h_tokens": .int(Int64(clamping: tokens.cacheWrite1hTokens)),
                "output_tokens": .int(Int64(clamping: tokens.outputTokens)),
                "reasoning_tokens": .int(Int64(clamping: tokens.reasoningTokens)),
            ]),
            "standard_cost_picousd": .int(self.standardCostPicoUSD),
            "actual_cost_picousd": .int(self.actualCostPicoUSD),
            "saved_picousd": .int(self.savedPicoUSD),
            "fee_picousd": .int(self.feePicoUSD),
            "price_date": .string(self.priceDate),
        ])
    }

    /// ``json`` written out: one line, no spaces, fit for a header value.
    var compactJSON: String { self.json.jsonString }
}
