/// `Duration` in the whole units that records, metrics, wire fields and system calls use: the one
/// place where its `components` are taken apart.
extension Duration {
    /// Whole nanoseconds, truncated; saturates at `Int64`'s bounds.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowed) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflowed { return seconds < 0 ? .min : .max }
        return sum
    }

    /// Whole microseconds, truncated; saturates at `Int64`'s bounds.
    public var microseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowed) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000)
        if overflowed { return seconds < 0 ? .min : .max }
        return sum
    }

    /// Whole microseconds rounded up, saturating: for a timeout on the wire, where a positive
    /// duration below a microsecond must not become 0 ("no timeout").
    public var microsecondsRoundedUp: Int64 {
        let truncated = self.microseconds
        guard truncated < .max, truncated >= 0, self > .microseconds(truncated) else { return truncated }
        return truncated + 1
    }

    /// Whole microseconds, 0 for a negative duration: for records' unsigned fields.
    public var unsignedMicroseconds: UInt64 {
        UInt64(max(0, self.microseconds))
    }

    /// Milliseconds with a fraction, for log lines and reports.
    public var milliseconds: Double {
        Double(self.nanoseconds) / 1_000_000
    }

    /// Seconds with a fraction, for reports and flags.
    public var seconds: Double {
        Double(self.nanoseconds) / 1_000_000_000
    }
}
