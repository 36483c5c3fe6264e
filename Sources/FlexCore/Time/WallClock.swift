#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Wall-clock time, for records that outlive the process (the ledger's timestamps). Durations and
/// deadlines are measured on `ContinuousClock` and armed with ``DeadlineTimers``.
public enum WallClock {
    /// Now, in microseconds since the Unix epoch (UTC).
    public static func microsecondsSinceEpoch() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }
}
