/// How a load run paces and ends.
public struct LoadPlan: Sendable, Hashable {
    public enum Pacing: Sendable, Hashable, CustomStringConvertible {
        /// Open loop: calls start at a constant rate (per second) whatever the answers do.
        case rate(Double)
        /// Closed loop: this many calls in flight; each ends before its worker starts the next.
        case concurrency(Int)

        public var description: String {
            switch self {
            case .rate(let rate): "open loop, \(Self.format(rate)) req/s"
            case .concurrency(let count): "closed loop, \(count) in flight"
            }
        }

        static func format(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }
    }

    public enum Stop: Sendable, Hashable, CustomStringConvertible {
        case requests(Int)
        case duration(Duration)

        public var description: String {
            switch self {
            case .requests(let count): "\(count) requests"
            case .duration(let duration): "\(duration.components.seconds) s"
            }
        }
    }

    public var pacing: Pacing
    public var stop: Stop
    /// Calls made (and not measured) before the run, at up to 8 in flight: warms connections,
    /// caches and the JIT-less but lazy parts of both sides.
    public var warmup: Int
    /// Open loop only: calls in flight beyond this are not sent but counted as errors
    /// (`load_generator_saturated`), so a stalled server cannot make the generator grow without bound.
    public var maxInFlight: Int

    public init(pacing: Pacing, stop: Stop, warmup: Int = 0, maxInFlight: Int = 20_000) {
        self.pacing = pacing
        self.stop = stop
        self.warmup = warmup
        self.maxInFlight = maxInFlight
    }
}
