internal import Atomics
internal import Logging

/// What every connection of a server shares: configuration, the service, the tenants, metrics,
/// global counters and the drain/stop signals.
final class ServerShared: Sendable {
    let configuration: FlexServer.Configuration
    let service: any InferenceService
    let tenants: TenantDirectory
    let recorder: (any SavingsRecorder)?
    let metrics: ServerMetrics
    /// Set when a graceful shutdown starts: connections send GOAWAY and take no new calls.
    let draining = OneShotSignal<Void>()
    /// Set when the drain's grace period is over: calls still running are stopped.
    let stopping = OneShotSignal<Void>()
    private let callsInFlight = ManagedAtomic<Int>(0)
    let connections = ManagedAtomic<Int>(0)

    init(configuration: FlexServer.Configuration, service: any InferenceService, tenants: TenantDirectory,
         recorder: (any SavingsRecorder)?, metrics: ServerMetrics) {
        self.configuration = configuration
        self.service = service
        self.tenants = tenants
        self.recorder = recorder
        self.metrics = metrics
    }

    /// Takes a slot for a call if the server is under its limit of calls in flight.
    func admitCall() -> Bool {
        while true {
            let current = self.callsInFlight.load(ordering: .relaxed)
            guard current < self.configuration.maxCallsInFlight else { return false }
            if self.callsInFlight.compareExchange(expected: current, desired: current + 1, ordering: .relaxed).exchanged {
                self.metrics.callsInFlight(current + 1)
                return true
            }
        }
    }

    func callEnded() {
        let now = self.callsInFlight.wrappingDecrementThenLoad(ordering: .relaxed)
        self.metrics.callsInFlight(now)
    }

    var callsRunning: Int { self.callsInFlight.load(ordering: .relaxed) }

    /// A request id for a call that came without one: `fx-` and 16 random hex digits.
    func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return "fx-" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
