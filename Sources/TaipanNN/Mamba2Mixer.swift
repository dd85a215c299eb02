// Mamba2Mixer.swift — the Mamba-2 mixer (Dao & Gu 2024, Figure 6) and its residual block: one
// input projection to the gate z, x·B·C and dt; a causal depthwise convolution and SiLU over
// x·B·C; the SSD scan over heads of P channels with a scalar A per head; the gated RMSNorm
// norm(y · silu(z)), normalised within each of the G groups as transformers'
// `MambaRMSNormGated` does; and the output projection. Parameter names follow Hugging Face's
// `Mamba2Mixer` (`in_proj`, `conv1d`, `dt_bias`, `A_log`, `D`, `norm`, `out_proj`).
//
// Dimension letters: B batch, L length, D hidden size, E inner channels, H heads, P head size,
// G groups, N state size, K convolution width.

import Foundation
import TaipanTensor

/// One Mamba-2 mixer: (B, L, D) → (B, L, D).
public final class Mamba2Mixer: Module {
    public let inProjection: Linear  // in_proj: D → E + (E + 2GN) + H (z, x·B·C, dt)
    public let convolution: CausalConv1d  // conv1d: depthwise over E + 2GN channels
    public let timeStepBias: Tensor  // dt_bias (H)
    public let aLog: Tensor  // A_log (H): A = −exp(A_log)
    public let d: Tensor  // D (H): the skip connection
    public let normWeight: Tensor  // norm.weight (E): the gated RMSNorm's scale
    public let outProjection: Linear  // out_proj: E → D

    /// The sizes and options this mixer was built with.
    public let config: Mamba2Config

    /// A mixer initialised as `mamba_ssm`'s `Mamba2` does, from `generator`.
    public init(config: Mamba2Config, generator: inout SeededGenerator) {
        self.config = config
        let (hidden, inner, heads) = (config.hiddenSize, config.intermediateSize, config.headCount)
        inProjection = Linear(inputSize: hidden, outputSize: config.inProjectionSize, bias: config.useBias, generator: &generator)
        convolution = CausalConv1d(
            channels: config.convolutionChannels, kernelSize: config.convKernel, bias: config.useConvBias, generator: &generator)
        outProjection = Linear(inputSize: inner, outputSize: hidden, bias: config.useBias, generator: &generator)
        for bias in [inProjection.bias, outProjection.bias].compactMap({ $0 }) { bias.pointer.update(repeating: 0, count: bias.count) }
        // A uniform in [1, 16] per head (mamba_ssm's A_init_range), stored as log A.
        aLog = Tensor(zeros: [heads], requiresGrad: true)
        for h in 0..<heads { aLog.pointer[h] = Foundation.log(1 + 15 * generator.nextUniform()) }
        d = Tensor(ones: [heads], requiresGrad: true)
        normWeight = Tensor(ones: [inner], requiresGrad: true)
        // dt_bias: softplus⁻¹ of Δ drawn log-uniformly in [min, max] and floored.
        let (low, high) = (Foundation.log(config.timeStepMin), Foundation.log(config.timeStepMax))
        timeStepBias = Tensor(zeros: [heads], requiresGrad: true)
        for h in 0..<heads {
            let step = Swift.max(Foundation.exp(Double(generator.nextUniform()) * (high - low) + low), config.timeStepFloor)
            timeStepBias.pointer[h] = Float(step + Foundation.log(-Foundation.expm1(-step)))
        }
        if config.rescalePrenormResidual {
            let out = outProjection.weight, scale = 1 / Float(config.layerCount).squareRoot()
            for i in 0..<out.count { out.pointer[i] *= scale }
        }
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("in_proj", inProjection) + prefixed("conv1d", convolution)
            + [("dt_bias", timeStepBias), ("A_log", aLog), ("D", d), ("norm.weight", normWeight)]
            + prefixed("out_proj", outProjection)
    }

    /// Δ's clamp as the scan takes it.
    var timeStepLimit: ClosedRange<Float> {
        Float(config.timeStepLimit.lowerBound)...Float(config.timeStepLimit.upperBound)
    }

    /// hidden (B, L, D) → (B, L, D).
    public func callAsFunction(_ hidden: Tensor) -> Tensor { forward(hidden, captureState: false).output }

    /// The forward pass; with `captureState` it also returns the convolution window and SSM
    /// state after the last position, from which `Mamba2Decoder.step` continues (prefill).
    public func forward(_ hidden: Tensor, captureState: Bool) -> (output: Tensor, state: MixerState?) {
        let (inner, channels, heads) = (config.intermediateSize, config.convolutionChannels, config.headCount)
        let groupWidth = config.groupCount * config.stateSize
        let projected = inProjection(hidden)  // (B, L, E + E + 2GN + H): z, x·B·C, dt
        let beforeConvolution = projected.slice(2, inner..<inner + channels)  // (B, L, E + 2GN)
        let xBC = convolution(beforeConvolution).silu()  // (B, L, E + 2GN)
        var state: MixerState? = nil
        if captureState {
            let (batch, length) = (hidden.shape[0], hidden.shape[1])
            state = MixerState(
                batch: batch, channels: channels, kernelSize: convolution.kernelSize,
                ssmShape: [batch, heads, config.headSize, config.stateSize])
            state?.fillWindow(from: beforeConvolution, length: length)
        }
        let y = stateSpaceDuality(
            x: ColumnSlice(xBC, start: 0, width: inner), dt: ColumnSlice(projected, start: inner + channels, width: heads),
            a: -aLog.exp(), b: ColumnSlice(xBC, start: inner, width: groupWidth),
            c: ColumnSlice(xBC, start: inner + groupWidth, width: groupWidth), d: d, dtBias: timeStepBias,
            headSize: config.headSize, groups: config.groupCount, chunkSize: config.chunkSize,
            timeStepLimit: timeStepLimit, finalState: state?.ssm)  // (B, L, E)
        let gated = y * projected.slice(2, 0..<inner).silu()
        return (outProjection(groupedRMSNorm(gated)), state)
    }

    /// norm(x) of transformers' `MambaRMSNormGated` after its gate: x (B, L, E) normalised within
    /// each of G groups of E/G channels, then scaled by `normWeight` (E).
    func groupedRMSNorm(_ x: Tensor) -> Tensor {
        let (inner, groups) = (config.intermediateSize, config.groupCount)
        let shape = x.shape
        let grouped = x.reshaped(Array(shape.dropLast()) + [groups, inner / groups])
        let unit = Tensor(ones: [inner / groups])
        let normalized = rmsNorm(grouped, weight: unit, epsilon: Float(config.layerNormEpsilon)).reshaped(shape)
        return normalized * normWeight
    }
}

/// One pre-norm residual Mamba-2 block: x + mixer(RMSNorm(x)), named as Hugging Face's
/// `Mamba2Block` (`norm`, `mixer`).
public final class Mamba2Block: Module {
    public let norm: RMSNorm
    public let mixer: Mamba2Mixer

    public init(config: Mamba2Config, generator: inout SeededGenerator) {
        norm = RMSNorm(width: config.hiddenSize, epsilon: Float(config.layerNormEpsilon))
        mixer = Mamba2Mixer(config: config, generator: &generator)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { prefixed("norm", norm) + prefixed("mixer", mixer) }

    public func callAsFunction(_ hidden: Tensor) -> Tensor { hidden + mixer(norm(hidden)) }
}
