internal import FlexCodec
internal import Foundation

/// The JSON report (brief, section 4): the measured target's ``Summary`` at the top level, the run's
/// settings under `run`, and, when both flexd and flexsim were measured, the direct run under
/// `direct` and the router's added latency under `added_latency_ms` (flexd minus direct, per
/// percentile; flexd over the protocol, `flexd`, or through its HTTP door, `flexd-http`).
public struct Report: Sendable, Encodable {
    public struct Run: Sendable, Codable {
        public var target: String
        public var mix: String
        public var seed: UInt64
        public var pacing: String
        public var stop: String
        public var standardOnly: Bool

        public init(target: String, mix: String, seed: UInt64, pacing: String, stop: String, standardOnly: Bool) {
            self.target = target
            self.mix = mix
            self.seed = seed
            self.pacing = pacing
            self.stop = stop
            self.standardOnly = standardOnly
        }

        enum CodingKeys: String, CodingKey {
            case target, mix, seed, pacing, stop
            case standardOnly = "standard_only"
        }
    }

    public var run: Run
    public var main: Summary
    public var direct: Summary?

    public init(run: Run, main: Summary, direct: Summary?) {
        self.run = run
        self.main = main
        self.direct = direct
    }

    /// The targets whose latency is flexd's: over the protocol, or through the HTTP door.
    static let flexdTargets: Set<String> = ["flexd", "flexd-http"]

    /// flexd minus direct at each percentile, when both ran.
    public var addedLatency: Percentiles? {
        guard let direct, Self.flexdTargets.contains(self.run.target) else { return nil }
        return self.main.latencyMS.minus(direct.latencyMS)
    }

    enum CodingKeys: String, CodingKey {
        case run, direct
        case addedLatencyMS = "added_latency_ms"
    }

    public func encode(to encoder: any Encoder) throws {
        try self.main.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.run, forKey: .run)
        try container.encodeIfPresent(self.direct, forKey: .direct)
        try container.encodeIfPresent(self.addedLatency, forKey: .addedLatencyMS)
    }

    /// The report as pretty, key-sorted JSON.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The summary table printed on stdout.
    public func table() -> String {
        var columns: [(String, Summary)] = [(self.run.target, self.main)]
        if let direct { columns.append(("direct", direct)) }
        var lines: [String] = []
        lines.append(
            "flexload: mix \(self.run.mix), \(self.run.stop), \(self.run.pacing), seed \(self.run.seed)"
                + (self.run.standardOnly ? ", standard only" : "")
        )
        func row(_ label: String, _ value: (Summary) -> String) {
            lines.append(
                label.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + columns.map { value($0.1).leftPadded(to: 14) }.joined()
            )
        }
        lines.append(String(repeating: " ", count: 22) + columns.map { $0.0.leftPadded(to: 14) }.joined())
        row("requests") { "\($0.requests)" }
        row("errors") { "\($0.errors)" }
        row("throughput (req/s)") { String(format: "%.1f", $0.throughputRPS) }
        for (name, path) in [
            ("p50", \Percentiles.p50), ("p90", \.p90), ("p95", \.p95), ("p99", \.p99), ("p99.9", \.p999),
            ("max", \.max),
        ] {
            row("latency \(name) (ms)") { String(format: "%.3f", $0.latencyMS[keyPath: path]) }
        }
        for (name, path) in [("p50", \Percentiles.p50), ("p99", \.p99)] {
            row("first byte \(name) (ms)") { String(format: "%.3f", $0.ttfbMS[keyPath: path]) }
        }
        if columns.contains(where: { $0.1.streams > 0 }) {
            row("streamed calls") { "\($0.streams)" }
            row("events received") { "\($0.events)" }
        }
        if let added = self.addedLatency {
            lines.append(
                String(
                    format: "added by \(self.run.target): p50 %+.3f ms, p90 %+.3f ms, p99 %+.3f ms, p99.9 %+.3f ms",
                    added.p50,
                    added.p90,
                    added.p99,
                    added.p999
                )
            )
        }
        if !self.main.errorsByCode.isEmpty {
            lines.append("errors by code: " + Self.counts(self.main.errorsByCode))
        }
        if let direct, !direct.errorsByCode.isEmpty {
            lines.append("direct errors by code: " + Self.counts(direct.errorsByCode))
        }
        let savings = self.main.savings
        if savings.standardCostPicoUSD > 0 {
            lines.append(
                String(
                    format:
                        "cost: standard-only $%.6f, flex-first $%.6f, saved $%.6f (%.2f%% token-weighted), fee $%.6f",
                    Summary.Savings.usd(savings.standardCostPicoUSD),
                    Summary.Savings.usd(savings.actualCostPicoUSD),
                    Summary.Savings.usd(savings.savedPicoUSD),
                    savings.tokenWeightedSavingsPct,
                    Summary.Savings.usd(savings.feePicoUSD)
                )
            )
            lines.append(
                String(format: "flex served %.2f%% of tokens; tiers: ", savings.flexTokenSharePct)
                    + Self.counts(self.main.tiers)
            )
            lines.append(
                "fallbacks: \(self.main.fallbacks.count)"
                    + (self.main.fallbacks.reasons.isEmpty ? "" : " (" + Self.counts(self.main.fallbacks.reasons) + ")")
                    + String(format: "; wasted wait %.1f s", self.main.fallbacks.wastedWaitSeconds)
                    + "; past budget \(self.main.fallbacks.pastBudget)"
            )
            lines.append("cost_above_standard: \(self.main.costAboveStandard)")
        }
        return lines.joined(separator: "\n")
    }

    /// One line per call: what it asked for, the tier that served it, and what it cost against
    /// standard.
    public static func callTable(_ rows: [CallRow]) -> String {
        var lines = [
            "call  api               model                 start_within  stream  served              "
                + "latency ms   standard $     actual $      saved $"
        ]
        for row in rows {
            let result = row.result
            var served =
                result.savings?.tierServed?.name ?? (result.ok ? "-" : "error: " + (result.errorCode ?? "unknown"))
            if let reason = result.savings?.fallbackReason { served += " (" + reason.name + ")" }
            let money =
                result.savings.map {
                    String(
                        format: "%12.6f %12.6f %12.6f",
                        Summary.Savings.usd($0.standardCostPicoUSD),
                        Summary.Savings.usd($0.actualCostPicoUSD),
                        Summary.Savings.usd($0.savedPicoUSD)
                    )
                } ?? ""
            lines.append(
                String(row.index).padding(toLength: 6, withPad: " ", startingAt: 0)
                    + row.api.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + row.model.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + row.startWithin.padding(toLength: 14, withPad: " ", startingAt: 0)
                    + (row.stream ? "yes" : "no").padding(toLength: 8, withPad: " ", startingAt: 0)
                    + served.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(format: "%10.1f", result.latency.milliseconds) + " " + money
            )
        }
        return lines.joined(separator: "\n")
    }

    static func counts(_ counts: [String: Int]) -> String {
        counts.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value > $1.value }
            .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}

extension Percentiles {
    /// Each percentile of `self` minus the same of `other`.
    func minus(_ other: Percentiles) -> Percentiles {
        func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
        return Percentiles(
            p50: round(self.p50 - other.p50),
            p90: round(self.p90 - other.p90),
            p95: round(self.p95 - other.p95),
            p99: round(self.p99 - other.p99),
            p999: round(self.p999 - other.p999),
            max: round(self.max - other.max)
        )
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        self.count >= width ? " " + self : String(repeating: " ", count: width - self.count) + self
    }
}
