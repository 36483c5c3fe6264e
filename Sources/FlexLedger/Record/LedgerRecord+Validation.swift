internal import FlexCore

extension LedgerRecord {
    /// The longest tenant, request id, instance id or model the ledger stores, in UTF-8 bytes.
    public static let maximumIdentifierBytes = 256

    /// Checks that the record can be stored and read back unchanged, and that its money follows
    /// the savings rules' invariants (nothing negative; saved ≤ standard cost; fee ≤ saved).
    /// Throws ``LedgerError`` with code `invalid_record`.
    public func validate() throws(LedgerError) {
        func fail(_ message: String) -> LedgerError {
            LedgerError(.invalidRecord, "request \(self.requestID.prefix(64)): \(message)")
        }
        for (name, value) in [
            ("tenant", self.tenant), ("request id", self.requestID), ("instance id", self.instanceID),
            ("model", self.model),
        ] {
            if value.isEmpty { throw fail("the \(name) is empty") }
            if value.utf8.count > Self.maximumIdentifierBytes {
                throw fail("the \(name) is longer than \(Self.maximumIdentifierBytes) bytes")
            }
        }
        for (name, value) in [
            ("tenant", self.tenant), ("request id", self.requestID), ("instance id", self.instanceID),
            ("model", self.model), ("start_within", self.startWithin),
            ("served tier", self.tierServedReported), ("price date", self.priceDate),
        ] {
            if value.utf8.contains(0) { throw fail("the \(name) contains a NUL byte") }
            if value.utf8.count > 4096 { throw fail("the \(name) is longer than 4096 bytes") }
        }
        if case .failed(_, let code) = self.outcome, code.utf8.contains(0) || code.utf8.count > 256 {
            throw fail("the error code is not a short string")
        }
        let counts: [(String, UInt64)] = [
            ("flex wait", self.flexWaitMicroseconds), ("time to start", self.timeToStartMicroseconds),
            ("total time", self.totalMicroseconds), ("input tokens", self.tokens.inputTokens),
            ("cached input tokens", self.tokens.cachedInputTokens),
            ("cache write tokens", self.tokens.cacheWriteTokens),
            ("1h cache write tokens", self.tokens.cacheWrite1hTokens), ("output tokens", self.tokens.outputTokens),
            ("reasoning tokens", self.tokens.reasoningTokens),
        ]
        for (name, value) in counts where value > UInt64(Int64.max) {
            throw fail("the \(name) (\(value)) is larger than the ledger stores")
        }
        for (name, value) in [
            ("standard cost", self.standardCostPicoUSD), ("actual cost", self.actualCostPicoUSD),
            ("saved", self.savedPicoUSD), ("fee", self.feePicoUSD),
        ] where value < 0 {
            throw fail("the \(name) is negative (\(value) picousd)")
        }
        if self.savedPicoUSD > self.standardCostPicoUSD { throw fail("it saved more than the standard cost") }
        if self.feePicoUSD > self.savedPicoUSD { throw fail("the fee is larger than the saving") }
        // Years 1...9999, so the billing month and every date tool agree.
        let year10000: Int64 = 253_402_300_800_000_000
        let year1: Int64 = -62_135_596_800_000_000
        for instant in [self.receivedAtMicroseconds, self.completedAtMicroseconds]
        where instant < year1 || instant >= year10000 {
            throw fail("a timestamp is outside years 1 to 9999")
        }
    }

    /// The names of the fields in which two records with the same identity differ (empty when
    /// they are equal).
    public func differingFields(from other: LedgerRecord) -> [String] {
        zip(LedgerColumns.names, zip(self.columnValues, other.columnValues))
            .filter { $0.1.0 != $0.1.1 }
            .map(\.0)
    }
}
