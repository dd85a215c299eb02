// CausalConv1d.swift — the depthwise causal 1-D convolution of the Mamba block, as one fused
// op with its backward. Each channel sees only the current and the K−1 previous positions
// (zero-padded on the left), as PyTorch's Conv1d(groups=E, padding=K−1) truncated to L.
//
// Dimension letters: B batch, L length, E channels, K kernel width. Activations stay
// channels-last (B, L, E), the layout the projections produce.

import TaipanTensor

/// A depthwise causal convolution; `weight` is (E, 1, K) as in PyTorch, `bias` (E) or nil.
public final class CausalConv1d: Module {
    public let weight: Tensor
    public let bias: Tensor?

    /// PyTorch's default initialisation: uniform in ±1/√K (the fan-in of one channel).
    public init(channels: Int, kernelSize: Int, bias: Bool, generator: inout SeededGenerator) {
        let bound = 1 / Float(kernelSize).squareRoot()
        weight = Tensor(uniform: [channels, 1, kernelSize], low: -bound, high: bound, generator: &generator, requiresGrad: true)
        self.bias = bias ? Tensor(uniform: [channels], low: -bound, high: bound, generator: &generator, requiresGrad: true) : nil
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// K: the positions each output sees.
    public var kernelSize: Int { weight.shape[2] }

    /// x (B, L, E) → (B, L, E).
    public func callAsFunction(_ x: Tensor) -> Tensor { causalConv1d(x, weight: weight, bias: bias) }
}

/// y[b, t, e] = bias[e] + Σ_k w[e, k] · x[b, t − K + 1 + k, e], with x = 0 before t = 0.
public func causalConv1d(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(x.rank == 3, "causalConv1d: input must be (B, L, E), got \(describeShape(x.shape))")
    let (batch, length, channels) = (x.shape[0], x.shape[1], x.shape[2])
    let kernel = weight.shape.last ?? 0
    precondition(
        weight.count == channels * kernel && kernel > 0,
        "causalConv1d: weight \(describeShape(weight.shape)) does not fit \(channels) channels of input \(describeShape(x.shape))")
    if let bias {
        precondition(bias.count == channels, "causalConv1d: bias \(describeShape(bias.shape)) for \(channels) channels")
    }
    let result = Tensor(uninitialized: x.shape)
    causalConv1dForward(
        output: result.pointer, input: x.pointer, weight: weight.pointer, bias: bias?.pointer,
        batch: batch, length: length, channels: channels, kernel: kernel)
    return result.recording([x, weight] + (bias.map { [$0] } ?? [])) { out in
        let g = out.grad!.pointer
        let dw = Tensor(zeros: [channels, kernel])  // (E, K)
        let db = Tensor(zeros: [channels])  // (E,)
        func backward(_ dx: UnsafeMutablePointer<Float>?) {
            causalConv1dBackward(
                inputGradient: dx, weightGradient: dw.pointer, biasGradient: db.pointer,
                outputGradient: g, input: x.pointer, weight: weight.pointer,
                batch: batch, length: length, channels: channels, kernel: kernel)
        }
        if x.requiresGrad { x.accumulateGradient { backward($0) } } else { backward(nil) }
        if weight.requiresGrad { weight.accumulateGradient(dw) }
        if let bias, bias.requiresGrad { bias.accumulateGradient(db) }
    }
}

/// Parallel over channel blocks: every thread owns whole channels, for all b and t. The filter
/// is read transposed, (K, E), so the inner loops run over contiguous channels (SIMD).
func causalConv1dForward(
    output: UnsafeMutablePointer<Float>,  // (B, L, E)
    input: UnsafePointer<Float>,  // (B, L, E)
    weight: UnsafePointer<Float>,  // (E, K)
    bias: UnsafePointer<Float>?,  // (E,)
    batch: Int, length: Int, channels: Int, kernel: Int
) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(1, kernel * channels)) { buffer in
        guard let filter = buffer.baseAddress else { return }  // (K, E)
        for e in 0..<channels { for k in 0..<kernel { filter[k * channels + e] = weight[e * kernel + k] } }
        parallelFor(channels, grain: 16) { block in
            for b in 0..<batch {
                for t in 0..<length {
                    let y = output + (b * length + t) * channels
                    for e in block { y[e] = bias?[e] ?? 0 }
                    for k in Swift.max(0, kernel - 1 - t)..<kernel {
                        let x = input + (b * length + t - kernel + 1 + k) * channels, w = filter + k * channels
                        for e in block { y[e] += w[e] * x[e] }
                    }
                }
            }
        }
    }
}

/// dx[b, s, e] += Σ_k w[e, k] · g[b, s + K − 1 − k, e]; dW[e, k] = Σ_{b,t} g[b, t, e] · x[b, t − K + 1 + k, e];
/// dBias[e] = Σ_{b,t} g[b, t, e]. Each thread owns whole channels, so the sums run in a fixed order.
/// The filter and its gradient are kept transposed, (K, E), while the loops run.
func causalConv1dBackward(
    inputGradient: UnsafeMutablePointer<Float>?,  // (B, L, E), accumulated into; nil to skip
    weightGradient: UnsafeMutablePointer<Float>,  // (E, K), overwritten
    biasGradient: UnsafeMutablePointer<Float>,  // (E,), overwritten
    outputGradient: UnsafePointer<Float>,  // (B, L, E)
    input: UnsafePointer<Float>,  // (B, L, E)
    weight: UnsafePointer<Float>,  // (E, K)
    batch: Int, length: Int, channels: Int, kernel: Int
) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(1, 2 * kernel * channels)) { buffer in
        guard let filter = buffer.baseAddress else { return }  // (K, E)
        let filterGradient = filter + kernel * channels  // (K, E)
        for e in 0..<channels { for k in 0..<kernel { filter[k * channels + e] = weight[e * kernel + k] } }
        parallelFor(channels, grain: 16) { block in
            for e in block { biasGradient[e] = 0 }
            for k in 0..<kernel { for e in block { filterGradient[k * channels + e] = 0 } }
            for b in 0..<batch {
                for t in 0..<length {
                    let g = outputGradient + (b * length + t) * channels
                    for e in block { biasGradient[e] += g[e] }
                    for k in Swift.max(0, kernel - 1 - t)..<kernel {
                        let offset = (b * length + t - kernel + 1 + k) * channels
                        let x = input + offset, dw = filterGradient + k * channels
                        for e in block { dw[e] += g[e] * x[e] }
                        if let inputGradient {
                            let dx = inputGradient + offset, w = filter + k * channels
                            for e in block { dx[e] += w[e] * g[e] }
                        }
                    }
                }
            }
            for e in block { for k in 0..<kernel { weightGradient[e * kernel + k] = filterGradient[k * channels + e] } }
        }
    }
}
