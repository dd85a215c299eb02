// FastMath.swift — exp, exp2, log1p, softplus and sigmoid on `SIMD8<Float>` (and a scalar exp) for
// the kernels' hot loops, where libm's one-value-at-a-time calls would cost more than the matmuls.
//
// exp follows the classic Cody–Waite scheme: x = k·ln2 + r with |r| ≤ ln2/2, ln2 split into a
// 9-bit head (so k·head is exact) and a tail; e^r from a degree-6 polynomial whose coefficients
// were fitted for least maximum relative error on that interval (about 5e-9, far below float
// rounding); 2^k written straight into the exponent bits, in two halves so that results in the
// subnormal range are rounded once. log1p uses a fitted polynomial for log(m) on a mantissa m in
// [√½, √2) (no division), plus the first-order correction for the rounding of 1 + x.
//
// Multiply-adds go through `multiplyAdd`, which fuses them only when the build says the CPU has
// FMA (`-D TAIPAN_FMA`, which the Makefile passes with `-target-cpu haswell`): without FMA in
// the target CPU, `addingProduct` becomes a libm call per lane.

/// a·b + c lane by lane: one fused multiply-add (one rounding) in builds with `-D TAIPAN_FMA`,
/// else a multiply then an add. A build gives the same bits on every run either way.
@inlinable @inline(__always)
public func multiplyAdd<Vector: SIMD>(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector where Vector.Scalar == Float {
    #if TAIPAN_FMA
    return c.addingProduct(a, b)
    #else
    return a * b + c
    #endif
}

/// e^x for eight floats at once, within 1 ulp of the correctly rounded result for every float
/// (subnormal results included); −∞ and anything below −104 give 0, anything above 89 gives +∞,
/// NaN gives NaN.
@inlinable @inline(__always)
public func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Beyond these bounds e^x rounds to 0 or overflows anyway; NaN fails both tests and stays NaN.
    var x = x.replacing(with: -104, where: x .< -104)
    x.replace(with: 89, where: x .> 89)
    // Adding 1.5·2^23 rounds x·log2(e) to an integer k, which then sits in the low mantissa bits.
    let shifter: Float = 12_582_912
    let shifted = multiplyAdd(x, SIMD8(repeating: 1.442_695_04), SIMD8(repeating: shifter))
    let k = shifted - shifter
    let r = (x - k * 0.693_359_375) - k * -2.121_944_4e-4
    var polynomial = multiplyAdd(r, SIMD8(repeating: 0.001_381_313_3), SIMD8(repeating: 0.008_369_424))
    polynomial = multiplyAdd(polynomial, r, SIMD8(repeating: 0.041_668_456))
    polynomial = multiplyAdd(polynomial, r, SIMD8(repeating: 0.166_665_15))
    polynomial = multiplyAdd(polynomial, r, SIMD8(repeating: 0.499_999_94))
    polynomial = 1 + multiplyAdd(r * r, polynomial, r)
    let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let firstHalf = exponent &>> 1
    let secondHalf = exponent &- firstHalf
    let firstScale = unsafeBitCast((firstHalf &+ 127) &<< 23, to: SIMD8<Float>.self)
    let secondScale = unsafeBitCast((secondHalf &+ 127) &<< 23, to: SIMD8<Float>.self)
    return polynomial * firstScale * secondScale
}

/// 2^x for eight floats at once, within 2 ulp for x in [−126, 127]; results that would be
/// below 2^−126 flush to 0 (x < −126.5 gives 0), x above 127 is taken as 127, NaN gives NaN.
///
/// Cheaper than `fastExp` (about half the instructions): the reduction x = k + r needs no
/// split constant, and 2^k comes from one shift of the rounding sum. The scan computes its
/// decays e^(Δ·A) = 2^(Δ·log2(e)·A) with it, where Δ·A ≤ 0 and the flush is harmless.
@inlinable @inline(__always)
public func fastExp2(_ x: SIMD8<Float>) -> SIMD8<Float> {
    var x = x.replacing(with: -127, where: x .< -127)
    x.replace(with: 127, where: x .> 127)
    // Adding 1.5·2^23 + 127 rounds x to an integer k and leaves k + 127 in the low mantissa
    // bits, so shifting the sum's bits left by 23 gives the bits of 2^k (0 when k = −127).
    let shifter: Float = 12_583_039
    let shifted = x + shifter
    let r = x - (shifted - shifter)  // in [−½, ½], exact
    // 2^r = 1 + r·q(r), q fitted for least maximum relative error on [−½, ½] (about 2e-9).
    var q = multiplyAdd(r, SIMD8(repeating: 1.535_336_2e-4), SIMD8(repeating: 1.339_887_5e-3))
    q = multiplyAdd(q, r, SIMD8(repeating: 9.618_437e-3))
    q = multiplyAdd(q, r, SIMD8(repeating: 5.550_332_4e-2))
    q = multiplyAdd(q, r, SIMD8(repeating: 0.240_226_48))
    q = multiplyAdd(q, r, SIMD8(repeating: 0.693_147_2))
    let scale = unsafeBitCast(unsafeBitCast(shifted, to: SIMD8<Int32>.self) &<< 23, to: SIMD8<Float>.self)
    return multiplyAdd(q, r, SIMD8(repeating: 1)) * scale
}

/// e^x for one float: lane 0 of `fastExp(_: SIMD8<Float>)`, so scalar and vector code agree
/// bit for bit.
@inlinable @inline(__always)
public func fastExp(_ x: Float) -> Float {
    fastExp(SIMD8(repeating: x))[0]
}

/// log(1 + x) for eight floats, within a few ulp for finite x > −1; NaN gives NaN.
@inlinable @inline(__always)
public func fastLog1p(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let u = 1 + x
    return log1p(x, rounded: u, reciprocal: 1 / u)
}

/// log(1 + x) given u = 1 + x as rounded and 1/u: the one division a caller may share.
@inlinable @inline(__always)
func log1p(_ x: SIMD8<Float>, rounded u: SIMD8<Float>, reciprocal: SIMD8<Float>) -> SIMD8<Float> {
    // u = 2^k · m with m in [√½, √2): offsetting the bits by those of √½ moves the exponent
    // boundary from 1 to √½, so the mantissa never strays far from 1.
    let bits = unsafeBitCast(u, to: SIMD8<Int32>.self) &+ (0x3F80_0000 - 0x3F35_04F3)
    let k = SIMD8<Float>((bits &>> 23) &- 127)
    let m = unsafeBitCast((bits & 0x007F_FFFF) &+ 0x3F35_04F3, to: SIMD8<Float>.self)
    let f = m - 1
    // log(1 + f) = f − f²/2 + f³·P(f), P fitted for least maximum relative error on
    // [√½ − 1, √2 − 1] (about 7.5e-10), evaluated as f + f²·(f·P(f) − ½) to keep f, which is
    // exact, as the leading term.
    var p = multiplyAdd(f, SIMD8(repeating: 0.067_466_423), SIMD8(repeating: -0.116_756_55))
    p = multiplyAdd(p, f, SIMD8(repeating: 0.118_881_635))
    p = multiplyAdd(p, f, SIMD8(repeating: -0.124_055_885))
    p = multiplyAdd(p, f, SIMD8(repeating: 0.142_195_52))
    p = multiplyAdd(p, f, SIMD8(repeating: -0.166_679_96))
    p = multiplyAdd(p, f, SIMD8(repeating: 0.200_021_19))
    p = multiplyAdd(p, f, SIMD8(repeating: -0.250_000_09))
    p = multiplyAdd(p, f, SIMD8(repeating: 0.333_333_13))
    let logM = multiplyAdd(f * f, multiplyAdd(f, p, SIMD8(repeating: -0.5)), f)
    // u = 1 + x rounded; log(u + e) ≈ log(u) + e/u puts back what the rounding dropped.
    let correction = (x - (u - 1)) * reciprocal
    return k * 0.693_359_375 + (logM + (k * -2.121_944_4e-4 + correction))
}

/// log(1 + e^x) for eight floats, without overflow for large x; −∞ gives 0, +∞ gives +∞.
@inlinable @inline(__always)
public func fastSoftplus(_ x: SIMD8<Float>) -> SIMD8<Float> {
    fastSoftplusAndSigmoid(x).softplus
}

/// log(1 + e^x) and its derivative 1 / (1 + e^−x) for eight floats, from one exponential
/// (the scan needs both for Δ). softplus as `fastSoftplus`; the sigmoid within a few ulp for
/// every x, subnormal results included. ±∞ give (0, 0) and (+∞, 1); NaN gives NaN.
@inlinable @inline(__always)
public func fastSoftplusAndSigmoid(_ x: SIMD8<Float>) -> (softplus: SIMD8<Float>, sigmoid: SIMD8<Float>) {
    // With e = e^−|x| ≤ 1: softplus = max(x, 0) + log1p(e), sigmoid = (x ≥ 0 ? 1 : e) / (1 + e).
    let negative = x .< 0
    let magnitude = x.replacing(with: -x, where: negative)
    let positivePart = x.replacing(with: 0, where: negative)
    let e = fastExp(-magnitude)
    let u = 1 + e, reciprocal = 1 / u
    let numerator = SIMD8<Float>(repeating: 1).replacing(with: e, where: negative)
    return (positivePart + log1p(e, rounded: u, reciprocal: reciprocal), numerator * reciprocal)
}

/// 1 / (1 + e^−x) for eight floats, within a few ulp down to x = −88; below about −88.7 the
/// result flushes to 0 rather than a subnormal. −∞ gives 0, +∞ gives 1.
@inlinable @inline(__always)
public func fastSigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
    1 / (1 + fastExp(-x))
}
