// AdamW.swift — Adam with decoupled weight decay (Loshchilov & Hutter, 2019), step for step as
// PyTorch's `torch.optim.AdamW` computes it, so runs can be compared number for number.
//
//   p ← p·(1 − lr·λ)                       (only parameters chosen for decay)
//   m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²
//   p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)

import Foundation
import TaipanTensor

/// AdamW over a fixed list of named parameters. Parameters whose gradient is nil at a step
/// (frozen, or unused) are left untouched, moments included.
public final class AdamW {
    /// β₁, β₂, ε and the weight decay λ; the learning rate comes with each step.
    public struct Hyperparameters: Sendable, Equatable {
        public var beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
        public init(beta1: Float = 0.9, beta2: Float = 0.95, epsilon: Float = 1e-8, weightDecay: Float = 0.1) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }
    }

    /// One optimised parameter, its moments and whether it decays.
    public struct Slot {
        public let name: String
        public let parameter: Tensor
        public let decays: Bool
        /// m and v, same shape as the parameter.
        public let firstMoment: Tensor, secondMoment: Tensor
    }

    public let hyperparameters: Hyperparameters
    public let slots: [Slot]
    /// Updates taken so far (t in the bias corrections).
    public private(set) var stepCount = 0

    /// An optimiser over `parameters`; those matching `noDecay` get no weight decay.
    public init(parameters: [(name: String, tensor: Tensor)], hyperparameters: Hyperparameters, noDecay: [NamePattern]) {
        self.hyperparameters = hyperparameters
        slots = parameters.map { name, tensor in
            Slot(name: name, parameter: tensor, decays: !noDecay.anyMatches(name),
                 firstMoment: Tensor(zeros: tensor.shape), secondMoment: Tensor(zeros: tensor.shape))
        }
    }

    /// One update with learning rate `learningRate`, from the parameters' current gradients.
    public func step(learningRate: Float) {
        stepCount += 1
        let h = hyperparameters
        let correction1 = 1 - Foundation.pow(Double(h.beta1), Double(stepCount))
        let correction2 = 1 - Foundation.pow(Double(h.beta2), Double(stepCount))
        let stepSize = Float(Double(learningRate) / correction1)
        let correction2Root = Float(correction2.squareRoot())
        for slot in slots {
            guard let gradient = slot.parameter.grad else { continue }
            let p = slot.parameter.pointer, g = gradient.pointer
            let m = slot.firstMoment.pointer, v = slot.secondMoment.pointer
            let decay: Float = slot.decays ? 1 - learningRate * h.weightDecay : 1
            parallelFor(slot.parameter.count, grain: 8192) { range in
                for i in range {
                    p[i] *= decay
                    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i]
                    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i]
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / correction2Root + h.epsilon)
                }
            }
        }
    }

    /// Restores the step count (the moments are restored by writing into the slots' tensors).
    public func restore(stepCount: Int) {
        precondition(stepCount >= 0, "AdamW.restore: negative step count \(stepCount)")
        self.stepCount = stepCount
    }
}
