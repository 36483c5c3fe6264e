internal import FlexCatalog
public import FlexCore
internal import NIOConcurrencyHelpers
public import NIOCore

/// The flex capacity model shared by all connections: immediate refusals with a time-correlated
/// probability, a queue wait drawn from the profile, and a per-provider concurrency limit so that
/// load lengthens the wait.
///
/// Time is simulated time: real time since start multiplied by the time scale. The queue is
/// modelled with one "free at" time per concurrency slot: a request takes the slot that frees
/// first, starts at the later of (arrival + drawn wait) and that time, and holds the slot for its
/// expected service time. A cancelled reservation gives the slot back.
public final class CapacityModel: Sendable {
    public enum Admission: Sendable, Equatable {
        case refused(reason: String)
        /// Service starts after `waitSeconds` of simulated time.
        case admitted(waitSeconds: Double, ticket: Ticket?)
    }

    public struct Ticket: Sendable, Equatable {
        let provider: Provider
        let slot: Int
        let previousFree: Double
        let reservedUntil: Double
    }

    public let profile: Profile
    public let seed: UInt64
    public let timeScale: Double
    private let origin: NIODeadline
    private let state: NIOLockedValueBox<State>

    private struct State {
        var sequence: UInt64 = 0
        var slots: [Provider: [Double]] = [:]
    }

    public init(profile: Profile, seed: UInt64, timeScale: Double, origin: NIODeadline = .now()) {
        self.profile = profile
        self.seed = seed
        self.timeScale = timeScale
        self.origin = origin
        self.state = NIOLockedValueBox(State())
    }

    /// Simulated seconds since the model was created.
    public func now(at instant: NIODeadline = .now()) -> Double {
        Double((instant - self.origin).nanoseconds) / 1e9 * self.timeScale
    }

    /// Whether flex is scarce at `time`: in one of the profile's scheduled spans when it has a
    /// schedule, else when the random window containing `time` is a scarce one.
    public func isScarce(at time: Double) -> Bool {
        let scarce = self.profile.flex.scarce
        if !scarce.schedule.isEmpty {
            return scarce.schedule.contains { time >= $0.fromSeconds && time < $0.toSeconds }
        }
        guard scarce.fraction > 0 else { return false }
        let window = UInt64(max(0, time / scarce.windowSeconds))
        var random = SimRandom(seed: self.seed, window, 0x5CA2CE)
        return random.unit() < scarce.fraction
    }

    /// Decides a flex request's fate. `serviceSeconds` is how long it will hold a slot once started.
    public func admit(
        provider: Provider,
        requestHash: UInt64,
        serviceSeconds: Double,
        at time: Double? = nil
    ) -> Admission {
        let now = time ?? self.now()
        let flex = self.profile.flex
        let scarce = self.isScarce(at: now)
        return self.state.withLockedValue { state in
            state.sequence &+= 1
            var random = SimRandom(seed: self.seed, requestHash, state.sequence)
            let refusal = scarce ? flex.scarce.refusalProbability : flex.refusalProbability
            if refusal > 0 && random.unit() < refusal { return .refused(reason: "refused_capacity") }
            var wait = flex.queueWaitSeconds.sample(&random)
            if scarce { wait *= flex.scarce.waitMultiplier }
            var ticket: Ticket?
            if flex.concurrency > 0 {
                var slots = state.slots[provider] ?? Array(repeating: 0, count: flex.concurrency)
                var best = 0
                for index in slots.indices where slots[index] < slots[best] { best = index }
                let startAt = max(now + wait, slots[best])
                wait = startAt - now
                if flex.maxQueueWaitSeconds > 0 && wait > flex.maxQueueWaitSeconds {
                    return .refused(reason: "refused_queue_full")
                }
                ticket = Ticket(
                    provider: provider,
                    slot: best,
                    previousFree: slots[best],
                    reservedUntil: startAt + serviceSeconds
                )
                slots[best] = startAt + serviceSeconds
                state.slots[provider] = slots
            } else if flex.maxQueueWaitSeconds > 0 && wait > flex.maxQueueWaitSeconds {
                return .refused(reason: "refused_queue_full")
            }
            return .admitted(waitSeconds: wait, ticket: ticket)
        }
    }

    /// Frees a slot early (cancelled, or finished before its estimate).
    public func release(_ ticket: Ticket?, at time: Double? = nil) {
        guard let ticket else { return }
        let now = time ?? self.now()
        self.state.withLockedValue { state in
            guard var slots = state.slots[ticket.provider], slots.indices.contains(ticket.slot),
                slots[ticket.slot] == ticket.reservedUntil
            else { return }
            slots[ticket.slot] = max(ticket.previousFree, now)
            state.slots[ticket.provider] = slots
        }
    }

    /// Flex requests queued or in service right now (for tests and /sim/stats).
    public func busySlots(provider: Provider, at time: Double? = nil) -> Int {
        let now = time ?? self.now()
        return self.state.withLockedValue { ($0.slots[provider] ?? []).filter { $0 > now }.count }
    }

    /// Forgets all reservations (POST /sim/reset).
    public func reset() {
        self.state.withLockedValue { $0 = State() }
    }
}
