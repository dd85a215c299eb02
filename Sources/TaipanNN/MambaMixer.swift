// MambaMixer.swift — the Mamba mixer (Gu & Dao 2023, Figure 3): input projection to x and the
// gate z, causal depthwise convolution and SiLU on x, the input-dependent Δ, B, C from x, the
// selective scan gated by silu(z), and the output projection. Parameter names follow Hugging
// Face's `MambaMixer` (`in_proj`, `conv1d`, `x_proj`, `dt_proj`, `A_log`, `D`, `out_proj`).
//
// Dimension letters: B batch, L length, D hidden size, E inner channels, N state size,
// R time-step rank, K convolution width.

import Foundation
import TaipanTensor

/// One Mamba mixer: (B, L, D) → (B, L, D).
public final class MambaMixer: Module {
    public let inProjection: Linear  // in_proj: D → 2E (x and the gate z)
    public let convolution: CausalConv1d  // conv1d: depthwise over E channels
    public let xProjection: Linear  // x_proj: E → R + 2N (Δ's low-rank input, B, C)
    public let timeStepProjection: Linear  // dt_proj: R → E, with a bias
    public let aLog: Tensor  // A_log (E, N): A = −exp(A_log)
    public let d: Tensor  // D (E): the skip connection
    public let outProjection: Linear  // out_proj: E → D

    /// E, N, R.
    public let innerSize: Int, stateSize: Int, timeStepRank: Int
    /// Steps between the scan states kept for the backward (the rest are recomputed).
    public var scanCheckpointInterval = 64

    /// A mixer initialised as `mamba_ssm` does, from `generator`.
    public init(config: MambaConfig, generator: inout SeededGenerator) {
        let (hidden, inner) = (config.hiddenSize, config.intermediateSize)
        let (state, rank) = (config.stateSize, config.timeStepRank)
        innerSize = inner
        stateSize = state
        timeStepRank = rank
        inProjection = Linear(inputSize: hidden, outputSize: 2 * inner, bias: config.useBias, generator: &generator)
        convolution = CausalConv1d(channels: inner, kernelSize: config.convKernel, bias: config.useConvBias, generator: &generator)
        xProjection = Linear(inputSize: inner, outputSize: rank + 2 * state, bias: false, generator: &generator)
        timeStepProjection = Linear(inputSize: rank, outputSize: inner, bias: true, generator: &generator)
        outProjection = Linear(inputSize: inner, outputSize: hidden, bias: config.useBias, generator: &generator)
        // S4D-real initialisation: A = −(1, 2, …, N) in every channel.
        aLog = Tensor(zeros: [inner, state], requiresGrad: true)
        for e in 0..<inner { for n in 0..<state { aLog.pointer[e * state + n] = Foundation.log(Float(n + 1)) } }
        d = Tensor(ones: [inner], requiresGrad: true)

        // Linear biases start at zero (mamba_ssm re-initialises every nn.Linear bias).
        for bias in [inProjection.bias, outProjection.bias].compactMap({ $0 }) { bias.pointer.update(repeating: 0, count: bias.count) }
        // dt_proj weight: uniform in ±R^−½·scale ("random") or that constant ("constant").
        let standard = Float(Foundation.pow(Double(rank), -0.5) * config.timeStepScale)
        let weight = timeStepProjection.weight
        for i in 0..<weight.count {
            weight.pointer[i] = config.timeStepInitScheme == .constant ? standard : (2 * generator.nextUniform() - 1) * standard
        }
        // dt_proj bias: softplus⁻¹ of Δ drawn log-uniformly in [min, max] and floored, so that
        // softplus(bias) starts in that range.
        let (low, high) = (Foundation.log(config.timeStepMin), Foundation.log(config.timeStepMax))
        let bias = timeStepProjection.bias!
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
        prefixed("in_proj", inProjection) + prefixed("conv1d", convolution) + prefixed("x_proj", xProjection)
            + prefixed("dt_proj", timeStepProjection) + [("A_log", aLog), ("D", d)] + prefixed("out_proj", outProjection)
    }

    /// hidden (B, L, D) → (B, L, D).
    public func callAsFunction(_ hidden: Tensor) -> Tensor { forward(hidden, captureState: false).output }

    /// The forward pass; with `captureState` it also returns the convolution window and SSM
    /// state after the last position, from which `Decoder.step` continues (prefill).
    public func forward(_ hidden: Tensor, captureState: Bool) -> (output: Tensor, state: MixerState?) {
        let (inner, stateWidth, rank) = (innerSize, stateSize, timeStepRank)
        let projected = inProjection(hidden)  // (B, L, 2E): x then z
        let beforeConvolution = projected.slice(2, 0..<inner)  // (B, L, E)
        let x = convolution(beforeConvolution).silu()  // (B, L, E)
        let parameters = xProjection(x)  // (B, L, R + 2N): Δ input, B, C
        let timeStepInput = parameters.slice(2, 0..<rank)  // (B, L, R)
        var delta = matmul(timeStepInput, timeStepProjection.weight, transposeB: true)  // (B, L, E), bias in the scan
        if let adapter = timeStepProjection.adapter { delta = delta + adapter(timeStepInput) }
        let a = -aLog.exp()  // (E, N)
        var state: MixerState? = nil
        if captureState {
            let (batch, length) = (hidden.shape[0], hidden.shape[1])
            state = MixerState(batch: batch, innerSize: inner, stateSize: stateWidth, kernelSize: convolution.kernelSize)
            state?.fillWindow(from: beforeConvolution, length: length)
        }
        let y = selectiveScan(
            u: ColumnSlice(x), delta: ColumnSlice(delta), a: a,
            b: ColumnSlice(parameters, start: rank, width: stateWidth),
            c: ColumnSlice(parameters, start: rank + stateWidth, width: stateWidth),
            d: d, z: ColumnSlice(projected, start: inner, width: inner), deltaBias: timeStepProjection.bias!,
            checkpointInterval: scanCheckpointInterval, finalState: state?.ssm)
        return (outProjection(y), state)
    }
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
