// GradientClipping.swift — the global gradient norm over all parameters and clipping to a
// maximum norm, as `torch.nn.utils.clip_grad_norm_` does.

import TaipanTensor

/// √(Σ g²) over the gradients of `parameters` (those that have one), summed in Float64 in a
/// fixed order; infinite or NaN when any gradient is.
public func globalGradientNorm(_ parameters: [Tensor]) -> Double {
    var total = 0.0
    for parameter in parameters {
        guard let gradient = parameter.grad else { continue }
        let g = gradient.pointer
        let chunks = 16
        var partials = [Double](repeating: 0, count: chunks)
        partials.withUnsafeMutableBufferPointer { partial in
            parallelChunks(count: gradient.count, chunks: min(chunks, max(1, gradient.count / 4096))) { chunk, range in
                var sum = 0.0
                for i in range { sum += Double(g[i]) * Double(g[i]) }
                partial[chunk] = sum
            }
        }
        total += partials.reduce(0, +)
    }
    return total.squareRoot()
}

/// Scales all gradients down so their global norm is at most `maxNorm` (nothing when it
/// already is, or when `maxNorm` is 0). Returns the norm before clipping.
@discardableResult
public func clipGradients(_ parameters: [Tensor], maxNorm: Double) -> Double {
    let norm = globalGradientNorm(parameters)
    guard maxNorm > 0, norm.isFinite, norm > maxNorm else { return norm }
    let scale = Float(maxNorm / (norm + 1e-6))
    for parameter in parameters {
        guard let gradient = parameter.grad else { continue }
        let g = gradient.pointer
        parallelFor(gradient.count, grain: 8192) { range in
            for i in range { g[i] *= scale }
        }
    }
    return norm
}
