import ArgumentParser
import FlexClient
import FlexLoadKit
import Foundation
import NIOPosix

/// flexload: drives flexd (and, side by side, flexsim directly) with a workload mix and reports
/// latency, throughput and savings. Contract: ../shared/BRIEF.md section 4; the FlexLoadKit documentation, *The flexload command*.
@main
struct FlexLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flexload",
        abstract: "Load-test flexd: open- or closed-loop calls from a workload mix; latency, throughput and savings.",
        discussion: """
            With --target, calls go to flexd over the flexinference protocol; with --target-http, to \
            flexd's HTTP door as the providers' SDKs send them (provider JSON without a tier field). \
            With --direct, the same calls go as provider JSON straight to flexsim (its root URL), on \
            the standard tier. With a flexd target and --direct, flexd is measured first, then direct, \
            and the report adds flexd's added latency.
            Built-in mixes: \(Mix.builtIn.keys.sorted().joined(separator: ", ")); or a mix file (tools/flexload/FlexLoadKit/Documentation.docc).
            """
    )

    @Option(
        help:
            "flexd's address, HOST:PORT, or several separated by commas (a fleet: calls spread over them by load; a host name resolving to several addresses is several)."
    )
    var target: String?

    @Option(
        name: .customLong("target-http"),
        help: "flexd's HTTP door, http://HOST:PORT: the calls go as the providers' SDKs send them (not with --target)."
    )
    var targetHTTP: String?

    @Option(help: "flexsim's root URL (http://HOST:PORT): send the same calls straight to it, bypassing flexd.")
    var direct: String?

    @Option(help: "Open loop: calls started per second, whatever the answers do.")
    var rate: Double?

    @Option(help: "Closed loop: calls in flight at once. (default: 16 when --rate is not given)")
    var concurrency: Int?

    @Option(help: "Stop after this many calls. (default: 1000 when --duration is not given)")
    var requests: Int?

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    @Option(help: "A built-in mix name or a mix file.")
    var mix: String = "default"

    @Option(help: "Write the JSON report here.")
    var json: String?

    @Option(help: "Write an SVG chart here: latency CDF of flexd vs direct, cost standard-only vs flex-first.")
    var svg: String?

    @Option(help: "Seed for the workload: the same seed sends the same calls.")
    var seed: UInt64 = 1

    @Option(help: "Connections to flexd; calls are spread over them.")
    var connections: Int = 2

    @Option(
        name: .customLong("max-connections"),
        help:
            "Most connections per flexd endpoint: the client opens more than --connections when those are at the server's stream limit. (default: 32, or --connections when larger)"
    )
    var maxConnections: Int?

    @Option(
        name: .customLong("api-key"),
        help: "flexd API key (or FLEXLOAD_API_KEY); none for a flexd without a keys file."
    )
    var apiKey: String?

    @Option(help: "Unmeasured calls made first, to warm connections and caches.")
    var warmup: Int = 0

    @Option(help: "Each call's deadline, in seconds.")
    var timeout: Double = 600

    @Flag(
        name: .customLong("standard-only"),
        help: "Send every call with start_within \"default\": the baseline for savings."
    )
    var standardOnly = false

    @Option(
        name: .customLong("max-in-flight"),
        help: "Open loop: calls in flight beyond this are counted as errors, not sent."
    )
    var maxInFlight: Int = 20_000

    @Option(name: .customLong("run-id"), help: "Prefix of every request id (default: flexload-<time>).")
    var runID: String?

    @Option(
        name: .customLong("show-calls"),
        help: "Print one line per call (what it asked, what served it, its cost) for the first N calls."
    )
    var showCalls: Int = 0

    @Flag(help: "No progress lines.")
    var quiet = false

    func validate() throws {
        guard self.target == nil || self.targetHTTP == nil else {
            throw ValidationError("give --target HOST:PORT or --target-http URL, not both")
        }
        guard self.target != nil || self.targetHTTP != nil || self.direct != nil else {
            throw ValidationError(
                "give a flexd target (--target HOST:PORT or --target-http URL), --direct URL, or both"
            )
        }
        if let target { _ = try Self.endpoints(target) }
        if let targetHTTP, !targetHTTP.hasPrefix("http://") {
            throw ValidationError("--target-http must be a URL such as http://127.0.0.1:7402, not \"\(targetHTTP)\"")
        }
        if let direct, !(direct.hasPrefix("http://") || direct.hasPrefix("https://")) {
            throw ValidationError("--direct must be a URL such as http://127.0.0.1:9000, not \"\(direct)\"")
        }
        guard self.rate == nil || self.concurrency == nil else {
            throw ValidationError("give --rate or --concurrency, not both")
        }
        if let rate, !(rate > 0 && rate <= 1_000_000) { throw ValidationError("--rate must be in (0, 1000000]") }
        if let concurrency, !(1...100_000).contains(concurrency) {
            throw ValidationError("--concurrency must be 1...100000")
        }
        guard self.requests == nil || self.duration == nil else {
            throw ValidationError("give --requests or --duration, not both")
        }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        guard (1...1024).contains(self.connections), (self.connections...1024).contains(self.effectiveMaxConnections)
        else {
            throw ValidationError("--connections must be 1...1024, and --max-connections from --connections to 1024")
        }
        guard self.timeout > 0, self.warmup >= 0, self.maxInFlight >= 1, (0...100_000).contains(self.showCalls) else {
            throw ValidationError(
                "--timeout must be positive, --warmup not negative, --max-in-flight at least 1, --show-calls 0...100000"
            )
        }
        do {
            _ = try Mix.named(self.mix)
        } catch {
            throw ValidationError(error.description)
        }
    }

    var effectiveMaxConnections: Int { self.maxConnections ?? max(32, self.connections) }

    /// `HOST:PORT[,HOST:PORT...]`.
    static func endpoints(_ text: String) throws -> [FlexClient.Endpoint] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        return try parts.map { part in
            do {
                return try FlexClient.Endpoint(part.trimmingCharacters(in: .whitespaces))
            } catch {
                throw ValidationError("--target must be HOST:PORT or a comma-separated list of them, not \"\(text)\"")
            }
        }
    }

    func run() async throws {
        let mix = try Mix.named(self.mix)
        let runID = self.runID ?? "flexload-\(Int(Date().timeIntervalSince1970))"
        let workload = Workload(mix: mix, seed: self.seed, runID: runID, standardOnly: self.standardOnly)
        let plan = LoadPlan(
            pacing: self.rate.map { .rate($0) } ?? .concurrency(self.concurrency ?? 16),
            stop: self.duration.map { .duration(.seconds($0)) } ?? .requests(self.requests ?? 1000),
            warmup: self.warmup,
            maxInFlight: self.maxInFlight
        )

        var measured: [(String, Summary, [UInt64])] = []
        let apiKey = self.apiKey ?? ProcessInfo.processInfo.environment["FLEXLOAD_API_KEY"] ?? ""
        if let target {
            let flexd = try FlexdTarget(
                endpoints: try Self.endpoints(target),
                connections: self.connections,
                maxConnections: self.effectiveMaxConnections,
                apiKey: apiKey,
                timeout: .seconds(self.timeout),
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton
            )
            measured.append(await self.measure(flexd, workload: workload, plan: plan))
        }
        if let targetHTTP {
            let door = try DoorTarget(root: targetHTTP, apiKey: apiKey, timeout: .seconds(self.timeout))
            measured.append(await self.measure(door, workload: workload, plan: plan))
        }
        if let direct {
            let target = try DirectTarget(root: direct, timeout: .seconds(self.timeout))
            let directWorkload = Workload(
                mix: mix,
                seed: self.seed,
                runID: runID + "-direct",
                standardOnly: self.standardOnly
            )
            measured.append(await self.measure(target, workload: directWorkload, plan: plan))
        }

        let report = Report(
            run: Report.Run(
                target: measured[0].0,
                mix: mix.name,
                seed: self.seed,
                pacing: plan.pacing.description,
                stop: plan.stop.description,
                standardOnly: self.standardOnly
            ),
            main: measured[0].1,
            direct: measured.count > 1 ? measured[1].1 : nil
        )
        print(report.table())
        if let json {
            try ReportFile.write(report.json(), to: json)
            print("wrote \(json)")
        }
        if let svg {
            let chart = Chart(
                title: "flexload: mix \(mix.name), \(plan.pacing), \(plan.stop)",
                series: measured.map { Chart.Series(name: $0.0, sortedMicroseconds: $0.2) },
                savings: measured[0].0 == "flexd" ? measured[0].1.savings : nil
            )
            try ReportFile.write(chart.svg(), to: svg)
            print("wrote \(svg)")
        }
    }

    private func measure(
        _ target: any LoadTarget,
        workload: Workload,
        plan: LoadPlan
    ) async -> (String, Summary, [UInt64]) {
        let progress = Progress(name: target.name, quiet: self.quiet)
        let driver = LoadDriver(target: target, workload: workload, plan: plan)
        let (results, elapsed) = await driver.run(into: Results(keepCalls: self.showCalls), progress: progress.report)
        progress.finish(results, elapsed)
        await target.close()
        if self.showCalls > 0 {
            print(Report.callTable(results.calls))
            print()
        }
        return (target.name, results.summary(elapsed: elapsed), results.sortedSamples())
    }
}
