import FlexClient
import FlexCodec
import FlexJSON
import FlexSim
import FlexTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import FlexLoadKit

/// The driver against real targets (an in-process flexd routing to an in-process flexsim, and that
/// flexsim directly), and against a scripted target where only the driver's own rules are tested.
@Suite("LoadDriver")
struct LoadDriverTests {
    @Test func openLoopThroughFlexdBillsWhatFlexsimBilled() async throws {
        try await ServerFixture.with { fixture in
            let target = try FlexdTarget(
                endpoints: [.init(host: "127.0.0.1", port: fixture.port)],
                connections: 2,
                apiKey: "",
                timeout: .seconds(60),
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton
            )
            let workload = Workload(mix: .standard, seed: 3, runID: "driver-open")
            let driver = LoadDriver(
                target: target,
                workload: workload,
                plan: LoadPlan(pacing: .rate(200), stop: .requests(60))
            )
            let (results, elapsed) = await driver.run()
            await target.close()
            let summary = results.summary(elapsed: elapsed)
            #expect(summary.requests == 60)
            #expect(summary.errors == 0, "\(summary.errorsByCode)")
            #expect(summary.tiers.values.reduce(0, +) == 60, "every call has its savings record")
            #expect(summary.tiers["flex", default: 0] > 0 && summary.savings.savedPicoUSD > 0)
            #expect(summary.costAboveStandard == 0)
            let billed = try await Self.ledgerCost(fixture.sim, prefix: "driver-open-", count: 60)
            #expect(billed == summary.savings.actualCostPicoUSD, "flexload's sum of records equals flexsim's bill")
        }
    }

    @Test func closedLoopStraightToFlexsimAndTypedCallsThroughFlexd() async throws {
        try await ServerFixture.with { fixture in
            let direct = try DirectTarget(root: "http://127.0.0.1:\(fixture.sim.port)", timeout: .seconds(60))
            let workload = Workload(mix: .standard, seed: 4, runID: "driver-direct")
            let (results, elapsed) = await LoadDriver(
                target: direct,
                workload: workload,
                plan: LoadPlan(pacing: .concurrency(4), stop: .requests(40))
            ).run()
            await direct.close()
            let summary = results.summary(elapsed: elapsed)
            #expect(summary.requests == 40 && summary.errors == 0, "\(summary.errorsByCode)")
            #expect(summary.tiers.isEmpty, "the direct path has no savings records")
            let rows = try await Self.ledgerRows(fixture.sim, prefix: "driver-direct-", count: 40)
            #expect(
                rows.allSatisfy { $0["tier_served"]?.string == "standard" },
                "direct calls ask for the standard tier: \(rows.map { $0["tier_served"]?.string ?? "?" })"
            )

            let flexd = try FlexdTarget(
                endpoints: [.init(host: "127.0.0.1", port: fixture.port)],
                connections: 1,
                apiKey: "",
                timeout: .seconds(60),
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton
            )
            let typed = Workload(mix: .typed, seed: 4, runID: "driver-typed")
            let (typedResults, typedElapsed) = await LoadDriver(
                target: flexd,
                workload: typed,
                plan: LoadPlan(pacing: .concurrency(4), stop: .requests(30))
            ).run()
            await flexd.close()
            let typedSummary = typedResults.summary(elapsed: typedElapsed)
            #expect(typedSummary.requests == 30 && typedSummary.errors == 0, "\(typedSummary.errorsByCode)")
        }
    }

    @Test func anOpenLoopDurationFixesTheNumberOfCalls() async {
        let target = ScriptedTarget()
        let plan = LoadPlan(pacing: .rate(100), stop: .duration(.milliseconds(300)))
        let (results, _) = await LoadDriver(
            target: target,
            workload: Workload(mix: .overhead, seed: 1, runID: "d"),
            plan: plan
        ).run()
        #expect(results.count == 30, "calls are due every 10 ms from the start: 0 ms ... 290 ms")
    }

    @Test func anOpenLoopNeverHoldsMoreThanItsBoundInFlight() async {
        let target = ScriptedTarget(holdFirst: true)
        let plan = LoadPlan(pacing: .rate(1000), stop: .requests(20), maxInFlight: 1)
        let driver = LoadDriver(target: target, workload: Workload(mix: .overhead, seed: 1, runID: "s"), plan: plan)
        let results = Results()
        async let run = driver.run(into: results)
        // The first call is held until the driver has dealt with every other one.
        while results.count < 19 { try? await Task.sleep(for: .milliseconds(5)) }
        target.release()
        let (_, elapsed) = await run
        let summary = results.summary(elapsed: elapsed)
        #expect(summary.requests == 20)
        #expect(
            summary.errorsByCode == ["load_generator_saturated": 19],
            "calls past the bound are counted, not queued"
        )
        #expect(target.maxInFlight == 1)
    }

    @Test func aClosedLoopKeepsItsWorkersBusyAndNoMore() async {
        let target = ScriptedTarget()
        let workload = Workload(mix: .overhead, seed: 1, runID: "c")
        let (results, _) = await LoadDriver(
            target: target,
            workload: workload,
            plan: LoadPlan(pacing: .concurrency(5), stop: .requests(200))
        ).run()
        #expect(results.count == 200 && target.calls == 200)
        #expect(target.maxInFlight <= 5)

        let warmed = ScriptedTarget()
        let (measured, _) = await LoadDriver(
            target: warmed,
            workload: workload,
            plan: LoadPlan(pacing: .concurrency(5), stop: .requests(200), warmup: 10)
        ).run()
        #expect(measured.count == 200, "warm-up calls are not measured")
        #expect(warmed.calls == 210)
        let summary = measured.summary(elapsed: .seconds(1))
        #expect(summary.requests == 200 && summary.warmup.calls == 10, "but they are counted apart")
    }

    /// The `long` mix against a flexsim whose answers fill `max_output_tokens` (what the
    /// benchmarks run it against): every call streams 500 to 2,000 tokens, one event each, and
    /// flexload counts the events both through flexd and directly.
    @Test func theLongMixStreamsHundredsOfEventsPerCallAndTheyAreCounted() async throws {
        var profile = Profile.instant
        profile.faults = [.init(probability: 1, fault: "large_response=8000")]
        try await ServerFixture.with(profile: profile) { fixture in
            let flexd = try FlexdTarget(
                endpoints: [.init(host: "127.0.0.1", port: fixture.port)],
                connections: 1,
                apiKey: "",
                timeout: .seconds(60),
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton
            )
            let direct = try DirectTarget(root: "http://127.0.0.1:\(fixture.sim.port)", timeout: .seconds(60))
            for target in [flexd, direct] as [any LoadTarget] {
                let (results, elapsed) = await LoadDriver(
                    target: target,
                    workload: Workload(mix: .long, seed: 9, runID: "driver-long-\(target.name)"),
                    plan: LoadPlan(pacing: .concurrency(3), stop: .requests(6), warmup: 1)
                ).run()
                await target.close()
                let summary = results.summary(elapsed: elapsed)
                #expect(summary.requests == 6 && summary.errors == 0, "\(target.name): \(summary.errorsByCode)")
                #expect(summary.streams == 6, "\(target.name): the long mix streams every call")
                #expect(
                    summary.events >= 6 * 500 && summary.events <= 6 * 2_100,
                    "\(target.name): one event per output token, 500 to 2,000 per call: \(summary.events)"
                )
                #expect(summary.warmup.calls == 1 && summary.warmup.events >= 500, "\(target.name)")
            }
        }
    }

    @Test func eventsAreCountedAtBlankLinesWhereverTheChunksSplitThem() {
        var counter = EventCounter()
        for chunk in ["data: {\"a\":1}\n", "\ndata: x\r\n\r", "\nevent: done\ndata: [DONE]\n\n", "data: half\n"] {
            counter.count(ByteBuffer(string: chunk))
        }
        #expect(counter.events == 3, "the unfinished last event is not counted")
    }

    static func ledgerRows(_ sim: FlexsimFixture, prefix: String, count: Int) async throws -> [JSONValue] {
        for _ in 0..<200 {
            let response = try LoopbackHTTP.send(port: sim.port, method: "GET", path: "/sim/ledger")
            let rows = try response.text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
                .filter { $0["correlation_id"]?.string?.hasPrefix(prefix) == true }
            if rows.count >= count { return rows }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("flexsim's ledger never had \(count) rows for \(prefix)")
        return []
    }

    static func ledgerCost(_ sim: FlexsimFixture, prefix: String, count: Int) async throws -> Int64 {
        try await Self.ledgerRows(sim, prefix: prefix, count: count).reduce(0) { $0 + ($1["cost_picousd"]?.int ?? 0) }
    }
}

/// A target that answers at once, or holds its first call until released; it counts calls and the
/// most it had in flight.
final class ScriptedTarget: LoadTarget, @unchecked Sendable {
    // @unchecked: every field is only touched with `lock` held.
    let name = "scripted"
    private let lock = NIOLock()
    private var inFlight = 0
    private var _maxInFlight = 0
    private var _calls = 0
    private var held: CheckedContinuation<Void, Never>?
    private var released = false
    private let holdFirst: Bool

    init(holdFirst: Bool = false) { self.holdFirst = holdFirst }

    var calls: Int { self.lock.withLock { self._calls } }
    var maxInFlight: Int { self.lock.withLock { self._maxInFlight } }

    func send(_ call: PlannedCall, intended: ContinuousClock.Instant) async -> CallResult {
        let first = self.lock.withLock {
            self._calls += 1
            self.inFlight += 1
            self._maxInFlight = max(self._maxInFlight, self.inFlight)
            return self._calls == 1
        }
        if first, self.holdFirst {
            await withCheckedContinuation { continuation in
                let resume = self.lock.withLock {
                    if self.released { return true }
                    self.held = continuation
                    return false
                }
                if resume { continuation.resume() }
            }
        } else {
            await Task.yield()
        }
        self.lock.withLock { self.inFlight -= 1 }
        return CallResult(ok: true, latency: .now - intended)
    }

    func release() {
        let continuation = self.lock.withLock {
            self.released = true
            defer { self.held = nil }
            return self.held
        }
        continuation?.resume()
    }

    func close() async {}
}
