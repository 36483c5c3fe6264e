internal import CFlexProto
internal import CProtobufC

extension TokenUsage: CMessageConvertible {
    typealias CMessage = Flexinference__V1__TokenUsage
    static let messageName = "flexinference.v1.TokenUsage"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__token_usage__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            inputTokens: c.pointee.input_tokens,
            cachedInputTokens: c.pointee.cached_input_tokens,
            cacheWriteTokens: c.pointee.cache_write_tokens,
            outputTokens: c.pointee.output_tokens,
            reasoningTokens: c.pointee.reasoning_tokens,
            cacheWrite1hTokens: c.pointee.cache_write_1h_tokens
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.input_tokens = self.inputTokens
        c.pointee.cached_input_tokens = self.cachedInputTokens
        c.pointee.cache_write_tokens = self.cacheWriteTokens
        c.pointee.output_tokens = self.outputTokens
        c.pointee.reasoning_tokens = self.reasoningTokens
        c.pointee.cache_write_1h_tokens = self.cacheWrite1hTokens
    }
}

extension SavingsRecord: CMessageConvertible {
    typealias CMessage = Flexinference__V1__SavingsRecord
    static let messageName = "flexinference.v1.SavingsRecord"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__savings_record__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let record = c.pointee
        self.init(
            requestID: try CField.string(record.request_id, "SavingsRecord.request_id"),
            provider: try CField.optionalEnum(record.provider.rawValue, Provider.self),
            api: try CField.optionalEnum(record.api.rawValue, Api.self),
            model: try CField.string(record.model, "SavingsRecord.model"),
            startWithin: try CField.string(record.start_within, "SavingsRecord.start_within"),
            tierRequested: try CField.optionalEnum(record.tier_requested.rawValue, Tier.self),
            tierServed: try CField.optionalEnum(record.tier_served.rawValue, Tier.self),
            tierServedReported: try CField.string(record.tier_served_reported, "SavingsRecord.tier_served_reported"),
            fellBack: record.fell_back != 0,
            fallbackReason: try FallbackReason.decode(
                wire: record.fallback_reason.rawValue,
                predicted: record.fallback_predicted != 0
            ),
            flexAttempts: record.flex_attempts,
            flexWaitMicroseconds: record.flex_wait_us,
            timeToStartMicroseconds: record.time_to_start_us,
            tokens: try TokenUsage.decode(record.tokens) ?? TokenUsage(),
            standardCostPicoUSD: record.standard_cost_picousd,
            actualCostPicoUSD: record.actual_cost_picousd,
            savedPicoUSD: record.saved_picousd,
            feePicoUSD: record.fee_picousd,
            priceDate: try CField.string(record.price_date, "SavingsRecord.price_date"),
            retries: record.retries,
            tokensEstimated: record.tokens_estimated != 0
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        try CField.setString(&c.pointee.request_id, self.requestID, "SavingsRecord.request_id", arena: arena)
        c.pointee.provider = Flexinference__V1__Provider(rawValue: CField.rawEnum(self.provider))
        c.pointee.api = Flexinference__V1__Api(rawValue: CField.rawEnum(self.api))
        try CField.setString(&c.pointee.model, self.model, "SavingsRecord.model", arena: arena)
        try CField.setString(&c.pointee.start_within, self.startWithin, "SavingsRecord.start_within", arena: arena)
        c.pointee.tier_requested = Flexinference__V1__Tier(rawValue: CField.rawEnum(self.tierRequested))
        c.pointee.tier_served = Flexinference__V1__Tier(rawValue: CField.rawEnum(self.tierServed))
        try CField.setString(
            &c.pointee.tier_served_reported,
            self.tierServedReported,
            "SavingsRecord.tier_served_reported",
            arena: arena
        )
        c.pointee.fell_back = self.fellBack ? 1 : 0
        let fallback = self.fallbackReason?.wireValue ?? (reason: 0, predicted: false)
        c.pointee.fallback_reason = Flexinference__V1__FallbackReason(rawValue: fallback.reason)
        c.pointee.fallback_predicted = fallback.predicted ? 1 : 0
        c.pointee.flex_attempts = self.flexAttempts
        c.pointee.flex_wait_us = self.flexWaitMicroseconds
        c.pointee.time_to_start_us = self.timeToStartMicroseconds
        c.pointee.tokens = try self.tokens.makeC(arena: arena)
        c.pointee.standard_cost_picousd = self.standardCostPicoUSD
        c.pointee.actual_cost_picousd = self.actualCostPicoUSD
        c.pointee.saved_picousd = self.savedPicoUSD
        c.pointee.fee_picousd = self.feePicoUSD
        try CField.setString(&c.pointee.price_date, self.priceDate, "SavingsRecord.price_date", arena: arena)
        c.pointee.retries = self.retries
        c.pointee.tokens_estimated = self.tokensEstimated ? 1 : 0
    }
}
