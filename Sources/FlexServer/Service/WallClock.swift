#if canImport(Glibc)
internal import Glibc
#endif

/// Wall-clock time for records that outlive the process (the ledger's timestamps); durations are
/// measured on `ContinuousClock`.
enum WallClock {
    /// Now, in microseconds since the Unix epoch (UTC).
    static func microsecondsSinceEpoch() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }

    /// A duration in whole microseconds (negative durations count as zero).
    static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
    }
}
