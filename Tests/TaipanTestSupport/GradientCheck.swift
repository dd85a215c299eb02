// GradientCheck.swift — test support shared by the test targets: a tiny Float64 n-d array
// for reference maths, and a finite-difference gradient check of a Tensor op against its
// Float64 reference.

import Foundation
import Testing
import TaipanTensor

/// A row-major Float64 array used to compute reference values independently of Taipan.
public struct Reference {
    public var shape: [Int]
    public var values: [Double]

    public init(shape: [Int], values: [Double]) {
        precondition(values.count == shape.reduce(1, *))
        self.shape = shape
        self.values = values
    }

    public var strides: [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = step; step *= shape[i] }
        return strides
    }

    /// Multi-index of flat position `flat`.
    public func index(_ flat: Int) -> [Int] {
        var remainder = flat
        var result = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            result[d] = remainder % shape[d]
            remainder /= shape[d]
        }
        return result
    }

    public func flat(_ index: [Int]) -> Int { zip(index, strides).map { $0 * $1 }.reduce(0, +) }

    public func map(_ f: (Double) -> Double) -> Reference { Reference(shape: shape, values: values.map(f)) }

    /// Elementwise `f` with NumPy broadcasting, written index by index.
    public static func broadcast(_ a: Reference, _ b: Reference, _ f: (Double, Double) -> Double) -> Reference {
        let rank = max(a.shape.count, b.shape.count)
        let pa = [Int](repeating: 1, count: rank - a.shape.count) + a.shape
        let pb = [Int](repeating: 1, count: rank - b.shape.count) + b.shape
        let shape = zip(pa, pb).map { max($0, $1) }
        let ra = Reference(shape: pa, values: a.values), rb = Reference(shape: pb, values: b.values)
        var out = Reference(shape: shape, values: [Double](repeating: 0, count: shape.reduce(1, *)))
        for i in 0..<out.values.count {
            let index = out.index(i)
            let ia = zip(index, pa).map { $1 == 1 ? 0 : $0 }, ib = zip(index, pb).map { $1 == 1 ? 0 : $0 }
            out.values[i] = f(ra.values[ra.flat(ia)], rb.values[rb.flat(ib)])
        }
        return out
    }

    /// Reduction over `dims` by folding with `f` from `initial`.
    public func reduce(_ dims: [Int], keep: Bool, initial: Double, _ f: (Double, Double) -> Double) -> Reference {
        let kept = shape.enumerated().map { dims.contains($0.offset) ? 1 : $0.element }
        var out = Reference(shape: kept, values: [Double](repeating: initial, count: kept.reduce(1, *)))
        for i in 0..<values.count {
            let index = self.index(i).enumerated().map { dims.contains($0.offset) ? 0 : $0.element }
            let o = out.flat(index)
            out.values[o] = f(out.values[o], values[i])
        }
        if !keep { out.shape = shape.enumerated().filter { !dims.contains($0.offset) }.map(\.element) }
        return out
    }

    /// The tensor with the same values, as Float32.
    public var tensor: Tensor { try! Tensor(values.map(Float.init), shape: shape) }
}

extension Tensor {
    public var reference: Reference { Reference(shape: shape, values: values.map(Double.init)) }
}

/// max |a − b| / max |b| (with a floor on the denominator for all-zero references).
public func relativeError(_ actual: [Float], _ expected: [Double]) -> Double {
    precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) values")
    var difference = 0.0, scale = 1e-12
    for (a, b) in zip(actual, expected) {
        difference = max(difference, abs(Double(a) - b))
        scale = max(scale, abs(b))
    }
    return difference / scale
}

/// Random Float inputs of `shape` in [low, high).
public func randomValues(_ shape: [Int], low: Float = -2, high: Float = 2, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<shape.reduce(1, *)).map { _ in low + (high - low) * generator.nextUniform() }
}

/// Checks `op` on Tensors against `reference` on Float64 arrays: the forward values, and the
/// gradient of every input against central finite differences of the Float64 reference, for
/// the functional Σ w·op(x) with random w.
public func checkGradients(
    _ inputs: [[Float]], shapes: [[Int]],
    forwardTolerance: Double = 1e-5, gradientTolerance: Double = 1e-4,
    sourceLocation: SourceLocation = #_sourceLocation,
    op: ([Tensor]) -> Tensor, reference: ([Reference]) -> Reference
) {
    let tensors = zip(inputs, shapes).map { try! Tensor($0, shape: $1, requiresGrad: true) }
    let output = op(tensors)
    let references = zip(inputs, shapes).map { Reference(shape: $1, values: $0.map(Double.init)) }
    let expected = reference(references)
    #expect(output.shape == expected.shape, "forward shape", sourceLocation: sourceLocation)
    guard output.shape == expected.shape else { return }
    let forwardError = relativeError(output.values, expected.values)
    #expect(forwardError <= forwardTolerance, "forward relative error \(forwardError)", sourceLocation: sourceLocation)

    let weights = randomValues(output.shape, seed: 99)
    output.backward(gradient: try! Tensor(weights, shape: output.shape))
    func functional(_ values: [Reference]) -> Double {
        zip(reference(values).values, weights).map { $0 * Double($1) }.reduce(0, +)
    }
    for (i, tensor) in tensors.enumerated() {
        var numeric = [Double](repeating: 0, count: tensor.count)
        for j in 0..<tensor.count {
            var plus = references, minus = references
            let h = 1e-6 * max(1, abs(references[i].values[j]))
            plus[i].values[j] += h
            minus[i].values[j] -= h
            numeric[j] = (functional(plus) - functional(minus)) / (2 * h)
        }
        let analytic = tensor.grad?.values ?? [Float](repeating: 0, count: tensor.count)
        let error = relativeError(analytic, numeric)
        #expect(error <= gradientTolerance, "input \(i) \(describeShape(tensor.shape)): gradient relative error \(error)", sourceLocation: sourceLocation)
    }
}
