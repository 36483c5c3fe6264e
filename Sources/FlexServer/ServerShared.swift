internal import Atomics
internal import FlexCodec
internal import NIOCore
internal import Synchronization

/// What every connection of a server shares: configuration, the service, the tenants, metrics, the
/// count of calls in flight, the registry of open connections (which the drain reaches them
/// through) and each event loop's deadline service.
final class ServerShared: Sendable {
    let configuration: FlexServer.Configuration
    let service: any InferenceService
    let tenants: TenantDirectory
    let recorder: (any SavingsRecorder)?
    let metrics: ServerMetrics
    private let callsInFlight = ManagedAtomic<Int>(0)
    /// The most calls in flight at once since memory was last released after a burst.
    private let burstPeak = ManagedAtomic<Int>(0)
    private let registry = Mutex(Registry())
    private let timersByLoop = Mutex<[ObjectIdentifier: DeadlineTimers]>([:])

    private struct Registry {
        var connections: [ObjectIdentifier: any DrainableConnection] = [:]
        /// Connections closed since ``FlexServer/Configuration/releaseMemory`` last ran.
        var closedSinceRelease = 0
        var draining = false
        /// Signalled when the last connection closes during a drain.
        var drained: DeadlineSignal?
    }

    init(
        configuration: FlexServer.Configuration,
        service: any InferenceService,
        tenants: TenantDirectory,
        recorder: (any SavingsRecorder)?,
        metrics: ServerMetrics
    ) {
        self.configuration = configuration
        self.service = service
        self.tenants = tenants
        self.recorder = recorder
        self.metrics = metrics
    }

    // MARK: Calls

    /// Takes a slot for a call if the server is under its limit of calls in flight.
    func admitCall() -> Bool {
        while true {
            let current = self.callsInFlight.load(ordering: .relaxed)
            guard current < self.configuration.maxCallsInFlight else { return false }
            if self.callsInFlight.compareExchange(expected: current, desired: current + 1, ordering: .relaxed).exchanged
            {
                self.metrics.callsInFlight(current + 1)
                self.notePeak(current + 1)
                return true
            }
        }
    }

    /// Gives back a call's slot.
    func callEnded() {
        let now = self.callsInFlight.wrappingDecrementThenLoad(ordering: .relaxed)
        self.metrics.callsInFlight(now)
        self.releaseAfterBurst(now)
    }

    private func notePeak(_ running: Int) {
        var peak = self.burstPeak.load(ordering: .relaxed)
        while running > peak {
            let (exchanged, original) = self.burstPeak.compareExchange(
                expected: peak,
                desired: running,
                ordering: .relaxed
            )
            if exchanged { return }
            peak = original
        }
    }

    /// After a burst (at least ``FlexServer/Configuration/releaseMemoryAfterCallBurst`` calls in
    /// flight at once), once the calls in flight have fallen to a quarter of its peak: the memory
    /// its calls held goes back (``FlexServer/Configuration/releaseMemory``), once per burst.
    private func releaseAfterBurst(_ running: Int) {
        let threshold = self.configuration.releaseMemoryAfterCallBurst
        guard threshold > 0 else { return }
        let peak = self.burstPeak.load(ordering: .relaxed)
        guard peak >= threshold, running <= peak / 4 else { return }
        // One caller wins the exchange: the burst is counted out, and the next starts from here.
        if self.burstPeak.compareExchange(expected: peak, desired: running, ordering: .relaxed).exchanged {
            self.configuration.releaseMemory?()
        }
    }

    var callsRunning: Int { self.callsInFlight.load(ordering: .relaxed) }

    /// A request id for a call that came without one: `fx-` and 16 random hex digits.
    func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return "fx-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    // MARK: Connections

    /// Counts a new connection in; returns how many are open (this one included) and whether a
    /// drain has started (the connection then drains at once).
    func register(_ connection: any DrainableConnection) -> (count: Int, draining: Bool) {
        let (count, draining) = self.registry.withLock { registry in
            registry.connections[connection.id] = connection
            return (registry.connections.count, registry.draining)
        }
        self.metrics.connections(count)
        return (count, draining)
    }

    /// Counts a closed connection out; the last one to close during a drain ends the drain's wait.
    func unregister(_ connection: any DrainableConnection) {
        let every = self.configuration.releaseMemoryEvery
        let (count, drained, release) = self.registry.withLock { registry -> (Int, DeadlineSignal?, Bool) in
            guard registry.connections.removeValue(forKey: connection.id) != nil else {
                return (registry.connections.count, nil, false)
            }
            registry.closedSinceRelease += 1
            let release = registry.closedSinceRelease >= every
            if release { registry.closedSinceRelease = 0 }
            return (
                registry.connections.count,
                registry.connections.isEmpty && registry.draining ? registry.drained : nil,
                release
            )
        }
        self.metrics.connections(count)
        drained?.signal()
        if release { self.configuration.releaseMemory?() }
    }

    var connectionCount: Int { self.registry.withLock { $0.connections.count } }

    /// Starts a drain: every connection sends GOAWAY and takes no new call; connections that open
    /// from now on drain at once. `drained` is signalled when the last connection has closed.
    func beginDrain(signalling drained: DeadlineSignal) {
        let (connections, empty) = self.registry.withLock { registry in
            registry.draining = true
            registry.drained = drained
            return (Array(registry.connections.values), registry.connections.isEmpty)
        }
        for connection in connections { connection.beginDrain() }
        if empty { drained.signal() }
    }

    /// The drain's grace period is over: every call still running is stopped.
    func stopAllCalls() {
        let connections = self.registry.withLock { Array($0.connections.values) }
        for connection in connections { connection.stopAllCalls(WireErrors.stoppedByShutdown) }
    }

    var isDraining: Bool { self.registry.withLock { $0.draining } }

    // MARK: Timers

    /// The deadline service whose timer runs on `eventLoop`: a connection's timers fire on its own
    /// event loop.
    func timers(for eventLoop: any EventLoop) -> DeadlineTimers {
        self.timersByLoop.withLock { timers in
            if let existing = timers[ObjectIdentifier(eventLoop)] { return existing }
            let created = DeadlineTimers(on: eventLoop)
            timers[ObjectIdentifier(eventLoop)] = created
            return created
        }
    }
}
