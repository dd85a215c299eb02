// RMSNorm.swift — root-mean-square layer normalisation (Zhang & Sennrich, 2019) as one fused
// op: y = x / √(mean(x²) + ε) · w over the last dimension, with a hand-written backward.
//
// Dimension letters: R rows (every leading dimension flattened), D the normalised width.

import TaipanTensor

/// RMS normalisation with a learned scale `weight` (D), initialised to ones.
public final class RMSNorm: Module {
    public let weight: Tensor
    public let epsilon: Float

    public init(width: Int, epsilon: Float) {
        weight = Tensor(ones: [width], requiresGrad: true)
        self.epsilon = epsilon
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { rmsNorm(x, weight: weight, epsilon: epsilon) }
}

/// x (…, D) normalised over its last dimension and scaled by `weight` (D).
public func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float) -> Tensor {
    let width = weight.count
    precondition(
        weight.rank == 1 && x.shape.last == width,
        "rmsNorm: input \(describeShape(x.shape)) and weight \(describeShape(weight.shape)) differ in width")
    let rows = x.count / Swift.max(width, 1)
    let result = Tensor(uninitialized: x.shape)
    let inverseRMS = Tensor(uninitialized: [rows])  // (R,) saved for the backward
    rmsNormForward(
        output: result.pointer, inverseRMS: inverseRMS.pointer,
        input: x.pointer, weight: weight.pointer, rows: rows, width: width, epsilon: epsilon)
    return result.recording([x, weight]) { out in
        let g = out.grad!.pointer
        let partials = Threads.count
        let weightPartials = Tensor(zeros: [partials, width])  // (P, D) per-chunk dW, summed in order
        func backward(_ dx: UnsafeMutablePointer<Float>?) {
            rmsNormBackward(
                inputGradient: dx, weightPartials: weightPartials.pointer, partials: partials,
                outputGradient: g, input: x.pointer, weight: weight.pointer, inverseRMS: inverseRMS.pointer,
                rows: rows, width: width)
        }
        if x.requiresGrad { x.accumulateGradient { backward($0) } } else { backward(nil) }
        if weight.requiresGrad {
            weight.accumulateGradient { dw in
                for p in 0..<partials {
                    let partial = weightPartials.pointer + p * width
                    for j in 0..<width { dw[j] += partial[j] }
                }
            }
        }
    }
}

/// y[r, :] = x[r, :] · inverseRMS[r] · w, inverseRMS[r] = 1 / √(mean(x[r, :]²) + ε).
func rmsNormForward(
    output: UnsafeMutablePointer<Float>,  // (R, D)
    inverseRMS: UnsafeMutablePointer<Float>,  // (R,)
    input: UnsafePointer<Float>,  // (R, D)
    weight: UnsafePointer<Float>,  // (D,)
    rows: Int, width: Int, epsilon: Float
) {
    parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { range in
        for r in range {
            let x = input + r * width, y = output + r * width
            var squares: Float = 0
            for j in 0..<width { squares += x[j] * x[j] }
            let scale = 1 / (squares / Float(width) + epsilon).squareRoot()
            inverseRMS[r] = scale
            for j in 0..<width { y[j] = x[j] * scale * weight[j] }
        }
    }
}

/// dx[r, :] += s·(g·w − x̂ · mean(g·w·x̂)) with x̂ = x·s, s = inverseRMS[r]; and per chunk of
/// rows p, weightPartials[p, j] = Σ_r g[r, j]·x̂[r, j] (the caller sums them in order).
func rmsNormBackward(
    inputGradient: UnsafeMutablePointer<Float>?,  // (R, D), accumulated into; nil to skip
    weightPartials: UnsafeMutablePointer<Float>,  // (P, D), zeroed by the caller
    partials: Int,
    outputGradient: UnsafePointer<Float>,  // (R, D)
    input: UnsafePointer<Float>,  // (R, D)
    weight: UnsafePointer<Float>,  // (D,)
    inverseRMS: UnsafePointer<Float>,  // (R,)
    rows: Int, width: Int
) {
    parallelChunks(count: rows, chunks: partials) { chunk, range in
        let dw = weightPartials + chunk * width
        for r in range {
            let x = input + r * width, g = outputGradient + r * width
            let s = inverseRMS[r]
            var dot: Float = 0
            for j in 0..<width {
                let normalized = x[j] * s
                dot += g[j] * weight[j] * normalized
                dw[j] += g[j] * normalized
            }
            guard let inputGradient else { continue }
            let dx = inputGradient + r * width
            let meanDot = dot / Float(width)
            for j in 0..<width { dx[j] += s * (g[j] * weight[j] - x[j] * s * meanDot) }
        }
    }
}
