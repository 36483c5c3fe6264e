/// A small, fast, seedable generator (SplitMix64): every simulated choice is drawn from one of
/// these, seeded from `--seed` and the request, so the same seed and request give the same answer.
public struct SimRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    /// A generator seeded from a base seed and any number of further values (request hash, ...).
    public init(seed: UInt64, _ values: UInt64...) {
        var hash = seed ^ 0x9E37_79B9_7F4A_7C15
        for value in values { hash = SimRandom.mix(hash ^ value) }
        self.state = hash
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        return SimRandom.mix(self.state)
    }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(self.next() >> 11) * 0x1.0p-53 }

    /// A standard normal draw (Box-Muller).
    public mutating func normal() -> Double {
        let u1 = max(self.unit(), 1e-300)
        let u2 = self.unit()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a over bytes: the request fingerprint that seeds per-request generators.
    public static func hash(_ bytes: some Sequence<UInt8>, into start: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
        var hash = start
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }

    public static func hash(_ text: String) -> UInt64 { self.hash(text.utf8) }
}

// Foundation-free math: the C library is always there.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) func _log(_ x: Double) -> Double { log(x) }
@inline(__always) func _exp(_ x: Double) -> Double { exp(x) }
@inline(__always) func _cos(_ x: Double) -> Double { cos(x) }
