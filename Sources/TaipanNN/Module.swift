// Module.swift — the protocol every layer implements: its parameters under dotted Hugging
// Face names (`mixer.in_proj.weight`), so a model's parameters map one to one onto the
// tensors of a `model.safetensors` file.

import TaipanTensor

/// A layer or model that owns named parameters.
public protocol Module: AnyObject {
    /// Every parameter of this module and its children, named relative to this module with
    /// dots between levels, in a fixed order.
    var namedParameters: [(name: String, tensor: Tensor)] { get }
}

extension Module {
    /// The parameters without their names, in `namedParameters` order.
    public var parameters: [Tensor] { namedParameters.map(\.tensor) }

    /// The number of scalars in all parameters.
    public var parameterCount: Int { namedParameters.map(\.tensor.count).reduce(0, +) }

    /// Clears every parameter's gradient.
    public func zeroGradients() { for (_, tensor) in namedParameters { tensor.zeroGrad() } }
}

/// `child`'s named parameters with `prefix.` in front of every name.
public func prefixed(_ prefix: String, _ child: Module) -> [(name: String, tensor: Tensor)] {
    child.namedParameters.map { ("\(prefix).\($0.name)", $0.tensor) }
}
