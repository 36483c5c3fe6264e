public import FlexCatalog
public import FlexCore
internal import FlexJSON

/// One line of `/sim/ledger`: what flexsim did with one provider request and what it billed.
public struct LedgerEntry: Sendable, Equatable {
    /// flexsim's request id, also sent in the provider's usual request-id header.
    public var id: String
    /// The caller's `x-flexsim-correlation-id`, if any.
    public var correlationID: String?
    public var provider: Provider
    /// `chat_completions`, `responses`, `messages`, `generate_content` or `interactions`.
    public var api: String
    public var model: String?
    /// The id in the response body (`chatcmpl-...`, `resp_...`, `msg_...`, responseId, interaction id).
    public var responseID: String?
    public var stream: Bool
    public var status: Int
    /// The tier field as sent, in the provider's spelling (nil when absent).
    public var tierAsked: String?
    /// The tier that served (and is billed), provider-neutral; nil when nothing was served.
    public var tierServed: Tier?
    /// `completed`, `refused`, `cancelled_before_start`, `cancelled_after_start`, `rejected`, `fault`.
    public var outcome: String
    public var billed: Bool
    /// Why it was billed or not (`completed`, `refused_capacity`, `invalid_request`, ...).
    public var reason: String
    public var tokens: TokenUsage
    public var cost: PicoUSD
    /// Simulated queue wait before service (flex), milliseconds.
    public var queueWaitMS: Int?
    public var fault: String?
    /// Unix time the request arrived, milliseconds.
    public var receivedAtMS: Int64

    public init(
        id: String,
        correlationID: String?,
        provider: Provider,
        api: String,
        model: String?,
        responseID: String?,
        stream: Bool,
        status: Int,
        tierAsked: String?,
        tierServed: Tier?,
        outcome: String,
        billed: Bool,
        reason: String,
        tokens: TokenUsage,
        cost: PicoUSD,
        queueWaitMS: Int?,
        fault: String?,
        receivedAtMS: Int64
    ) {
        self.id = id
        self.correlationID = correlationID
        self.provider = provider
        self.api = api
        self.model = model
        self.responseID = responseID
        self.stream = stream
        self.status = status
        self.tierAsked = tierAsked
        self.tierServed = tierServed
        self.outcome = outcome
        self.billed = billed
        self.reason = reason
        self.tokens = tokens
        self.cost = cost
        self.queueWaitMS = queueWaitMS
        self.fault = fault
        self.receivedAtMS = receivedAtMS
    }

    func json(sequence: Int) -> JSONValue {
        [
            "seq": .integer(sequence),
            "id": .string(self.id),
            "correlation_id": .optional(self.correlationID),
            "provider": .string(self.provider.name),
            "api": .string(self.api),
            "model": .optional(self.model),
            "response_id": .optional(self.responseID),
            "stream": .bool(self.stream),
            "status": .integer(self.status),
            "tier_asked": .optional(self.tierAsked),
            "tier_served": .optional(self.tierServed?.name),
            "outcome": .string(self.outcome),
            "billed": .bool(self.billed),
            "reason": .string(self.reason),
            "tokens": [
                "input": .integer(Int(self.tokens.inputTokens)),
                "cached_input": .integer(Int(self.tokens.cachedInputTokens)),
                "cache_write": .integer(Int(self.tokens.cacheWriteTokens)),
                "cache_write_1h": .integer(Int(self.tokens.cacheWrite1hTokens)),
                "output": .integer(Int(self.tokens.outputTokens)),
                "reasoning": .integer(Int(self.tokens.reasoningTokens)),
            ],
            "cost_picousd": .int(self.cost.rawValue),
            "queue_wait_ms": self.queueWaitMS.map { .integer($0) } ?? .null,
            "fault": .optional(self.fault),
            "received_at_ms": .int(self.receivedAtMS),
        ]
    }
}
