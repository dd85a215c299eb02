// Linear.swift — y = x·Wᵀ + b over the last dimension, with W stored (out, in) as in PyTorch.

import TaipanTensor

/// A fully connected layer; `weight` is (outputSize, inputSize), `bias` (outputSize) or nil.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?
    /// A LoRA update added to the output (LoRA.swift); its parameters are not among this
    /// layer's `namedParameters`, which stay the base model's.
    public var adapter: LowRankAdapter?

    /// A layer with PyTorch's default initialisation: weight and bias uniform in ±1/√inputSize.
    public init(inputSize: Int, outputSize: Int, bias: Bool, generator: inout SeededGenerator) {
        let bound = 1 / Float(inputSize).squareRoot()
        weight = Tensor(uniform: [outputSize, inputSize], low: -bound, high: bound, generator: &generator, requiresGrad: true)
        self.bias = bias
            ? Tensor(uniform: [outputSize], low: -bound, high: bound, generator: &generator, requiresGrad: true) : nil
    }

    /// A layer holding the given tensors (e.g. loaded from a checkpoint).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear: weight must be (out, in), got \(describeShape(weight.shape))")
        precondition(bias == nil || bias!.shape == [weight.shape[0]], "Linear: bias \(describeShape(bias!.shape)) for weight \(describeShape(weight.shape))")
        self.weight = weight
        self.bias = bias
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// x (…, inputSize) → (…, outputSize).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var output = matmul(x, weight, transposeB: true)
        if let bias { output = output + bias }
        if let adapter { output = output + adapter(x) }
        return output
    }
}
