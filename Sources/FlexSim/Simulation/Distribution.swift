/// A distribution of durations (seconds) or rates, as written in a profile.
///
/// JSON: `{"kind": "constant", "value": 0.5}`, `{"kind": "uniform", "min": 0, "max": 2}`,
/// `{"kind": "exponential", "mean": 3}`, `{"kind": "lognormal", "median": 2, "sigma": 1.0}`;
/// each may add `"max"` to cap the draw.
public enum Distribution: Sendable, Equatable, Codable {
    case constant(Double)
    case uniform(min: Double, max: Double)
    case exponential(mean: Double, cap: Double?)
    case lognormal(median: Double, sigma: Double, cap: Double?)

    public static let zero = Distribution.constant(0)

    public func sample(_ random: inout SimRandom) -> Double {
        switch self {
        case .constant(let value): return value
        case .uniform(let low, let high): return low + (high - low) * random.unit()
        case .exponential(let mean, let cap):
            let draw = -mean * _log(max(1 - random.unit(), 1e-300))
            return cap.map { min($0, draw) } ?? draw
        case .lognormal(let median, let sigma, let cap):
            let draw = median * _exp(sigma * random.normal())
            return cap.map { min($0, draw) } ?? draw
        }
    }

    /// The same distribution with every value multiplied by `factor`.
    public func scaled(by factor: Double) -> Distribution {
        switch self {
        case .constant(let value): .constant(value * factor)
        case .uniform(let low, let high): .uniform(min: low * factor, max: high * factor)
        case .exponential(let mean, let cap): .exponential(mean: mean * factor, cap: cap.map { $0 * factor })
        case .lognormal(let median, let sigma, let cap):
            .lognormal(median: median * factor, sigma: sigma, cap: cap.map { $0 * factor })
        }
    }

    private enum CodingKeys: String, CodingKey { case kind, value, min, max, mean, median, sigma }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        let cap = try c.decodeIfPresent(Double.self, forKey: .max)
        switch kind {
        case "constant": self = .constant(try c.decode(Double.self, forKey: .value))
        case "uniform":
            self = .uniform(min: try c.decode(Double.self, forKey: .min), max: try c.decode(Double.self, forKey: .max))
        case "exponential": self = .exponential(mean: try c.decode(Double.self, forKey: .mean), cap: cap)
        case "lognormal":
            self = .lognormal(
                median: try c.decode(Double.self, forKey: .median),
                sigma: try c.decode(Double.self, forKey: .sigma),
                cap: cap
            )
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .kind,
                in: c,
                debugDescription: "unknown distribution kind \"\(kind)\" (constant, uniform, exponential, lognormal)"
            )
        }
        for value in [self.mean] where !(value >= 0 && value.isFinite) {
            throw DecodingError.dataCorruptedError(
                forKey: .kind,
                in: c,
                debugDescription: "a distribution must be non-negative and finite"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .constant(let value):
            try c.encode("constant", forKey: .kind)
            try c.encode(value, forKey: .value)
        case .uniform(let low, let high):
            try c.encode("uniform", forKey: .kind)
            try c.encode(low, forKey: .min)
            try c.encode(high, forKey: .max)
        case .exponential(let mean, let cap):
            try c.encode("exponential", forKey: .kind)
            try c.encode(mean, forKey: .mean)
            try c.encodeIfPresent(cap, forKey: .max)
        case .lognormal(let median, let sigma, let cap):
            try c.encode("lognormal", forKey: .kind)
            try c.encode(median, forKey: .median)
            try c.encode(sigma, forKey: .sigma)
            try c.encodeIfPresent(cap, forKey: .max)
        }
    }

    /// A rough central value, for validation and docs.
    public var mean: Double {
        switch self {
        case .constant(let value): value
        case .uniform(let low, let high): (low + high) / 2
        case .exponential(let mean, _): mean
        case .lognormal(let median, let sigma, _): median * _exp(sigma * sigma / 2)
        }
    }
}
