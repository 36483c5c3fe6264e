/// Where a transport keeps the savings record of every call that reached a provider, before it
/// tells the caller the call has ended (flexd: the savings ledger).
///
/// A transport calls ``record(_:)`` once per call that has a savings record — completed, failed
/// after the provider started billing, cancelled or past its deadline — and sends the call's last
/// frame only after it returns, so a caller that saw a call end knows its record is durable. A
/// recorder that throws does not fail the call (the provider has already answered and billed it):
/// the transport logs the failure with the call's request id and counts it in
/// `flexd_ledger_failures_total`.
public protocol SavingsRecorder: Sendable {
    func record(_ call: FinishedCall) async throws
}

/// A call's end as the transport saw it: what the recorder stores.
public struct FinishedCall: Sendable {
    /// The router's savings record.
    public var savings: SavingsRecord
    /// The tenant the call is billed to (its id; never a key).
    public var tenant: Tenant
    /// The status the caller is told in the TRAILERS.
    public var status: Status
    /// When the call arrived and ended, microseconds since the Unix epoch (UTC, wall clock).
    public var receivedAtMicroseconds: Int64
    public var completedAtMicroseconds: Int64
    /// From arrival to end, on a monotonic clock.
    public var duration: Duration

    public init(
        savings: SavingsRecord,
        tenant: Tenant,
        status: Status,
        receivedAtMicroseconds: Int64,
        completedAtMicroseconds: Int64,
        duration: Duration
    ) {
        self.savings = savings
        self.tenant = tenant
        self.status = status
        self.receivedAtMicroseconds = receivedAtMicroseconds
        self.completedAtMicroseconds = completedAtMicroseconds
        self.duration = duration
    }
}
