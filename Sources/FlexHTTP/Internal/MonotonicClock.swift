// `timespec` also comes in through CCurl's shim header (<sys/timerfd.h>), which Swift then counts
// as its home module.
internal import CCurl

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Nanoseconds on `CLOCK_MONOTONIC`: what the curl thread compares deadlines against. A plain integer
/// keeps the per-chunk idle-deadline update to one vDSO call and an add.
enum MonotonicClock {
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at `UInt64.max` and at zero for negative durations.
    var saturatingNanoseconds: UInt64 {
        let (seconds, attoseconds) = self.components
        if seconds < 0 || (seconds == 0 && attoseconds < 0) {
            return 0
        }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow {
            return .max
        }
        let (sum, overflow2) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow2 ? .max : sum
    }

    /// Whole milliseconds, rounded up, for libcurl's `_MS` options; at least 1 for a positive duration.
    var curlMilliseconds: Int {
        let nanoseconds = self.saturatingNanoseconds
        let milliseconds = nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1)
        return Int(clamping: milliseconds)
    }
}
