/// Where a load run sends its calls: flexd over the protocol, or a provider's JSON API directly.
///
/// A target makes one call and says how it went; the ``LoadDriver`` decides when calls start and
/// measures latency from each call's intended start, which it passes in.
public protocol LoadTarget: Sendable {
    /// A short name for reports: `flexd` or `direct`.
    var name: String { get }

    /// Makes one call. Never throws: a failure is a ``CallResult`` with `ok == false`.
    ///
    /// - Parameters:
    ///   - call: The planned call.
    ///   - intended: When the call was meant to start; latencies are measured from it.
    func send(_ call: PlannedCall, intended: ContinuousClock.Instant) async -> CallResult

    /// Closes connections; calls after this fail.
    func close() async
}
