// MambaBlock.swift — the residual block around a mixer: x + mixer(RMSNorm(x)), named as Hugging
// Face's `MambaBlock` (`norm`, `mixer`).

import TaipanTensor

/// One pre-norm residual Mamba block: (B, L, D) → (B, L, D).
public final class MambaBlock: Module {
    public let norm: RMSNorm
    public let mixer: MambaMixer

    public init(config: MambaConfig, generator: inout SeededGenerator) {
        norm = RMSNorm(width: config.hiddenSize, epsilon: Float(config.layerNormEpsilon))
        mixer = MambaMixer(config: config, generator: &generator)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("norm", norm) + prefixed("mixer", mixer)
    }

    public func callAsFunction(_ hidden: Tensor) -> Tensor { hidden + mixer(norm(hidden)) }
}
