// Elementwise.swift — elementwise arithmetic with NumPy broadcasting, scalar forms, and the
// unary functions (exp, log, sqrt, rsqrt, pow, sigmoid, silu, softplus, tanh), each with its
// derivative beside its value.

import Foundation

// MARK: Binary ops

/// A binary elementwise function; a type per op so loops specialise with no closure calls.
protocol BinaryFunction {
    static var name: String { get }
    static func apply(_ a: Float, _ b: Float) -> Float
}

enum AddFunction: BinaryFunction {
    static let name = "add"
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b }
}
enum SubtractFunction: BinaryFunction {
    static let name = "sub"
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b }
}
enum MultiplyFunction: BinaryFunction {
    static let name = "mul"
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b }
}
enum DivideFunction: BinaryFunction {
    static let name = "div"
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b }
}

/// `F(a, b)` broadcast to a new tensor, recording nothing.
func broadcastBinary<F: BinaryFunction>(_: F.Type, _ a: Tensor, _ b: Tensor) -> Tensor {
    let shape: [Int]
    do { shape = try broadcastShapes(a.shape, b.shape, op: F.name) } catch { preconditionFailure(error.description) }
    let result = Tensor(uninitialized: shape)
    let pa = a.pointer, pb = b.pointer, out = result.pointer
    if a.shape == b.shape {
        parallelFor(result.count) { range in
            for i in range { out[i] = F.apply(pa[i], pb[i]) }
        }
        return result
    }
    let stridesA = broadcastStrides(a.shape, to: shape)
    let stridesB = broadcastStrides(b.shape, to: shape)
    let inner = shape.last ?? 1
    let innerA = stridesA.last ?? 0, innerB = stridesB.last ?? 0
    let rows = shape.isEmpty ? 1 : shape.dropLast().reduce(1, *)
    parallelFor(rows, grain: max(1, 4096 / max(inner, 1))) { range in
        forEachBroadcastRow(shape: shape, stridesA: stridesA, stridesB: stridesB, rows: range) {
            offset, offsetA, offsetB in
            for j in 0..<inner { out[offset + j] = F.apply(pa[offsetA + j * innerA], pb[offsetB + j * innerB]) }
        }
    }
    return result
}

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        broadcastBinary(AddFunction.self, a, b).recording([a, b]) { out in
            let g = out.grad!
            if a.requiresGrad { a.accumulateGradient(reducing: g) }
            if b.requiresGrad { b.accumulateGradient(reducing: g) }
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        broadcastBinary(SubtractFunction.self, a, b).recording([a, b]) { out in
            let g = out.grad!
            if a.requiresGrad { a.accumulateGradient(reducing: g) }
            if b.requiresGrad { b.accumulateGradient(reducing: g, sign: -1) }
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        broadcastBinary(MultiplyFunction.self, a, b).recording([a, b]) { out in
            let g = out.grad!
            if a.requiresGrad { a.accumulateGradient(reducing: broadcastBinary(MultiplyFunction.self, g, b)) }
            if b.requiresGrad { b.accumulateGradient(reducing: broadcastBinary(MultiplyFunction.self, g, a)) }
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        broadcastBinary(DivideFunction.self, a, b).recording([a, b]) { out in
            let g = out.grad!
            if a.requiresGrad { a.accumulateGradient(reducing: broadcastBinary(DivideFunction.self, g, b)) }
            if b.requiresGrad {
                // d(a/b)/db = −(a/b)/b = −out/b
                let gOut = broadcastBinary(MultiplyFunction.self, g, out)
                b.accumulateGradient(reducing: broadcastBinary(DivideFunction.self, gOut, b), sign: -1)
            }
        }
    }
}

// MARK: Unary ops

/// Calls `vector(i)` for each run of eight elements of `range` starting at i, then `scalar(i)`
/// for the remaining elements.
@inline(__always)
func forEachVector(_ range: Range<Int>, _ vector: (Int) -> Void, scalar: (Int) -> Void) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        vector(i)
        i += 8
    }
    while i < range.upperBound {
        scalar(i)
        i += 1
    }
}

extension SIMD8 where Scalar == Float {
    /// Eight floats read from `pointer` (any alignment).
    @inline(__always)
    init(loading pointer: UnsafePointer<Float>) {
        self = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Writes the eight floats to `pointer` (any alignment).
    @inline(__always)
    func store(to pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: SIMD8<Float>.self)
    }
}

/// A unary elementwise function with its derivative, expressed through the input `x` and
/// the output `y` (whichever is cheaper).
protocol UnaryFunction {
    var name: String { get }
    func value(_ x: Float) -> Float
    func derivative(x: Float, y: Float) -> Float
}

extension Tensor {
    /// Applies `function` elementwise and records its derivative.
    func unary<F: UnaryFunction>(_ function: F) -> Tensor {
        let result = Tensor(uninitialized: shape)
        let input = pointer, out = result.pointer
        parallelFor(count) { range in
            for i in range { out[i] = function.value(input[i]) }
        }
        return result.recording([self]) { out in
            let g = out.grad!.pointer, y = out.pointer
            self.accumulateGradient { target in
                parallelFor(self.count) { range in
                    for i in range { target[i] += g[i] * function.derivative(x: input[i], y: y[i]) }
                }
            }
        }
    }
}

struct ExpFunction: UnaryFunction {
    let name = "exp"
    @inline(__always) func value(_ x: Float) -> Float { Foundation.exp(x) }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { y }
}
struct LogFunction: UnaryFunction {
    let name = "log"
    @inline(__always) func value(_ x: Float) -> Float { Foundation.log(x) }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { 1 / x }
}
struct SqrtFunction: UnaryFunction {
    let name = "sqrt"
    @inline(__always) func value(_ x: Float) -> Float { x.squareRoot() }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { 0.5 / y }
}
struct RsqrtFunction: UnaryFunction {
    let name = "rsqrt"
    @inline(__always) func value(_ x: Float) -> Float { 1 / x.squareRoot() }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { -0.5 * y * y * y }
}
struct PowFunction: UnaryFunction {
    let name = "pow"
    let exponent: Float
    @inline(__always) func value(_ x: Float) -> Float { Foundation.pow(x, exponent) }
    @inline(__always) func derivative(x: Float, y: Float) -> Float {
        exponent == 0 ? 0 : exponent * Foundation.pow(x, exponent - 1)
    }
}
struct SigmoidFunction: UnaryFunction {
    let name = "sigmoid"
    @inline(__always) func value(_ x: Float) -> Float { sigmoid(x) }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { y * (1 - y) }
}
struct SoftplusFunction: UnaryFunction {
    let name = "softplus"
    @inline(__always) func value(_ x: Float) -> Float { softplus(x) }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { sigmoid(x) }
}
struct TanhFunction: UnaryFunction {
    let name = "tanh"
    @inline(__always) func value(_ x: Float) -> Float { Foundation.tanh(x) }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { 1 - y * y }
}
/// `x · scale + shift`: the scalar forms of add, sub and mul.
struct AffineFunction: UnaryFunction {
    let name = "affine"
    let scale: Float, shift: Float
    @inline(__always) func value(_ x: Float) -> Float { x * scale + shift }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { scale }
}
/// `x / divisor`: true division, so results match other frameworks bit for bit.
struct DivideByScalarFunction: UnaryFunction {
    let name = "div"
    let divisor: Float
    @inline(__always) func value(_ x: Float) -> Float { x / divisor }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { 1 / divisor }
}
/// `numerator / x`: a scalar divided by a tensor.
struct ReciprocalFunction: UnaryFunction {
    let name = "reciprocal"
    let numerator: Float
    @inline(__always) func value(_ x: Float) -> Float { numerator / x }
    @inline(__always) func derivative(x: Float, y: Float) -> Float { -y / x }
}

/// The logistic function, without overflow for inputs of either sign.
@inlinable
public func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

/// log(1 + eˣ), exact for large inputs of either sign: max(x, 0) + log1p(e^−|x|).
@inlinable
public func softplus(_ x: Float) -> Float {
    max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x)))
}

extension Tensor {
    public func exp() -> Tensor { unary(ExpFunction()) }
    public func log() -> Tensor { unary(LogFunction()) }
    public func sqrt() -> Tensor { unary(SqrtFunction()) }
    public func rsqrt() -> Tensor { unary(RsqrtFunction()) }
    public func pow(_ exponent: Float) -> Tensor { unary(PowFunction(exponent: exponent)) }
    public func sigmoid() -> Tensor { unary(SigmoidFunction()) }
    /// x·sigmoid(x), vectorised: it follows every convolution of every Mamba block.
    public func silu() -> Tensor {
        let result = Tensor(uninitialized: shape)
        let input = pointer, out = result.pointer
        parallelFor(count) { range in
            forEachVector(range) { i in
                let x = SIMD8<Float>(loading: input + i)
                (x * fastSigmoid(x)).store(to: out + i)
            } scalar: { i in
                out[i] = input[i] * fastSigmoid(SIMD8(repeating: input[i]))[0]
            }
        }
        return result.recording([self]) { out in
            let g = out.grad!.pointer
            self.accumulateGradient { dx in
                parallelFor(self.count) { range in
                    // d silu / dx = s·(1 + x·(1 − s)) with s = sigmoid(x).
                    forEachVector(range) { i in
                        let x = SIMD8<Float>(loading: input + i), s = fastSigmoid(x)
                        let d = SIMD8<Float>(loading: dx + i) + SIMD8<Float>(loading: g + i) * s * (1 + x * (1 - s))
                        d.store(to: dx + i)
                    } scalar: { i in
                        let x = input[i], s = fastSigmoid(SIMD8(repeating: x))[0]
                        dx[i] += g[i] * s * (1 + x * (1 - s))
                    }
                }
            }
        }
    }
    public func softplus() -> Tensor { unary(SoftplusFunction()) }
    public func tanh() -> Tensor { unary(TanhFunction()) }

    public static prefix func - (x: Tensor) -> Tensor { x.unary(AffineFunction(scale: -1, shift: 0)) }
    public static func + (x: Tensor, c: Float) -> Tensor { x.unary(AffineFunction(scale: 1, shift: c)) }
    public static func + (c: Float, x: Tensor) -> Tensor { x.unary(AffineFunction(scale: 1, shift: c)) }
    public static func - (x: Tensor, c: Float) -> Tensor { x.unary(AffineFunction(scale: 1, shift: -c)) }
    public static func - (c: Float, x: Tensor) -> Tensor { x.unary(AffineFunction(scale: -1, shift: c)) }
    public static func * (x: Tensor, c: Float) -> Tensor { x.unary(AffineFunction(scale: c, shift: 0)) }
    public static func * (c: Float, x: Tensor) -> Tensor { x.unary(AffineFunction(scale: c, shift: 0)) }
    public static func / (x: Tensor, c: Float) -> Tensor { x.unary(DivideByScalarFunction(divisor: c)) }
    public static func / (c: Float, x: Tensor) -> Tensor { x.unary(ReciprocalFunction(numerator: c)) }
}
