// Random.swift — the seeded random generator behind every initialisation, shuffle and sample.
//
// xoshiro256** (Blackman & Vigna, 2018), seeded through SplitMix64. Its whole state is four
// 64-bit words, so a checkpoint can store it and a resumed run continues the exact stream,
// on any platform (`SystemRandomNumberGenerator` is neither seedable nor portable).

import Foundation

/// A seedable, restorable pseudo-random generator (xoshiro256**).
public struct SeededGenerator: RandomNumberGenerator, Codable, Equatable, Sendable {
    /// The full generator state; saving and restoring it replays the same stream.
    public var state: [UInt64]

    /// A generator whose stream is fixed by `seed`.
    public init(seed: UInt64) {
        var splitmix = seed
        func next() -> UInt64 {
            splitmix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitmix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = [next(), next(), next(), next()]
    }

    /// Restores a generator from a saved `state`; fails unless it holds four words, not all zero.
    public init(state: [UInt64]) throws(TensorError) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw TensorError.invalidArgument(
                "SeededGenerator: a saved state must hold 4 words, not all zero (got \(state))")
        }
        self.state = state
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotateLeft(state[3], 45)
        return result
    }

    /// A float uniformly distributed in [0, 1), from the top 24 bits.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A double uniformly distributed in (0, 1], never zero (safe under `log`).
    public mutating func nextOpenUniform() -> Double {
        (Double(next() >> 11) + 1.0) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal sample (Box–Muller; one draw of two uniforms per sample, so the
    /// state never holds a cached spare and stays four words).
    public mutating func nextNormal() -> Float {
        let u1 = nextOpenUniform()
        let u2 = nextOpenUniform()
        return Float((-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2))
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
