#if canImport(Glibc)
import Glibc
#endif

/// Closed-loop load: `concurrency` tasks each sending one request after another for `duration`.
struct Measurement {
    var client: String
    var concurrency: Int
    var requests: Int
    var errors: Int
    var seconds: Double
    /// CPU time (user + system) the whole benchmark process used during the run.
    var cpuSeconds: Double
    var latencies: [UInt64]  // nanoseconds, sorted

    /// Client CPU per request, in microseconds.
    var cpuMicrosecondsPerRequest: Double { self.cpuSeconds * 1e6 / Double(max(1, self.requests)) }

    var requestsPerSecond: Double { Double(self.requests) / self.seconds }

    func percentile(_ p: Double) -> Double {
        guard !self.latencies.isEmpty else {
            return .nan
        }
        let index = min(self.latencies.count - 1, Int((Double(self.latencies.count) * p).rounded(.up)) - 1)
        return Double(self.latencies[max(0, index)]) / 1_000_000
    }
}

func now() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}

func measure(_ client: any BenchClient, concurrency: Int, seconds: Double) async -> Measurement {
    let cpuStart = processCPUSeconds()
    let start = now()
    let end = start + UInt64(seconds * 1e9)
    let perWorker = await withTaskGroup(of: ([UInt64], Int).self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                var latencies: [UInt64] = []
                latencies.reserveCapacity(Int(seconds * 20_000) / max(1, concurrency / 4))
                var errors = 0
                while true {
                    let before = now()
                    if before >= end {
                        break
                    }
                    do {
                        try await client.post()
                        latencies.append(now() - before)
                    } catch {
                        errors += 1
                    }
                }
                return (latencies, errors)
            }
        }
        var all: [([UInt64], Int)] = []
        for await result in group {
            all.append(result)
        }
        return all
    }
    let elapsed = Double(now() - start) / 1e9
    let cpu = processCPUSeconds() - cpuStart
    var latencies = perWorker.flatMap(\.0)
    latencies.sort()
    return Measurement(
        client: client.name,
        concurrency: concurrency,
        requests: latencies.count,
        errors: perWorker.map(\.1).reduce(0, +),
        seconds: elapsed,
        cpuSeconds: cpu,
        latencies: latencies
    )
}
