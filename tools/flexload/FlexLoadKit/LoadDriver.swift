/// Runs a ``LoadPlan`` against a ``LoadTarget`` and collects ``Results``.
///
/// Open loop: call *i* is meant to start at `start + i / rate`; its latency is measured from that
/// instant, not from when the driver got round to sending it, so a server that stalls is charged
/// for the queue it causes (no coordinated omission). Closed loop: `concurrency` workers, each
/// measuring from its own send.
public struct LoadDriver: Sendable {
    public let target: any LoadTarget
    public let workload: Workload
    public let plan: LoadPlan

    public init(target: any LoadTarget, workload: Workload, plan: LoadPlan) {
        self.target = target
        self.workload = workload
        self.plan = plan
    }

    /// Runs the warm-up, then the measured calls, recording into `results` (the warm-up only as
    /// counts); `progress` is called about once a second.
    public func run(
        into results: Results = Results(),
        progress: (@Sendable (Results, Duration) -> Void)? = nil
    ) async -> (Results, Duration) {
        await self.warmUp(results)
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            if let progress {
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        if Task.isCancelled { break }
                        progress(results, .now - start)
                    }
                }
            }
            switch self.plan.pacing {
            case .rate(let rate):
                await self.openLoop(rate: rate, start: start, results: results)
            case .concurrency(let workers):
                await self.closedLoop(workers: workers, start: start, results: results)
            }
            group.cancelAll()
        }
        return (results, .now - start)
    }

    private func warmUp(_ results: Results) async {
        guard self.plan.warmup > 0 else { return }
        let warmup = Workload(
            mix: self.workload.mix,
            seed: self.workload.seed &+ 1,
            runID: self.workload.runID + "-warmup",
            standardOnly: self.workload.standardOnly
        )
        let next = AtomicCounter()
        let events = AtomicCounter()
        let count = self.plan.warmup
        let target = self.target
        await withDiscardingTaskGroup { group in
            for _ in 0..<min(8, count) {
                group.addTask {
                    while true {
                        let index = next.next()
                        guard index < count else { return }
                        events.add(await target.send(warmup.call(index), intended: .now).events)
                    }
                }
            }
        }
        results.recordWarmup(calls: count, events: events.current)
    }

    private func openLoop(rate: Double, start: ContinuousClock.Instant, results: Results) async {
        let interval = Duration.seconds(1 / rate)
        let inFlight = AtomicCounter()
        let target = self.target
        let maxInFlight = self.plan.maxInFlight
        await withDiscardingTaskGroup { group in
            var index = 0
            while !Task.isCancelled {
                let intended = start + interval * index
                switch self.plan.stop {
                case .requests(let count): if index >= count { return }
                case .duration(let duration): if intended - start >= duration { return }
                }
                if intended > .now {
                    try? await Task.sleep(until: intended, tolerance: .microseconds(100), clock: .continuous)
                }
                let call = self.workload.call(index)
                index += 1
                guard inFlight.increment() <= maxInFlight else {
                    inFlight.decrement()
                    results.record(
                        CallResult(ok: false, errorCode: "load_generator_saturated", latency: .now - intended),
                        for: call
                    )
                    continue
                }
                group.addTask {
                    let result = await target.send(call, intended: intended)
                    inFlight.decrement()
                    results.record(result, for: call)
                }
            }
        }
    }

    private func closedLoop(workers: Int, start: ContinuousClock.Instant, results: Results) async {
        let next = AtomicCounter()
        let target = self.target
        let workload = self.workload
        let stop = self.plan.stop
        await withDiscardingTaskGroup { group in
            for _ in 0..<workers {
                group.addTask {
                    while !Task.isCancelled {
                        let sent = ContinuousClock.now
                        let index = next.next()
                        switch stop {
                        case .requests(let count): if index >= count { return }
                        case .duration(let duration): if sent - start >= duration { return }
                        }
                        let call = workload.call(index)
                        results.record(await target.send(call, intended: sent), for: call)
                    }
                }
            }
        }
    }
}
