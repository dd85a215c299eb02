// RecurrentBatch.swift — the recurrent form of a Mamba model over a batch of sequences in
// lockstep, one token of each per step: each layer keeps a convolution window and an SSM state,
// so memory stays constant however long the sequences run and time is linear in their length.
// It runs every mixer the model may hold (S6 or LTI, gated or not). The logits are computed
// only when asked, for the positions that are scored (the synthetic tasks' answers).
//
// Made for evaluating long sequences (the Mamba paper's length extrapolation, up to 2^20
// tokens): one thread per instance, OpenBLAS on one thread (callers run one instance per
// thread on disjoint rows); the `Decoder` is the batch-1 form for generation.
//
// Dimension letters: B batch, D hidden size, E inner channels, N state size, R time-step
// rank, K convolution width, P = 2E with the gate (x then z), E without, V vocabulary.

import Foundation
import TaipanTensor

/// Advances B sequences together through a model's recurrence, one token of each at a time.
public final class RecurrentBatch {
    public let model: MambaLM
    /// B.
    public let batch: Int
    /// Tokens fed so far (per sequence).
    public private(set) var position = 0
    /// When set, gets every layer's time steps Δ = softplus(Δ input + bias) of each step, (B, E)
    /// row-major, with the layer's index (for diagnostics: how much each token makes the state forget).
    public var observeTimeSteps: ((_ layer: Int, _ steps: UnsafeBufferPointer<Float>) -> Void)?

    /// One layer's state and constants.
    struct Layer {
        let mixer: MambaMixer
        let norm: RMSNorm
        let a: Tensor  // (E, N): −exp(A_log)
        let window: Tensor  // (B, K, E): the convolution's last K inputs, oldest first
        let ssm: Tensor  // (B, E, N)
        /// LTI: (B, 2N) B then C in every row; nil for S6.
        let constantBC: Tensor?
    }

    let layers: [Layer]
    let scanLayout: SelectiveScanLayout
    let projectedWidth: Int  // P
    // Buffers reused by every step.
    let hidden: Tensor  // (B, D) the residual stream
    let normalized: Tensor  // (B, D)
    let inverseRMS: Tensor  // (B)
    let projected: Tensor  // (B, P)
    let convolved: Tensor  // (B, E): silu(conv(x))
    let parameters: Tensor  // (B, R + 2N): Δ's input, B, C
    let delta: Tensor  // (B, E)
    let scanned: Tensor  // (B, E)
    let mixed: Tensor  // (B, D)

    /// A recurrence over `batch` sequences, every state zero (before the first token).
    public init(model: MambaLM, batch: Int) throws(TensorError) {
        guard batch >= 1 else { throw .invalidArgument("RecurrentBatch: the batch must hold at least one sequence (got \(batch))") }
        guard model.adapters.isEmpty else { throw .invalidArgument("RecurrentBatch: merge the model's LoRA adapters first") }
        self.model = model
        self.batch = batch
        let config = model.config
        let (width, inner, state, rank) = (config.hiddenSize, config.intermediateSize, config.stateSize, config.timeStepRank)
        let kernel = config.convKernel
        projectedWidth = (config.gated ? 2 : 1) * inner
        layers = model.layers.map { block in
            let mixer = block.mixer
            let constant = mixer.timeInvariant.map { parameters -> Tensor in
                let rows = Tensor(zeros: [batch, 2 * state])
                for b in 0..<batch {
                    (rows.pointer + b * 2 * state).update(from: parameters.b.pointer, count: state)
                    (rows.pointer + b * 2 * state + state).update(from: parameters.c.pointer, count: state)
                }
                return rows
            }
            return Layer(
                mixer: mixer, norm: block.norm, a: withoutGradients { -mixer.aLog.exp() },
                window: Tensor(zeros: [batch, kernel, inner]), ssm: Tensor(zeros: [batch, inner, state]), constantBC: constant)
        }
        let bcStride = config.mixer == .s6 ? rank + 2 * state : 2 * state
        scanLayout = try SelectiveScanLayout(
            batch: batch, length: 1, channels: inner, stateSize: state, checkpointInterval: 1,
            uRowStride: inner, deltaRowStride: inner, zRowStride: projectedWidth, bRowStride: bcStride, cRowStride: bcStride)
        hidden = Tensor(zeros: [batch, width])
        normalized = Tensor(zeros: [batch, width])
        inverseRMS = Tensor(zeros: [batch])
        projected = Tensor(zeros: [batch, projectedWidth])
        convolved = Tensor(zeros: [batch, inner])
        parameters = Tensor(zeros: [batch, rank + 2 * state])
        delta = Tensor(zeros: [batch, inner])
        scanned = Tensor(zeros: [batch, inner])
        mixed = Tensor(zeros: [batch, width])
    }

    /// Feeds one token of every sequence (`tokens`: B ids), advancing every layer's state.
    public func step(_ tokens: [Int32]) throws(TensorError) {
        let config = model.config
        guard tokens.count == batch else { throw .invalidArgument("RecurrentBatch.step: \(tokens.count) tokens for \(batch) sequences") }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw .invalidArgument("RecurrentBatch.step: token id \(bad) is outside the vocabulary 0..<\(config.vocabSize)")
        }
        let (width, inner, state, rank) = (config.hiddenSize, config.intermediateSize, config.stateSize, config.timeStepRank)
        for (b, token) in tokens.enumerated() {
            (hidden.pointer + b * width).update(from: model.embeddings.weight.pointer + Int(token) * width, count: width)
        }
        for (index, layer) in layers.enumerated() {
            let mixer = layer.mixer
            rmsNormForward(
                output: normalized.pointer, inverseRMS: inverseRMS.pointer, input: hidden.pointer,
                weight: layer.norm.weight.pointer, rows: batch, width: width, epsilon: layer.norm.epsilon)
            linear(normalized.pointer, mixer.inProjection, into: projected.pointer, inputWidth: width, outputWidth: projectedWidth)
            convolveStep(layer, inner: inner)
            let (b, c): (UnsafePointer<Float>, UnsafePointer<Float>)
            if let xProjection = mixer.xProjection, let timeStepProjection = mixer.timeStepProjection {
                linear(convolved.pointer, xProjection, into: parameters.pointer, inputWidth: inner, outputWidth: rank + 2 * state)
                sgemm(transposeA: false, transposeB: true, m: batch, n: inner, k: rank,
                      a: parameters.pointer, lda: rank + 2 * state, b: timeStepProjection.weight.pointer, ldb: rank,
                      c: delta.pointer, ldc: inner)
                (b, c) = (UnsafePointer(parameters.pointer + rank), UnsafePointer(parameters.pointer + rank + state))
            } else {
                let constant = layer.constantBC?.pointer ?? parameters.pointer
                (b, c) = (UnsafePointer(constant), UnsafePointer(constant + state))
            }
            selectiveScanStep(
                y: scanned.pointer, state: layer.ssm.pointer, u: convolved.pointer, delta: delta.pointer,
                z: mixer.gated ? projected.pointer + inner : nil, b: b, c: c, a: layer.a.pointer, d: mixer.d.pointer,
                deltaBias: mixer.timeStepBias.pointer, layout: scanLayout, threads: 1)
            if let observeTimeSteps { observe(observeTimeSteps, layer: index, bias: mixer.timeStepBias.pointer, inner: inner) }
            linear(scanned.pointer, mixer.outProjection, into: mixed.pointer, inputWidth: inner, outputWidth: width)
            for i in 0..<batch * width { hidden.pointer[i] += mixed.pointer[i] }
        }
        position += 1
    }

    /// Hands `observer` the layer's Δ = softplus(delta + bias) of every row (B, E).
    private func observe(
        _ observer: (Int, UnsafeBufferPointer<Float>) -> Void, layer: Int, bias: UnsafePointer<Float>, inner: Int
    ) {
        var steps = [Float](repeating: 0, count: batch * inner)
        for b in 0..<batch {
            for e in 0..<inner {
                let x = Double(delta.pointer[b * inner + e] + bias[e])
                // softplus, without overflow for large x
                steps[b * inner + e] = Float(x > 20 ? x : Foundation.log1p(Foundation.exp(x)))
            }
        }
        steps.withUnsafeBufferPointer { observer(layer, $0) }
    }

    /// The logits (V) after the last token fed to sequence `row`.
    public func logits(row: Int) -> [Float] {
        let config = model.config, width = config.hiddenSize
        let norm = model.finalNorm
        var result = [Float](repeating: 0, count: config.vocabSize)
        rmsNormForward(
            output: normalized.pointer, inverseRMS: inverseRMS.pointer, input: hidden.pointer + row * width,
            weight: norm.weight.pointer, rows: 1, width: width, epsilon: norm.epsilon)
        result.withUnsafeMutableBufferPointer { out in
            sgemm(transposeA: false, transposeB: true, m: 1, n: config.vocabSize, k: width,
                  a: normalized.pointer, lda: width, b: model.headWeight.pointer, ldb: width, c: out.baseAddress!, ldc: config.vocabSize)
        }
        return result
    }

    /// y (B, out) ← x (B, in) · Wᵀ + bias.
    private func linear(_ x: UnsafePointer<Float>, _ layer: Linear, into y: UnsafeMutablePointer<Float>, inputWidth: Int, outputWidth: Int) {
        sgemm(transposeA: false, transposeB: true, m: batch, n: outputWidth, k: inputWidth,
              a: x, lda: inputWidth, b: layer.weight.pointer, ldb: inputWidth, c: y, ldc: outputWidth)
        if let bias = layer.bias {
            for b in 0..<batch { for i in 0..<outputWidth { y[b * outputWidth + i] += bias.pointer[i] } }
        }
    }

    /// Shifts every row's x (the first E entries of its `projected` row) into its window and
    /// writes silu(causal convolution at the newest position) to `convolved`.
    private func convolveStep(_ layer: Layer, inner: Int) {
        let kernel = layer.window.shape[1]
        let filter = layer.mixer.convolution.weight.pointer, bias = layer.mixer.convolution.bias?.pointer
        for b in 0..<batch {
            let rows = layer.window.pointer + b * kernel * inner, out = convolved.pointer + b * inner
            rows.update(from: rows + inner, count: (kernel - 1) * inner)
            (rows + (kernel - 1) * inner).update(from: projected.pointer + b * projectedWidth, count: inner)
            for e in 0..<inner {
                var total = bias?[e] ?? 0
                for k in 0..<kernel { total += filter[e * kernel + k] * rows[k * inner + e] }
                out[e] = total / (1 + Foundation.exp(-total))
            }
        }
    }
}
