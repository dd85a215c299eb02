// SplitMix64.swift — Steele, Lea and Flood's SplitMix64 ("Fast splittable pseudorandom
// number generators", OOPSLA 2014): the 64-bit finaliser used as a keyed hash for the
// batcher's per-epoch permutations and the deterministic validation split. TaipanData
// keeps its own copy because it depends on no other Taipan target.

/// A SplitMix64 generator; `mix` is its output function, usable alone as a hash.
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// SplitMix64's finaliser: a bijective avalanche of the 64 bits of `value`.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
