// MambaMixer.swift — the Mamba mixer (Gu & Dao 2023, Figure 3): input projection to x and the
// gate z, causal depthwise convolution and SiLU on x, the input-dependent Δ, B, C from x, the
// selective scan gated by silu(z), and the output projection. Parameter names follow Hugging
// Face's `MambaMixer` (`in_proj`, `conv1d`, `x_proj`, `dt_proj`, `A_log`, `D`, `out_proj`).
//
// The LTI variant (`MambaConfig.mixer = .lti`) is the same mixer with selection taken out: no
// x_proj or dt_proj; Δ = softplus(dt_bias) per channel and B, C (N each, shared by the channels
// as S6's are) are parameters, the same at every position; the same scan runs them, fed with
// B and C repeated over (B, L) and a zero Δ input. Without the gate (`gated = false`) the
// scan's output is not multiplied by silu(z), and z is not computed.
//
// Dimension letters: B batch, L length, D hidden size, E inner channels, N state size,
// R time-step rank, K convolution width.

import Foundation
import TaipanTensor

/// One Mamba mixer: (B, L, D) → (B, L, D).
public final class MambaMixer: Module {
    public let inProjection: Linear  // in_proj: D → 2E (x and the gate z); D → E without the gate
    public let convolution: CausalConv1d  // conv1d: depthwise over E channels
    public let xProjection: Linear?  // x_proj: E → R + 2N (Δ's low-rank input, B, C); nil for LTI
    public let timeStepProjection: Linear?  // dt_proj: R → E, with a bias; nil for LTI
    /// LTI's Δ, B, C parameters (nil for S6).
    public let timeInvariant: TimeInvariantParameters?
    public let aLog: Tensor  // A_log (E, N): A = −exp(A_log)
    public let d: Tensor  // D (E): the skip connection
    public let outProjection: Linear  // out_proj: E → D

    /// E, N, R.
    public let innerSize: Int, stateSize: Int, timeStepRank: Int
    /// Whether the output is gated by silu(z).
    public let gated: Bool
    /// Steps between the scan states kept for the backward (the rest are recomputed).
    public var scanCheckpointInterval = 64

    /// A mixer initialised as `mamba_ssm` does, from `generator`.
    public init(config: MambaConfig, generator: inout SeededGenerator) {
        let (hidden, inner) = (config.hiddenSize, config.intermediateSize)
        let (state, rank) = (config.stateSize, config.timeStepRank)
        innerSize = inner
        stateSize = state
        timeStepRank = rank
        gated = config.gated
        inProjection = Linear(inputSize: hidden, outputSize: (config.gated ? 2 : 1) * inner, bias: config.useBias, generator: &generator)
        convolution = CausalConv1d(channels: inner, kernelSize: config.convKernel, bias: config.useConvBias, generator: &generator)
        let selective = config.mixer == .s6
        xProjection = selective ? Linear(inputSize: inner, outputSize: rank + 2 * state, bias: false, generator: &generator) : nil
        timeStepProjection = selective ? Linear(inputSize: rank, outputSize: inner, bias: true, generator: &generator) : nil
        outProjection = Linear(inputSize: inner, outputSize: hidden, bias: config.useBias, generator: &generator)
        // S4D-real initialisation: A = −(1, 2, …, N) in every channel.
        aLog = Tensor(zeros: [inner, state], requiresGrad: true)
        for e in 0..<inner { for n in 0..<state { aLog.pointer[e * state + n] = Foundation.log(Float(n + 1)) } }
        d = Tensor(ones: [inner], requiresGrad: true)

        // Linear biases start at zero (mamba_ssm re-initialises every nn.Linear bias).
        for bias in [inProjection.bias, outProjection.bias].compactMap({ $0 }) { bias.pointer.update(repeating: 0, count: bias.count) }
        // dt_proj weight: uniform in ±R^−½·scale ("random") or that constant ("constant").
        if let timeStepProjection {
            let standard = Float(Foundation.pow(Double(rank), -0.5) * config.timeStepScale)
            let weight = timeStepProjection.weight
            for i in 0..<weight.count {
                weight.pointer[i] = config.timeStepInitScheme == .constant ? standard : (2 * generator.nextUniform() - 1) * standard
            }
            timeInvariant = nil
        } else {
            // S4D's initialisation of B and C: ones, and standard normal.
            let c = Tensor(zeros: [state], requiresGrad: true)
            for n in 0..<state { c.pointer[n] = generator.nextNormal() }
            timeInvariant = TimeInvariantParameters(
                timeStepBias: Tensor(zeros: [inner], requiresGrad: true), b: Tensor(ones: [state], requiresGrad: true), c: c)
        }
        // dt_proj bias (LTI: dt_bias): softplus⁻¹ of Δ drawn log-uniformly in [min, max] and
        // floored, so that softplus(bias) starts in that range.
        let (low, high) = (Foundation.log(config.timeStepMin), Foundation.log(config.timeStepMax))
        let bias = timeStepProjection?.bias ?? timeInvariant!.timeStepBias
        for e in 0..<inner {
            let step = Swift.max(Foundation.exp(Double(generator.nextUniform()) * (high - low) + low), config.timeStepFloor)
            bias.pointer[e] = Float(step + Foundation.log(-Foundation.expm1(-step)))
        }
        if config.rescalePrenormResidual {
            let out = outProjection.weight
            let scale = 1 / Float(config.layerCount).squareRoot()
            for i in 0..<out.count { out.pointer[i] *= scale }
        }
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        let selection: [(name: String, tensor: Tensor)]
        if let xProjection, let timeStepProjection {
            selection = prefixed("x_proj", xProjection) + prefixed("dt_proj", timeStepProjection)
        } else if let timeInvariant {
            selection = [("dt_bias", timeInvariant.timeStepBias), ("B", timeInvariant.b), ("C", timeInvariant.c)]
        } else {
            selection = []
        }
        return prefixed("in_proj", inProjection) + prefixed("conv1d", convolution) + selection
            + [("A_log", aLog), ("D", d)] + prefixed("out_proj", outProjection)
    }

    /// Δ's bias (E): dt_proj's bias for S6, dt_bias for LTI.
    public var timeStepBias: Tensor { timeStepProjection?.bias ?? timeInvariant!.timeStepBias }

    /// hidden (B, L, D) → (B, L, D).
    public func callAsFunction(_ hidden: Tensor) -> Tensor { forward(hidden, captureState: false).output }

    /// The forward pass; with `captureState` it also returns the convolution window and SSM
    /// state after the last position, from which `Decoder.step` continues (prefill).
    public func forward(_ hidden: Tensor, captureState: Bool) -> (output: Tensor, state: MixerState?) {
        let (inner, stateWidth, rank) = (innerSize, stateSize, timeStepRank)
        let (batch, length) = (hidden.shape[0], hidden.shape[1])
        let projected = inProjection(hidden)  // (B, L, 2E): x then z; (B, L, E) without the gate
        let beforeConvolution = gated ? projected.slice(2, 0..<inner) : projected  // (B, L, E)
        let x = convolution(beforeConvolution).silu()  // (B, L, E)
        let delta: Tensor, b: ColumnSlice, c: ColumnSlice
        if let timeInvariant {
            delta = Tensor(zeros: [batch, length, inner])  // (B, L, E): Δ is softplus(dt_bias) alone
            b = ColumnSlice(timeInvariant.b.reshaped([1, 1, stateWidth]).expanded(to: [batch, length, stateWidth]))  // (B, L, N)
            c = ColumnSlice(timeInvariant.c.reshaped([1, 1, stateWidth]).expanded(to: [batch, length, stateWidth]))  // (B, L, N)
        } else if let xProjection, let timeStepProjection {
            let parameters = xProjection(x)  // (B, L, R + 2N): Δ input, B, C
            let timeStepInput = parameters.slice(2, 0..<rank)  // (B, L, R)
            var selected = matmul(timeStepInput, timeStepProjection.weight, transposeB: true)  // (B, L, E), bias in the scan
            if let adapter = timeStepProjection.adapter { selected = selected + adapter(timeStepInput) }
            delta = selected
            b = ColumnSlice(parameters, start: rank, width: stateWidth)
            c = ColumnSlice(parameters, start: rank + stateWidth, width: stateWidth)
        } else {
            preconditionFailure("MambaMixer: an S6 mixer without x_proj and dt_proj")
        }
        let a = -aLog.exp()  // (E, N)
        var state: MixerState? = nil
        if captureState {
            state = MixerState(batch: batch, innerSize: inner, stateSize: stateWidth, kernelSize: convolution.kernelSize)
            state?.fillWindow(from: beforeConvolution, length: length)
        }
        let y = selectiveScan(
            u: ColumnSlice(x), delta: ColumnSlice(delta), a: a, b: b, c: c,
            d: d, z: gated ? ColumnSlice(projected, start: inner, width: inner) : nil, deltaBias: timeStepBias,
            checkpointInterval: scanCheckpointInterval, finalState: state?.ssm)
        return (outProjection(y), state)
    }
}

/// The parameters that replace selection in an LTI mixer: the same Δ, B and C at every position.
public struct TimeInvariantParameters {
    /// dt_bias (E): Δ = softplus(dt_bias) in every channel.
    public let timeStepBias: Tensor
    /// B (N): the input's weight in each state, shared by the channels.
    public let b: Tensor
    /// C (N): each state's weight in the output, shared by the channels.
    public let c: Tensor
}

/// The recurrent state of one mixer (Mamba or Mamba-2) during generation: the last K inputs of
/// the convolution and the SSM state. Its size does not grow with the number of tokens.
public final class MixerState {
    /// (B, K, E): the convolution's inputs at the last K positions, oldest first.
    public let window: Tensor
    /// (B, E, N): the SSM state h.
    public let ssm: Tensor

    init(batch: Int, innerSize: Int, stateSize: Int, kernelSize: Int) {
        window = Tensor(zeros: [batch, kernelSize, innerSize])
        ssm = Tensor(zeros: [batch, innerSize, stateSize])
    }

    /// A state with a window of `channels` convolution inputs and an SSM state of `ssmShape`
    /// (Mamba-2: the window holds x, B and C, the state is (B, H, P, N)).
    init(batch: Int, channels: Int, kernelSize: Int, ssmShape: [Int]) {
        window = Tensor(zeros: [batch, kernelSize, channels])
        ssm = Tensor(zeros: ssmShape)
    }

    /// Fills the window with the last K of `length` positions of x (B, L, E), zeros before t = 0.
    func fillWindow(from x: Tensor, length: Int) {
        let (batch, kernel, inner) = (window.shape[0], window.shape[1], window.shape[2])
        for b in 0..<batch {
            for k in 0..<kernel {
                let t = length - kernel + k
                guard t >= 0 else { continue }
                (window.pointer + (b * kernel + k) * inner).update(from: x.pointer + (b * length + t) * inner, count: inner)
            }
        }
    }
}
