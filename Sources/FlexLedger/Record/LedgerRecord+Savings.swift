public import FlexCore

extension LedgerRecord {
    /// The ledger record of a call from the router's savings record and what only the server knows.
    ///
    /// Returns nil when the savings record lacks what a ledger row needs (provider, API or the
    /// requested tier): the router sets all three on every call that reached a provider.
    ///
    /// - Parameters:
    ///   - savings: The router's record (from the service: `complete`/`stream`, or `CallFailure.savings`).
    ///   - tenant: The tenant the call is billed to (never its key).
    ///   - instanceID: This flexd instance's id.
    ///   - outcome: ``LedgerOutcome/completed`` or the failure the caller was told.
    ///   - receivedAtMicroseconds: The call's arrival, microseconds since the Unix epoch (UTC).
    ///   - completedAtMicroseconds: The call's end, microseconds since the Unix epoch (UTC).
    ///   - totalMicroseconds: From arrival to end, measured on a monotonic clock.
    public init?(
        savings: SavingsRecord,
        tenant: String,
        instanceID: String,
        outcome: LedgerOutcome,
        receivedAtMicroseconds: Int64,
        completedAtMicroseconds: Int64,
        totalMicroseconds: UInt64
    ) {
        guard let provider = savings.provider, let api = savings.api, let tierRequested = savings.tierRequested else {
            return nil
        }
        self.init(
            tenant: tenant,
            requestID: savings.requestID,
            instanceID: instanceID,
            provider: provider,
            api: api,
            model: savings.model,
            startWithin: savings.startWithin,
            tierRequested: tierRequested,
            tierServed: savings.tierServed,
            tierServedReported: savings.tierServedReported,
            fellBack: savings.fellBack,
            fallbackReason: savings.fallbackReason,
            flexAttempts: savings.flexAttempts,
            flexWaitMicroseconds: savings.flexWaitMicroseconds,
            timeToStartMicroseconds: savings.timeToStartMicroseconds,
            totalMicroseconds: totalMicroseconds,
            tokens: savings.tokens,
            standardCostPicoUSD: savings.standardCostPicoUSD,
            actualCostPicoUSD: savings.actualCostPicoUSD,
            savedPicoUSD: savings.savedPicoUSD,
            feePicoUSD: savings.feePicoUSD,
            priceDate: savings.priceDate,
            outcome: outcome,
            receivedAtMicroseconds: receivedAtMicroseconds,
            completedAtMicroseconds: completedAtMicroseconds,
            retries: savings.retries,
            tokensEstimated: savings.tokensEstimated
        )
    }
}
