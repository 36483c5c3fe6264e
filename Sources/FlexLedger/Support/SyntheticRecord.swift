internal import FlexCore

/// Deterministic made-up ledger records for the benchmark and the tests: record `index` is the
/// same every time, so a writer that restarts and writes it again gets ``AppendOutcome/duplicate``.
package enum SyntheticRecord {
    /// 2026-11-15T00:00:00Z in microseconds since the Unix epoch.
    package static let baseInstant: Int64 = 1_795_219_200_000_000

    /// Record `index` of `tenant`; `requestPrefix` + `index` is its request id. Money follows the
    /// savings rules: actual is half of standard on flex, saved the difference, fee 20% of saved.
    package static func make(
        _ index: Int,
        tenant: String,
        requestPrefix: String = "req-",
        instanceID: String = "bench",
        month offsetMonths: Int = 0
    ) -> LedgerRecord {
        let flex = index % 4 != 3
        let fellBack = index % 4 == 3
        let input = UInt64(100 + index % 997)
        let output = UInt64(50 + index % 389)
        let tokens = TokenUsage(
            inputTokens: input,
            cachedInputTokens: UInt64(index % 7),
            cacheWriteTokens: UInt64(index % 5),
            outputTokens: output,
            reasoningTokens: output / 3,
            cacheWrite1hTokens: UInt64(index % 3)
        )
        // $1.25 per million input tokens and $10 per million output tokens on standard.
        let standard = Int64(input) * 1_250_000 + Int64(output) * 10_000_000
        let actual = flex ? standard / 2 : standard
        let saved = standard - actual
        let day: Int64 = 86_400_000_000
        let completed = self.baseInstant + Int64(offsetMonths) * 31 * day + Int64(index % 86_400) * 1_000_000
        return LedgerRecord(
            tenant: tenant,
            requestID: "\(requestPrefix)\(index)",
            instanceID: instanceID,
            provider: index % 2 == 0 ? .openAI : .gemini,
            api: index % 2 == 0 ? .chatCompletions : .generateContent,
            model: index % 2 == 0 ? "gpt-5-mini" : "gemini-2.5-flash",
            startWithin: "00h-00m-30s",
            tierRequested: .flex,
            tierServed: flex ? .flex : .standard,
            tierServedReported: flex ? "flex" : "default",
            fellBack: fellBack,
            // Every reason in turn, so that the stores' round trips cover each name.
            fallbackReason: fellBack ? FallbackReason.allCases[index / 4 % FallbackReason.allCases.count] : nil,
            flexAttempts: 1,
            flexWaitMicroseconds: UInt64(index % 1000) * 1000,
            timeToStartMicroseconds: UInt64(index % 1000) * 1000 + 250_000,
            totalMicroseconds: UInt64(index % 1000) * 1000 + 2_000_000,
            tokens: tokens,
            standardCostPicoUSD: standard,
            actualCostPicoUSD: actual,
            savedPicoUSD: saved,
            feePicoUSD: flex ? saved * 20 / 100 : 0,
            priceDate: "2026-11-15",
            outcome: index % 50 == 49
                ? .failed(status: .dataLoss, errorCode: ErrorCode.upstreamStreamTruncated.name) : .completed,
            receivedAtMicroseconds: completed - 2_000_000,
            completedAtMicroseconds: completed
        )
    }
}
