internal import FlexCore

/// The columns of a ledger row, in the order ``LedgerRecord/columnValues`` writes them and
/// ``LedgerRecord/init(columnValues:)`` reads them. Both stores build their SQL from this list.
enum LedgerColumns {
    static let all: [(name: String, type: LedgerColumnType)] = [
        ("tenant", .text),
        ("request_id", .text),
        ("instance_id", .text),
        ("provider", .text),
        ("api", .text),
        ("model", .text),
        ("start_within", .text),
        ("tier_requested", .text),
        ("tier_served", .optionalText),
        ("tier_served_reported", .text),
        ("fell_back", .bool),
        ("fallback_reason", .optionalText),
        ("flex_attempts", .int),
        ("flex_wait_us", .int),
        ("time_to_start_us", .int),
        ("total_us", .int),
        ("input_tokens", .int),
        ("cached_input_tokens", .int),
        ("cache_write_tokens", .int),
        ("cache_write_1h_tokens", .int),
        ("output_tokens", .int),
        ("reasoning_tokens", .int),
        ("standard_cost_picousd", .int),
        ("actual_cost_picousd", .int),
        ("saved_picousd", .int),
        ("fee_picousd", .int),
        ("price_date", .text),
        ("outcome", .text),
        ("status_code", .text),
        ("error_code", .text),
        ("received_at_us", .int),
        ("completed_at_us", .int),
        ("billing_month", .text),
        // Migration 2.
        ("retries", .int),
        ("tokens_estimated", .bool),
    ]

    static var names: [String] { self.all.map(\.name) }
}

extension LedgerRecord {
    /// The row's values, in ``LedgerColumns/all`` order. Call ``validate()`` first: it guarantees
    /// every unsigned count fits a signed 64-bit column.
    var columnValues: [LedgerValue] {
        func int<T: BinaryInteger>(_ value: T) -> LedgerValue { .int(Int64(clamping: value)) }
        let status: StatusCode
        let errorCode: String
        switch self.outcome {
        case .completed: (status, errorCode) = (.ok, "")
        case .failed(let failedStatus, let code): (status, errorCode) = (failedStatus, code)
        }
        return [
            .text(self.tenant),
            .text(self.requestID),
            .text(self.instanceID),
            .text(self.provider.name),
            .text(self.api.name),
            .text(self.model),
            .text(self.startWithin),
            .text(self.tierRequested.name),
            self.tierServed.map { .text($0.name) } ?? .null,
            .text(self.tierServedReported),
            .bool(self.fellBack),
            self.fallbackReason.map { .text($0.name) } ?? .null,
            int(self.flexAttempts),
            int(self.flexWaitMicroseconds),
            int(self.timeToStartMicroseconds),
            int(self.totalMicroseconds),
            int(self.tokens.inputTokens),
            int(self.tokens.cachedInputTokens),
            int(self.tokens.cacheWriteTokens),
            int(self.tokens.cacheWrite1hTokens),
            int(self.tokens.outputTokens),
            int(self.tokens.reasoningTokens),
            .int(self.standardCostPicoUSD),
            .int(self.actualCostPicoUSD),
            .int(self.savedPicoUSD),
            .int(self.feePicoUSD),
            .text(self.priceDate),
            .text(self.outcome.name),
            .text(status.description),
            .text(errorCode),
            .int(self.receivedAtMicroseconds),
            .int(self.completedAtMicroseconds),
            .text(self.billingMonth.description),
            int(self.retries),
            .bool(self.tokensEstimated),
        ]
    }

    /// Reads a row written by ``columnValues``; throws ``LedgerError`` (`corrupt_record`) on a row
    /// this version cannot read (a value out of range or an unknown name).
    init(columnValues values: [LedgerValue]) throws(LedgerError) {
        guard values.count == LedgerColumns.all.count else {
            throw LedgerError(
                .corruptRecord,
                "a ledger row has \(values.count) columns, expected \(LedgerColumns.all.count)"
            )
        }
        var reader = ColumnReader(values: values)
        let tenant = try reader.text()
        let requestID = try reader.text()
        func named<T>(_ parse: (String) -> T?, _ what: String, _ text: String) throws(LedgerError) -> T {
            guard let value = parse(text) else {
                throw LedgerError(
                    .corruptRecord,
                    "the ledger row for request \(requestID) has an unknown \(what) \"\(text)\""
                )
            }
            return value
        }
        let instanceID = try reader.text()
        let provider = try named(Provider.init(name:), "provider", try reader.text())
        let api = try named(Api.init(name:), "api", try reader.text())
        let model = try reader.text()
        let startWithin = try reader.text()
        let tierRequested = try named(Tier.init(name:), "tier", try reader.text())
        let tierServed = try reader.optionalText().map { text throws(LedgerError) in
            try named(Tier.init(name:), "tier", text)
        }
        let tierServedReported = try reader.text()
        let fellBack = try reader.bool()
        let fallbackReason = try reader.optionalText().map { text throws(LedgerError) in
            try named({ name in FallbackReason.allCases.first { $0.name == name } }, "fallback reason", text)
        }
        let flexAttempts = try reader.unsigned(UInt32.self)
        let flexWait = try reader.unsigned(UInt64.self)
        let timeToStart = try reader.unsigned(UInt64.self)
        let total = try reader.unsigned(UInt64.self)
        let input = try reader.unsigned(UInt64.self)
        let cachedInput = try reader.unsigned(UInt64.self)
        let cacheWrite = try reader.unsigned(UInt64.self)
        let cacheWrite1h = try reader.unsigned(UInt64.self)
        let output = try reader.unsigned(UInt64.self)
        let reasoning = try reader.unsigned(UInt64.self)
        let tokens = TokenUsage(
            inputTokens: input,
            cachedInputTokens: cachedInput,
            cacheWriteTokens: cacheWrite,
            outputTokens: output,
            reasoningTokens: reasoning,
            cacheWrite1hTokens: cacheWrite1h
        )
        let standard = try reader.int()
        let actual = try reader.int()
        let saved = try reader.int()
        let fee = try reader.int()
        let priceDate = try reader.text()
        let outcomeName = try reader.text()
        let statusName = try reader.text()
        let errorCode = try reader.text()
        let outcome: LedgerOutcome
        switch outcomeName {
        case "completed":
            outcome = .completed
        case "failed":
            outcome = .failed(
                status: try named(
                    { name in StatusCode.allCases.first { $0.description == name } },
                    "status",
                    statusName
                ),
                errorCode: errorCode
            )
        default:
            throw LedgerError(
                .corruptRecord,
                "the ledger row for request \(requestID) has an unknown outcome \"\(outcomeName)\""
            )
        }
        let receivedAt = try reader.int()
        let completedAt = try reader.int()
        _ = try reader.text()  // billing_month: derived from completed_at_us
        let retries = try reader.unsigned(UInt32.self)
        let tokensEstimated = try reader.bool()
        self.init(
            tenant: tenant,
            requestID: requestID,
            instanceID: instanceID,
            provider: provider,
            api: api,
            model: model,
            startWithin: startWithin,
            tierRequested: tierRequested,
            tierServed: tierServed,
            tierServedReported: tierServedReported,
            fellBack: fellBack,
            fallbackReason: fallbackReason,
            flexAttempts: flexAttempts,
            flexWaitMicroseconds: flexWait,
            timeToStartMicroseconds: timeToStart,
            totalMicroseconds: total,
            tokens: tokens,
            standardCostPicoUSD: standard,
            actualCostPicoUSD: actual,
            savedPicoUSD: saved,
            feePicoUSD: fee,
            priceDate: priceDate,
            outcome: outcome,
            receivedAtMicroseconds: receivedAt,
            completedAtMicroseconds: completedAt,
            retries: retries,
            tokensEstimated: tokensEstimated
        )
    }
}

/// Reads ledger values in column order, with a clear error for a value of the wrong kind.
private struct ColumnReader {
    let values: [LedgerValue]
    var index = 0

    init(values: [LedgerValue]) {
        self.values = values
    }

    private mutating func next() -> (LedgerValue, String) {
        defer { self.index += 1 }
        return (self.values[self.index], LedgerColumns.all[self.index].name)
    }

    mutating func text() throws(LedgerError) -> String {
        let (value, column) = self.next()
        guard case .text(let text) = value else {
            throw LedgerError(.corruptRecord, "ledger column \(column) is not text")
        }
        return text
    }

    mutating func optionalText() throws(LedgerError) -> String? {
        let (value, column) = self.next()
        switch value {
        case .text(let text): return text
        case .null: return nil
        default: throw LedgerError(.corruptRecord, "ledger column \(column) is not text")
        }
    }

    mutating func int() throws(LedgerError) -> Int64 {
        let (value, column) = self.next()
        guard case .int(let int) = value else {
            throw LedgerError(.corruptRecord, "ledger column \(column) is not an integer")
        }
        return int
    }

    mutating func bool() throws(LedgerError) -> Bool {
        let (value, column) = self.next()
        switch value {
        case .bool(let flag): return flag
        case .int(let int) where int == 0 || int == 1: return int == 1
        default: throw LedgerError(.corruptRecord, "ledger column \(column) is not a boolean")
        }
    }

    mutating func unsigned<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(LedgerError) -> T {
        let column = LedgerColumns.all[self.index].name
        let int = try self.int()
        guard let value = T(exactly: int) else {
            throw LedgerError(.corruptRecord, "ledger column \(column) holds \(int), out of range")
        }
        return value
    }
}

extension LedgerRecord {
    /// A 64-bit FNV-1a hash of every column, in hex: tells conflicting records apart in
    /// `ledger_conflicts` (so a retried conflicting append is stored once). Not a security hash.
    var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: some Sequence<UInt8>) {
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
        }
        for value in self.columnValues {
            switch value {
            case .text(let text):
                mix([1])
                mix(String(text.utf8.count).utf8)
                mix([58])
                mix(text.utf8)
            case .int(let int):
                mix([2])
                mix(String(int).utf8)
            case .bool(let flag): mix([3, flag ? 1 : 0])
            case .null: mix([4])
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
