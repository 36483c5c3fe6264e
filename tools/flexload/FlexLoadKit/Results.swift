public import FlexCodec
internal import FlexRouter
internal import Histogram
internal import NIOConcurrencyHelpers

/// How one call went, as the load driver saw it.
public struct CallResult: Sendable {
    public var ok: Bool
    /// The server's (or transport's) machine-readable error code when the call failed.
    public var errorCode: String?
    /// From the call's *intended* send time to its end (open loop: no coordinated omission).
    public var latency: Duration
    /// From the intended send time to the first answer byte (the route event, or the response).
    public var firstByte: Duration?
    public var savings: SavingsRecord?
    /// The events a streamed call received: over the protocol every `StreamEvent` (the route
    /// event and the provider's events), over HTTP every Server-Sent-Events event; 0 unstreamed.
    public var events: Int

    public init(
        ok: Bool,
        errorCode: String? = nil,
        latency: Duration,
        firstByte: Duration? = nil,
        savings: SavingsRecord? = nil,
        events: Int = 0
    ) {
        self.ok = ok
        self.errorCode = errorCode
        self.latency = latency
        self.firstByte = firstByte
        self.savings = savings
        self.events = events
    }
}

/// One call as the per-call table shows it.
public struct CallRow: Sendable {
    public var index: Int
    public var api: String
    public var model: String
    public var startWithin: String
    public var stream: Bool
    public var result: CallResult
}

/// Collects call results from many tasks: HdrHistogram latencies (microseconds, 3 significant
/// digits), counts by served tier, fallbacks by reason, errors by code, and exact money sums; and,
/// when asked, the calls with index below `keepCalls` one by one.
public final class Results: @unchecked Sendable {
    // @unchecked: every field is only touched with `lock` held.
    private let lock = NIOLock()
    private var latency = Histogram<UInt64>(highestTrackableValue: 3_600_000_000)
    private var firstByte = Histogram<UInt64>(highestTrackableValue: 3_600_000_000)
    private var requests = 0
    private var errors: [String: Int] = [:]
    private var tiers: [String: Int] = [:]
    private var fallbacks: [String: Int] = [:]
    /// Microseconds waited on flex by calls that then fell back (the wait that bought nothing).
    private var wastedWait: UInt64 = 0
    /// Calls whose flex wait went past their `start_within` budget (by more than ``budgetSlack``).
    private var pastBudget = 0
    private var standardCost: Int64 = 0
    private var actualCost: Int64 = 0
    private var saved: Int64 = 0
    private var fee: Int64 = 0
    private var costAboveStandard = 0
    private var tokens: UInt64 = 0
    private var flexTokens: UInt64 = 0
    private var streams = 0
    private var events = 0
    private var warmupCalls = 0
    private var warmupEvents = 0
    /// Every latency in microseconds, kept (bounded) for the CDF chart.
    private var samples: [UInt64] = []
    public static let maximumSamples = 200_000
    private let keepCalls: Int
    private var rows: [CallRow] = []

    /// - Parameter keepCalls: Calls 0 ..< keepCalls are kept one by one for ``calls`` (0: none).
    public init(keepCalls: Int = 0) {
        self.keepCalls = keepCalls
    }

    /// Records one call's result; `call` (what was sent) goes into the per-call rows when kept.
    public func record(_ result: CallResult, for call: PlannedCall? = nil) {
        let micros = result.latency.unsignedMicroseconds
        self.lock.withLock {
            if let call, call.index < self.keepCalls {
                self.rows.append(
                    CallRow(
                        index: call.index,
                        api: call.request.api?.name ?? "",
                        model: call.request.model,
                        startWithin: call.request.startWithin,
                        stream: call.stream,
                        result: result
                    )
                )
            }
            self.requests += 1
            if call?.stream == true { self.streams += 1 }
            self.events += result.events
            _ = self.latency.record(micros)
            if let firstByte = result.firstByte { _ = self.firstByte.record(firstByte.unsignedMicroseconds) }
            if self.samples.count < Self.maximumSamples { self.samples.append(micros) }
            if !result.ok { self.errors[result.errorCode ?? "unknown", default: 0] += 1 }
            guard let savings = result.savings else { return }
            self.tiers[savings.tierServed?.name ?? "none", default: 0] += 1
            if let reason = savings.fallbackReason { self.fallbacks[reason.name, default: 0] += 1 }
            if savings.fellBack { self.wastedWait &+= savings.flexWaitMicroseconds }
            if savings.flexWaitMicroseconds > 0,
                case .flex(let budget)? = try? StartWithin(parsing: savings.startWithin),
                Duration.microseconds(Int64(clamping: savings.flexWaitMicroseconds)) > budget + Self.budgetSlack
            {
                self.pastBudget += 1
            }
            self.standardCost &+= savings.standardCostPicoUSD
            self.actualCost &+= savings.actualCostPicoUSD
            self.saved &+= savings.savedPicoUSD
            self.fee &+= savings.feePicoUSD
            // A priority call costs more than standard by design; only flex-first routing must not.
            if savings.actualCostPicoUSD > savings.standardCostPicoUSD, savings.tierRequested != .priority {
                self.costAboveStandard += 1
            }
            self.tokens &+= savings.tokens.totalTokens
            if savings.tierServed == .flex { self.flexTokens &+= savings.tokens.totalTokens }
        }
    }

    /// Records the warm-up's calls and the events they received (not measured, but a benchmark
    /// dividing a process's CPU by the calls it served counts them).
    public func recordWarmup(calls: Int, events: Int) {
        self.lock.withLock {
            self.warmupCalls += calls
            self.warmupEvents += events
        }
    }

    /// How far past its budget a call's flex wait may end before it counts as past its budget: the
    /// time to cancel the attempt and resume the call on a loaded machine.
    public static let budgetSlack = Duration.seconds(1)

    public var count: Int { self.lock.withLock { self.requests } }
    public var errorCount: Int { self.lock.withLock { self.errors.values.reduce(0, +) } }
    public var savedSoFar: Int64 { self.lock.withLock { self.saved } }

    /// The current p99 in milliseconds (for the progress line).
    public var p99Milliseconds: Double {
        self.lock.withLock { self.latency.totalCount == 0 ? 0 : Double(self.latency.valueAtPercentile(99)) / 1000 }
    }

    /// Everything the report needs, frozen.
    public func summary(elapsed: Duration) -> Summary {
        self.lock.withLock {
            let seconds = elapsed.seconds
            return Summary(
                requests: self.requests,
                errors: self.errors.values.reduce(0, +),
                errorsByCode: self.errors,
                throughputRPS: seconds > 0 ? Double(self.requests) / seconds : 0,
                latencyMS: Percentiles(self.latency),
                ttfbMS: Percentiles(self.firstByte),
                savings: Summary.Savings(
                    standardCostPicoUSD: self.standardCost,
                    actualCostPicoUSD: self.actualCost,
                    savedPicoUSD: self.saved,
                    feePicoUSD: self.fee,
                    tokenWeightedSavingsPct: self.standardCost > 0
                        ? 100 * Double(self.saved) / Double(self.standardCost) : 0,
                    flexTokenSharePct: self.tokens > 0 ? 100 * Double(self.flexTokens) / Double(self.tokens) : 0
                ),
                tiers: self.tiers,
                fallbacks: Summary.Fallbacks(
                    count: self.fallbacks.values.reduce(0, +),
                    reasons: self.fallbacks,
                    wastedWaitSeconds: Double(self.wastedWait) / 1e6,
                    pastBudget: self.pastBudget
                ),
                costAboveStandard: self.costAboveStandard,
                elapsedSeconds: seconds,
                streams: self.streams,
                events: self.events,
                warmup: Summary.Warmup(calls: self.warmupCalls, events: self.warmupEvents)
            )
        }
    }

    /// The calls kept one by one, in index order.
    public var calls: [CallRow] {
        self.lock.withLock { self.rows.sorted { $0.index < $1.index } }
    }

    /// Latency samples in microseconds, sorted (for a CDF).
    public func sortedSamples() -> [UInt64] {
        self.lock.withLock { self.samples.sorted() }
    }
}

/// p50, p90, p95, p99, p99.9 and max, in milliseconds.
public struct Percentiles: Sendable, Codable, Hashable {
    public var p50: Double
    public var p90: Double
    public var p95: Double
    public var p99: Double
    public var p999: Double
    public var max: Double

    init(p50: Double, p90: Double, p95: Double, p99: Double, p999: Double, max: Double) {
        self.p50 = p50
        self.p90 = p90
        self.p95 = p95
        self.p99 = p99
        self.p999 = p999
        self.max = max
    }

    init(_ histogram: Histogram<UInt64>) {
        func ms(_ value: UInt64) -> Double { Double(value) / 1000 }
        guard histogram.totalCount > 0 else {
            self.p50 = 0
            self.p90 = 0
            self.p95 = 0
            self.p99 = 0
            self.p999 = 0
            self.max = 0
            return
        }
        self.p50 = ms(histogram.valueAtPercentile(50))
        self.p90 = ms(histogram.valueAtPercentile(90))
        self.p95 = ms(histogram.valueAtPercentile(95))
        self.p99 = ms(histogram.valueAtPercentile(99))
        self.p999 = ms(histogram.valueAtPercentile(99.9))
        self.max = ms(histogram.maxRecorded)
    }
}

/// The report's numbers (brief, section 4): `requests`, `errors`, `throughput_rps`, `latency_ms`,
/// `ttfb_ms`, `savings`, `tiers`, `fallbacks`, `cost_above_standard`.
public struct Summary: Sendable, Codable {
    public struct Savings: Sendable, Codable {
        public var standardCostPicoUSD: Int64
        public var actualCostPicoUSD: Int64
        public var savedPicoUSD: Int64
        public var feePicoUSD: Int64
        /// 100 × Σ saved / Σ standard cost: each call weighs by its cost, i.e. by its tokens.
        public var tokenWeightedSavingsPct: Double
        /// The share of all tokens that flex served.
        public var flexTokenSharePct: Double

        enum CodingKeys: String, CodingKey {
            case standardCostPicoUSD = "standard_cost_picousd"
            case actualCostPicoUSD = "actual_cost_picousd"
            case savedPicoUSD = "saved_picousd"
            case feePicoUSD = "fee_picousd"
            case standardCost = "standard_cost"
            case actualCost = "actual_cost"
            case saved, fee
            case tokenWeightedSavingsPct = "token_weighted_savings_pct"
            case flexTokenSharePct = "flex_token_share_pct"
        }

        public init(
            standardCostPicoUSD: Int64,
            actualCostPicoUSD: Int64,
            savedPicoUSD: Int64,
            feePicoUSD: Int64,
            tokenWeightedSavingsPct: Double,
            flexTokenSharePct: Double
        ) {
            self.standardCostPicoUSD = standardCostPicoUSD
            self.actualCostPicoUSD = actualCostPicoUSD
            self.savedPicoUSD = savedPicoUSD
            self.feePicoUSD = feePicoUSD
            self.tokenWeightedSavingsPct = tokenWeightedSavingsPct
            self.flexTokenSharePct = flexTokenSharePct
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.standardCostPicoUSD = try c.decode(Int64.self, forKey: .standardCostPicoUSD)
            self.actualCostPicoUSD = try c.decode(Int64.self, forKey: .actualCostPicoUSD)
            self.savedPicoUSD = try c.decode(Int64.self, forKey: .savedPicoUSD)
            self.feePicoUSD = try c.decode(Int64.self, forKey: .feePicoUSD)
            self.tokenWeightedSavingsPct = try c.decode(Double.self, forKey: .tokenWeightedSavingsPct)
            self.flexTokenSharePct = try c.decode(Double.self, forKey: .flexTokenSharePct)
        }

        /// Money in USD for people (`standard_cost`, ...) and in exact picousd for programs.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Self.usd(self.standardCostPicoUSD), forKey: .standardCost)
            try c.encode(Self.usd(self.actualCostPicoUSD), forKey: .actualCost)
            try c.encode(Self.usd(self.savedPicoUSD), forKey: .saved)
            try c.encode(Self.usd(self.feePicoUSD), forKey: .fee)
            try c.encode(self.standardCostPicoUSD, forKey: .standardCostPicoUSD)
            try c.encode(self.actualCostPicoUSD, forKey: .actualCostPicoUSD)
            try c.encode(self.savedPicoUSD, forKey: .savedPicoUSD)
            try c.encode(self.feePicoUSD, forKey: .feePicoUSD)
            try c.encode((self.tokenWeightedSavingsPct * 100).rounded() / 100, forKey: .tokenWeightedSavingsPct)
            try c.encode((self.flexTokenSharePct * 100).rounded() / 100, forKey: .flexTokenSharePct)
        }

        static func usd(_ picoUSD: Int64) -> Double { Double(picoUSD) / 1e12 }
    }

    public struct Fallbacks: Sendable, Codable {
        public var count: Int
        public var reasons: [String: Int]
        /// Seconds waited on flex by the calls that then fell back: the wait that bought nothing.
        public var wastedWaitSeconds: Double
        /// Calls whose flex wait went past their `start_within` budget (by more than a second).
        public var pastBudget: Int

        enum CodingKeys: String, CodingKey {
            case count, reasons
            case wastedWaitSeconds = "wasted_wait_s"
            case pastBudget = "past_budget"
        }

        public init(count: Int, reasons: [String: Int], wastedWaitSeconds: Double = 0, pastBudget: Int = 0) {
            self.count = count
            self.reasons = reasons
            self.wastedWaitSeconds = wastedWaitSeconds
            self.pastBudget = pastBudget
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.count = try c.decode(Int.self, forKey: .count)
            self.reasons = try c.decode([String: Int].self, forKey: .reasons)
            self.wastedWaitSeconds = try c.decodeIfPresent(Double.self, forKey: .wastedWaitSeconds) ?? 0
            self.pastBudget = try c.decodeIfPresent(Int.self, forKey: .pastBudget) ?? 0
        }
    }

    /// The unmeasured warm-up calls made before the measured ones, and the events they received.
    public struct Warmup: Sendable, Codable, Hashable {
        public var calls: Int
        public var events: Int
    }

    public var requests: Int
    public var errors: Int
    public var errorsByCode: [String: Int]
    public var throughputRPS: Double
    public var latencyMS: Percentiles
    public var ttfbMS: Percentiles
    public var savings: Savings
    public var tiers: [String: Int]
    public var fallbacks: Fallbacks
    public var costAboveStandard: Int
    public var elapsedSeconds: Double
    /// Measured calls that streamed.
    public var streams: Int
    /// Events the streamed calls received (see ``CallResult/events``).
    public var events: Int
    public var warmup: Warmup

    enum CodingKeys: String, CodingKey {
        case requests, errors
        case errorsByCode = "errors_by_code"
        case throughputRPS = "throughput_rps"
        case latencyMS = "latency_ms"
        case ttfbMS = "ttfb_ms"
        case savings, tiers, fallbacks
        case costAboveStandard = "cost_above_standard"
        case elapsedSeconds = "elapsed_s"
        case streams, events, warmup
    }
}
