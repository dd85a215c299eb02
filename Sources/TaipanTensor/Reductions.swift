// Reductions.swift — sum, mean and max over any set of dimensions (with keepdim), and the
// stable logsumexp and softmax.
//
// Each output element is reduced by one thread in a fixed order, and a reduction to a single
// value sums fixed chunks in order, so results are bit-identical run to run.

import Foundation

/// The layout of a reduction: which input offsets feed each output element.
struct ReductionPlan {
    /// The output shape with reduced dimensions kept as size 1.
    let keptShape: [Int]
    /// The output shape the caller asked for.
    let outputShape: [Int]
    /// Number of output elements, and of inputs summed into each.
    let outputCount: Int, reducedCount: Int
    /// Input offset of the first element feeding each output element is computed from these.
    let keptDims: [Int], keptStrides: [Int]
    /// Input offsets, relative to that first element, of all elements reduced together.
    let reducedOffsets: [Int]

    init(shape: [Int], dimensions: [Int], keepDimensions: Bool, op: String) {
        let rank = shape.count
        let dims = Set(dimensions.map { d -> Int in
            let n = d < 0 ? d + rank : d
            precondition(n >= 0 && n < rank, "\(op): dimension \(d) out of range for \(describeShape(shape))")
            return n
        })
        let strides = contiguousStrides(shape)
        keptShape = shape.enumerated().map { dims.contains($0.offset) ? 1 : $0.element }
        outputShape = keepDimensions ? keptShape : shape.enumerated().filter { !dims.contains($0.offset) }.map(\.element)
        outputCount = keptShape.reduce(1, *)
        keptDims = (0..<rank).filter { !dims.contains($0) }
        keptStrides = keptDims.map { strides[$0] }
        let reducedDims = (0..<rank).filter { dims.contains($0) }
        reducedCount = reducedDims.map { shape[$0] }.reduce(1, *)
        var offsets = [0]
        for d in reducedDims {
            offsets = offsets.flatMap { base in (0..<shape[d]).map { base + $0 * strides[d] } }
        }
        reducedOffsets = reducedCount == 0 ? [] : offsets
        self.shape = shape
    }

    private let shape: [Int]

    /// Input offset of the first element feeding output element `index`.
    @inline(__always) func baseOffset(_ index: Int) -> Int {
        var remainder = index, offset = 0
        for k in stride(from: keptDims.count - 1, through: 0, by: -1) {
            let size = shape[keptDims[k]]
            offset += (remainder % size) * keptStrides[k]
            remainder /= size
        }
        return offset
    }
}

extension Tensor {
    /// The sum over `dimensions`.
    public func sum(_ dimensions: [Int], keepDimensions: Bool = false) -> Tensor {
        let plan = ReductionPlan(shape: shape, dimensions: dimensions, keepDimensions: keepDimensions, op: "sum")
        let result = Tensor(zeros: plan.outputShape)
        let input = pointer, out = result.pointer
        if plan.outputCount == 1 {
            out[0] = Tensor.chunkedSum(input, plan: plan)
        } else {
            plan.reducedOffsets.withUnsafeBufferPointer { offsets in
                parallelFor(plan.outputCount, grain: Swift.max(1, 16384 / Swift.max(plan.reducedCount, 1))) { range in
                    for o in range {
                        let base = input + plan.baseOffset(o)
                        var total: Float = 0
                        for r in offsets { total += base[r] }
                        out[o] = total
                    }
                }
            }
        }
        return result.recording([self]) { out in
            let g = out.grad!.reshaped(plan.keptShape).detached()
            self.accumulateGradient(reducing: withoutGradients { g.expanded(to: self.shape) })
        }
    }

    /// The sum of all elements, as a scalar.
    public func sum() -> Tensor { sum(Array(0..<rank)) }

    /// The mean over `dimensions`.
    public func mean(_ dimensions: [Int], keepDimensions: Bool = false) -> Tensor {
        let plan = ReductionPlan(shape: shape, dimensions: dimensions, keepDimensions: keepDimensions, op: "mean")
        return sum(dimensions, keepDimensions: keepDimensions) / Float(plan.reducedCount)
    }

    /// The mean of all elements, as a scalar.
    public func mean() -> Tensor { mean(Array(0..<rank)) }

    /// The maximum over `dimensions`; the gradient goes to the first maximal element.
    public func max(_ dimensions: [Int], keepDimensions: Bool = false) -> Tensor {
        let plan = ReductionPlan(shape: shape, dimensions: dimensions, keepDimensions: keepDimensions, op: "max")
        precondition(plan.reducedCount > 0, "max: reducing an empty dimension of \(describeShape(shape))")
        let result = Tensor(zeros: plan.outputShape)
        var winners = [Int](repeating: 0, count: plan.outputCount)
        let input = pointer, out = result.pointer
        winners.withUnsafeMutableBufferPointer { winner in
            plan.reducedOffsets.withUnsafeBufferPointer { offsets in
                parallelFor(plan.outputCount, grain: Swift.max(1, 16384 / plan.reducedCount)) { range in
                    for o in range {
                        let base = plan.baseOffset(o)
                        var best = base + offsets[0]
                        for r in offsets where input[base + r] > input[best] || input[best].isNaN && !input[base + r].isNaN {
                            best = base + r
                        }
                        winner[o] = best
                        out[o] = input[best]
                    }
                }
            }
        }
        return result.recording([self]) { out in
            let g = out.grad!.pointer
            self.accumulateGradient { target in
                for (o, index) in winners.enumerated() { target[index] += g[o] }
            }
        }
    }

    /// log Σ exp over `dimensions`, computed stably by shifting by the maximum.
    public func logSumExp(_ dimensions: [Int], keepDimensions: Bool = false) -> Tensor {
        // The shift is a constant for differentiation: the expression equals logsumexp for
        // any shift, so stopping its gradient leaves the derivative (softmax) exact.
        let shift = withoutGradients { max(dimensions, keepDimensions: true) }
        let finiteShift = withoutGradients { () -> Tensor in
            let s = shift.copy()
            for i in 0..<s.count where !s.pointer[i].isFinite { s.pointer[i] = 0 }
            return s
        }
        let result = (self - finiteShift).exp().sum(dimensions, keepDimensions: true).log() + finiteShift
        if keepDimensions { return result }
        let plan = ReductionPlan(shape: shape, dimensions: dimensions, keepDimensions: false, op: "logsumexp")
        return result.reshaped(plan.outputShape)
    }

    /// Softmax along `dimension`, stable for large inputs.
    public func softmax(_ dimension: Int) -> Tensor {
        let dim = normalizedDimension(dimension, op: "softmax")
        let size = shape[dim]
        let outer = shape[..<dim].reduce(1, *), inner = shape[(dim + 1)...].reduce(1, *)
        let result = Tensor(zeros: shape)
        let x = pointer, y = result.pointer
        parallelFor(outer * inner, grain: Swift.max(1, 4096 / Swift.max(size, 1))) { range in
            for line in range {
                let base = (line / inner) * size * inner + line % inner
                var top = -Float.infinity
                for k in 0..<size { top = Swift.max(top, x[base + k * inner]) }
                var total: Float = 0
                for k in 0..<size {
                    let e = Foundation.exp(x[base + k * inner] - top)
                    y[base + k * inner] = e
                    total += e
                }
                for k in 0..<size { y[base + k * inner] /= total }
            }
        }
        return result.recording([self]) { out in
            let g = out.grad!.pointer
            self.accumulateGradient { dx in
                parallelFor(outer * inner, grain: Swift.max(1, 4096 / Swift.max(size, 1))) { range in
                    for line in range {
                        let base = (line / inner) * size * inner + line % inner
                        var dot: Float = 0
                        for k in 0..<size { dot += g[base + k * inner] * y[base + k * inner] }
                        for k in 0..<size {
                            let i = base + k * inner
                            dx[i] += y[i] * (g[i] - dot)
                        }
                    }
                }
            }
        }
    }

    /// Sums a whole tensor in fixed chunks, each in Float64, added in order: deterministic
    /// for any thread count, and accurate for millions of elements.
    static func chunkedSum(_ input: UnsafeMutablePointer<Float>, plan: ReductionPlan) -> Float {
        let n = plan.reducedCount
        if n == 0 { return 0 }
        let contiguous = plan.reducedOffsets.last == n - 1
        let chunks = 64
        var partials = [Double](repeating: 0, count: chunks)
        partials.withUnsafeMutableBufferPointer { partial in
            plan.reducedOffsets.withUnsafeBufferPointer { offsets in
                parallelChunks(count: n, chunks: Swift.min(chunks, Swift.max(1, n / 1024))) { chunk, range in
                    var total: Double = 0
                    if contiguous {
                        for i in range { total += Double(input[i]) }
                    } else {
                        for i in range { total += Double(input[offsets[i]]) }
                    }
                    partial[chunk] = total
                }
            }
        }
        return Float(partials.reduce(0, +))
    }
}
