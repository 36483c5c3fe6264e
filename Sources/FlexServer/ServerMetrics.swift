internal import FlexCodec
internal import Metrics
internal import Synchronization

/// The server's metrics, through swift-metrics (a no-op until the process bootstraps a backend;
/// flexd bootstraps Prometheus). Names and labels are listed in the flexd guide, *Observability*.
struct ServerMetrics: Sendable {
    private let bytesIn = Counter(label: "flexd_bytes_received_total")
    private let bytesOut = Counter(label: "flexd_bytes_sent_total")
    private let inFlight = Gauge(label: "flexd_calls_in_flight")
    private let connectionsOpen = Gauge(label: "flexd_connections")
    private let duration = Metrics.Timer(label: "flexd_call_duration_seconds")
    private let flexWait = Metrics.Timer(label: "flexd_flex_wait_seconds")
    private let timeToStart = Metrics.Timer(label: "flexd_time_to_start_seconds")
    private let saved = Counter(label: "flexd_saved_picousd_total")
    private let fee = Counter(label: "flexd_fee_picousd_total")
    private let standardCost = Counter(label: "flexd_standard_cost_picousd_total")
    private let actualCost = Counter(label: "flexd_actual_cost_picousd_total")
    private let answered = AnsweredCalls()

    init() {}

    func bytesReceived(_ count: Int) { self.bytesIn.increment(by: count) }
    func bytesSent(_ count: Int) { self.bytesOut.increment(by: count) }
    func callsInFlight(_ count: Int) { self.inFlight.record(count) }
    func connections(_ count: Int) { self.connectionsOpen.record(count) }

    /// A call's savings record could not be recorded (the call itself was answered).
    func recordFailed() {
        Counter(label: "flexd_ledger_failures_total").increment()
    }

    func refused(_ errorCode: String) {
        Counter(label: "flexd_calls_refused_total", dimensions: [("reason", errorCode)]).increment()
    }

    func protocolError(_ errorCode: String) {
        Counter(label: "flexd_protocol_errors_total", dimensions: [("error_code", errorCode)]).increment()
    }

    func callEnded(status: Status, savings: SavingsRecord?, duration: Duration) {
        self.duration.recordNanoseconds(duration.nanoseconds)
        if status.code == .ok {
            self.answered.counter(tierServed: savings?.tierServed, provider: savings?.provider).increment()
        } else {
            Self.callsCounter(
                outcome: status.errorCode.isEmpty ? "\(status.code)" : status.errorCode,
                tierServed: savings?.tierServed,
                provider: savings?.provider
            ).increment()
        }
        Self.countRetries(status: status, savings: savings)
        guard let savings else { return }
        if let reason = savings.fallbackReason {
            Counter(label: "flexd_fallbacks_total", dimensions: [("reason", reason.name)]).increment()
        }
        if savings.flexAttempts > 0 { self.flexWait.recordMicroseconds(Int64(clamping: savings.flexWaitMicroseconds)) }
        self.timeToStart.recordMicroseconds(Int64(clamping: savings.timeToStartMicroseconds))
        self.saved.increment(by: Int64(clamping: savings.savedPicoUSD))
        self.fee.increment(by: Int64(clamping: savings.feePicoUSD))
        self.standardCost.increment(by: Int64(clamping: savings.standardCostPicoUSD))
        self.actualCost.increment(by: Int64(clamping: savings.actualCostPicoUSD))
    }

    /// `flexd_retries_total{provider,tier}`: re-sends to the tier a call settled on, from its
    /// record, or from the error of a call whose retries ran out (`details.retries`).
    private static func countRetries(status: Status, savings: SavingsRecord?) {
        let retries: Int
        let provider: String
        let tier: String
        if let savings, savings.retries > 0 {
            retries = Int(savings.retries)
            provider = savings.provider?.name ?? "none"
            tier = savings.tierServed?.name ?? savings.tierRequested?.name ?? "none"
        } else if let count = status.details["retries"].flatMap({ Int($0) }), count > 0 {
            retries = count
            provider = status.details["provider"] ?? "none"
            tier = status.details["tier"] ?? "none"
        } else {
            return
        }
        Counter(label: "flexd_retries_total", dimensions: [("provider", provider), ("tier", tier)])
            .increment(by: retries)
    }

    static func callsCounter(outcome: String, tierServed: Tier?, provider: Provider?) -> Counter {
        Counter(
            label: "flexd_calls_total",
            dimensions: [
                ("outcome", outcome),
                ("tier_served", tierServed?.name ?? "none"),
                ("provider", provider?.name ?? "none"),
            ]
        )
    }
}

/// `flexd_calls_total` for answered calls: one counter per served tier and provider, each made the
/// first time it counts. Making a counter per call (a lookup under the metrics backend's lock, and
/// an allocation) was about 1% of flexd's CPU on small calls. Failed calls, whose outcomes are
/// many, still make theirs per call.
private final class AnsweredCalls: Sendable {
    // Indexed by raw values, 0 for none.
    private static let tiers = Int(Tier.allCases.map(\.rawValue).max()!) + 1
    private static let providers = Int(Provider.allCases.map(\.rawValue).max()!) + 1
    private let counters = Mutex<[Counter?]>(Array(repeating: nil, count: tiers * providers))

    func counter(tierServed: Tier?, provider: Provider?) -> Counter {
        let index = Int(tierServed?.rawValue ?? 0) * Self.providers + Int(provider?.rawValue ?? 0)
        return self.counters.withLock { counters in
            if let counter = counters[index] { return counter }
            let counter = ServerMetrics.callsCounter(outcome: "ok", tierServed: tierServed, provider: provider)
            counters[index] = counter
            return counter
        }
    }
}
