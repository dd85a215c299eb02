// Decoder.swift — recurrent decoding of one sequence, one token at a time: the prompt goes
// through the parallel forward once (prefill), which leaves each layer's convolution window and
// SSM state; every later token is one step of the recurrence on preallocated buffers.
//
// At batch 1 every weight matrix is read once per token and little else happens, so the time
// of a step is the bytes of weights read. The decoder can use the model's float32 matrices
// (through OpenBLAS; the logits agree with the parallel forward to float rounding), bfloat16
// copies of them (half the bytes, products still accumulated in float32; logits then differ
// from float32 at about 1e-3 relative) or int8 copies with a scale per row (a quarter of the
// bytes; logits differ at about 1e-2). Products are split over a `SpinningTeam`.
//
// Dimension letters: D hidden size, E inner channels, N state size, R time-step rank,
// K convolution width, V vocabulary.

import Foundation
import TaipanTensor

/// How a decoder stores its weight matrices.
public enum DecodingWeights: String, Sendable, CaseIterable {
    /// The model's own float32 weights (matrix-vector products through OpenBLAS).
    case float32
    /// bfloat16 copies of every projection and of the head: half the bytes read per token.
    case bfloat16
    /// int8 copies with a float32 scale per row (absmax): a quarter of the bytes per token.
    case int8
}

/// A weight matrix W (rows, columns) used as y = W · x at batch 1.
enum DecodingMatrix {
    case float32(Tensor)
    case bfloat16(BFloat16Matrix)
    case int8(Int8Matrix)

    init(_ weight: Tensor, storage: DecodingWeights) {
        switch storage {
        case .float32: self = .float32(weight)
        case .bfloat16: self = .bfloat16(BFloat16Matrix(weight))
        case .int8: self = .int8(Int8Matrix(weight))
        }
    }

    /// y (rows) ← W · x (columns), plus `bias` (rows) when given.
    func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, bias: Tensor? = nil, team: SpinningTeam?) {
        let rows: Int
        switch self {
        case .float32(let weight):
            rows = weight.shape[0]
            let columns = weight.shape[1]
            // A share of the rows for every member of the team, each through OpenBLAS.
            func product(_ range: Range<Int>) {
                sgemm(transposeA: false, transposeB: true, m: 1, n: range.count, k: columns,
                      a: x, lda: columns, b: weight.pointer + range.lowerBound * columns, ldb: columns,
                      c: y + range.lowerBound, ldc: range.count)
            }
            if let team, rows * columns >= 1 << 16 { team.forEachChunk(count: rows) { product($0) } } else { product(0..<rows) }
        case .bfloat16(let weight):
            rows = weight.rows
            weight.multiply(x, into: y, team: team)
        case .int8(let weight):
            rows = weight.rows
            weight.multiply(x, into: y, team: team)
        }
        if let bias { for i in 0..<rows { y[i] += bias.pointer[i] } }
    }

    /// The bytes read by one product.
    var byteCount: Int {
        switch self {
        case .float32(let weight): return weight.count * MemoryLayout<Float>.size
        case .bfloat16(let weight): return weight.byteCount
        case .int8(let weight): return weight.byteCount
        }
    }
}

/// Decodes one sequence with a model: `prefill` a prompt, then `step` one token at a time.
///
/// A decoder reads the model's weights when it is built (the bfloat16 or int8 copies and
/// A = −exp(A_log) are taken then): build a new one after the weights change.
public final class Decoder: LanguageModelDecoder {
    public let model: MambaLM
    public let weights: DecodingWeights

    /// One layer's weights in decoding form.
    struct Layer {
        let norm: RMSNorm
        let inProjection: DecodingMatrix, inBias: Tensor?  // (2E, D)
        let convolutionWeight: Tensor, convolutionBias: Tensor?  // (E, 1, K)
        let xProjection: DecodingMatrix?  // (R + 2N, E); nil for LTI
        let timeStepProjection: DecodingMatrix?, timeStepBias: Tensor  // (E, R), (E)
        /// LTI: B then C (2N), the same at every step; nil for S6.
        let constantBC: Tensor?
        let gated: Bool
        let a: Tensor  // (E, N): −exp(A_log)
        let d: Tensor  // (E)
        let outProjection: DecodingMatrix, outBias: Tensor?  // (D, E)
    }

    let layers: [Layer]
    let head: DecodingMatrix  // (V, D)
    let scanLayout: SelectiveScanLayout
    /// Threads kept awake between the many short products of a step (nil on one thread). Each
    /// member takes a share of every product; float32 shares go to OpenBLAS on one thread each.
    let team: SpinningTeam?
    /// One state per layer once a prompt has been prefilled.
    public private(set) var states: [MixerState] = []

    // Buffers reused by every step.
    let hidden: Tensor  // (D) the residual stream
    let normalized: Tensor  // (D)
    let inverseRMS: Tensor  // (1)
    let projected: Tensor  // (2E): x, then the gate z
    let convolved: Tensor  // (E): silu(conv(x))
    let parameters: Tensor  // (R + 2N): Δ's input, B, C
    let delta: Tensor  // (E)
    let scanned: Tensor  // (E)
    let mixed: Tensor  // (D)
    let logits: Tensor  // (V)

    /// A decoder for `model` with its matrices stored as `weights`.
    public init(model: MambaLM, weights: DecodingWeights = .float32) {
        // Decoding reads the layers' weights directly; callers merge LoRA adapters first.
        precondition(model.adapters.isEmpty, "Decoder: merge the model's LoRA adapters (mergeAdapters or mergedCopy) before decoding")
        self.model = model
        self.weights = weights
        let config = model.config
        let (width, inner, state, rank) = (config.hiddenSize, config.intermediateSize, config.stateSize, config.timeStepRank)
        layers = model.layers.map { block in
            let mixer = block.mixer
            return Layer(
                norm: block.norm,
                inProjection: DecodingMatrix(mixer.inProjection.weight, storage: weights), inBias: mixer.inProjection.bias,
                convolutionWeight: mixer.convolution.weight, convolutionBias: mixer.convolution.bias,
                xProjection: mixer.xProjection.map { DecodingMatrix($0.weight, storage: weights) },
                timeStepProjection: mixer.timeStepProjection.map { DecodingMatrix($0.weight, storage: weights) },
                timeStepBias: mixer.timeStepBias,
                constantBC: mixer.timeInvariant.map { Tensor.concatenate([$0.b, $0.c], dimension: 0) },
                gated: mixer.gated,
                a: withoutGradients { -mixer.aLog.exp() }, d: mixer.d,
                outProjection: DecodingMatrix(mixer.outProjection.weight, storage: weights), outBias: mixer.outProjection.bias)
        }
        head = DecodingMatrix(model.headWeight, storage: weights)
        team = Threads.count > 1 ? SpinningTeam(size: Threads.count) : nil
        do {
            scanLayout = try SelectiveScanLayout(
                batch: 1, length: 1, channels: inner, stateSize: state, checkpointInterval: 1,
                uRowStride: inner, deltaRowStride: inner, zRowStride: 2 * inner,
                bRowStride: rank + 2 * state, cRowStride: rank + 2 * state)
        } catch { preconditionFailure("Decoder: \(error.description)") }
        hidden = Tensor(zeros: [width])
        normalized = Tensor(zeros: [width])
        inverseRMS = Tensor(zeros: [1])
        projected = Tensor(zeros: [2 * inner])
        convolved = Tensor(zeros: [inner])
        parameters = Tensor(zeros: [rank + 2 * state])
        delta = Tensor(zeros: [inner])
        scanned = Tensor(zeros: [inner])
        mixed = Tensor(zeros: [width])
        logits = Tensor(zeros: [config.vocabSize])
    }

    /// The bytes of weights one step reads (the matrices; vectors are negligible).
    public var weightBytesPerToken: Int {
        layers.reduce(head.byteCount) { total, layer in
            total + layer.inProjection.byteCount + (layer.xProjection?.byteCount ?? 0)
                + (layer.timeStepProjection?.byteCount ?? 0) + layer.outProjection.byteCount
        }
    }

    /// Runs `prompt` through the parallel forward (float32, the model's own weights), keeps
    /// every layer's state and returns the logits (V) after its last token.
    public func prefill(_ prompt: [Int32]) throws(TensorError) -> [Float] {
        guard !prompt.isEmpty else { throw .invalidArgument("Decoder.prefill: the prompt is empty") }
        return try withoutGradients { () throws(TensorError) -> [Float] in
            var stream = try model.embeddings(prompt, shape: [1, prompt.count])
            var captured: [MixerState] = []
            for layer in model.layers {
                let (output, state) = layer.mixer.forward(layer.norm(stream), captureState: true)
                stream = stream + output
                captured.append(state!)
            }
            states = captured
            hidden.pointer.update(from: stream.pointer + (prompt.count - 1) * hidden.count, count: hidden.count)
            return Threads.withSingleThreadedBLAS { headLogits() }
        }
    }

    /// Feeds `token` through the recurrence, advancing the states; returns the logits (V).
    public func step(_ token: Int32) throws(TensorError) -> [Float] {
        guard !states.isEmpty || layers.isEmpty else { throw .invalidArgument("Decoder.step: prefill a prompt first") }
        let config = model.config
        guard token >= 0 && Int(token) < config.vocabSize else {
            throw .invalidArgument("Decoder.step: token id \(token) is outside the vocabulary 0..<\(config.vocabSize)")
        }
        return Threads.withSingleThreadedBLAS { advance(token) }
    }

    /// One step of every layer for `token`, then the head.
    func advance(_ token: Int32) -> [Float] {
        let config = model.config
        let (width, inner, state, rank) = (config.hiddenSize, config.intermediateSize, config.stateSize, config.timeStepRank)
        hidden.pointer.update(from: model.embeddings.weight.pointer + Int(token) * width, count: width)
        for (layer, mixerState) in zip(layers, states) {
            rmsNormForward(
                output: normalized.pointer, inverseRMS: inverseRMS.pointer, input: hidden.pointer,
                weight: layer.norm.weight.pointer, rows: 1, width: width, epsilon: layer.norm.epsilon)
            layer.inProjection.apply(normalized.pointer, into: projected.pointer, bias: layer.inBias, team: team)
            convolveWindowStep(
                output: convolved.pointer, window: mixerState.window, input: projected.pointer,
                weight: layer.convolutionWeight, bias: layer.convolutionBias)
            // B and C: computed from the input (S6) or the same at every step (LTI, with Δ's input 0).
            let (b, c): (UnsafePointer<Float>, UnsafePointer<Float>)
            if let xProjection = layer.xProjection, let timeStepProjection = layer.timeStepProjection {
                xProjection.apply(convolved.pointer, into: parameters.pointer, team: team)
                timeStepProjection.apply(parameters.pointer, into: delta.pointer, team: team)
                (b, c) = (UnsafePointer(parameters.pointer + rank), UnsafePointer(parameters.pointer + rank + state))
            } else {
                let constant = layer.constantBC?.pointer ?? parameters.pointer
                delta.pointer.update(repeating: 0, count: inner)
                (b, c) = (UnsafePointer(constant), UnsafePointer(constant + state))
            }
            selectiveScanStep(
                y: scanned.pointer, state: mixerState.ssm.pointer, u: convolved.pointer, delta: delta.pointer,
                z: layer.gated ? projected.pointer + inner : nil, b: b, c: c,
                a: layer.a.pointer, d: layer.d.pointer, deltaBias: layer.timeStepBias.pointer, layout: scanLayout, team: team)
            layer.outProjection.apply(scanned.pointer, into: mixed.pointer, bias: layer.outBias, team: team)
            for i in 0..<width { hidden.pointer[i] += mixed.pointer[i] }
        }
        return headLogits()
    }

    /// The logits (V) of the residual stream in `hidden`: final norm, then the head.
    func headLogits() -> [Float] {
        let norm = model.finalNorm
        rmsNormForward(
            output: normalized.pointer, inverseRMS: inverseRMS.pointer, input: hidden.pointer,
            weight: norm.weight.pointer, rows: 1, width: hidden.count, epsilon: norm.epsilon)
        head.apply(normalized.pointer, into: logits.pointer, team: team)
        return Array(UnsafeBufferPointer(start: logits.pointer, count: logits.count))
    }
}

/// Shifts `input` (C) into `window` (K, C) as its newest row and writes silu(causal convolution
/// at the newest position) to `output` (C): one step of `causalConv1d` followed by SiLU.
func convolveWindowStep(
    output: UnsafeMutablePointer<Float>,            // (C)
    window: Tensor,                                 // (1, K, C) oldest row first
    input: UnsafePointer<Float>,                    // (C)
    weight: Tensor,                                 // (C, 1, K)
    bias: Tensor?                                   // (C)
) {
    let (kernel, channels) = (window.shape[1], window.shape[2])
    let rows = window.pointer, filter = weight.pointer
    rows.update(from: rows + channels, count: (kernel - 1) * channels)
    (rows + (kernel - 1) * channels).update(from: input, count: channels)
    for e in 0..<channels {
        var total = bias?.pointer[e] ?? 0
        for k in 0..<kernel { total += filter[e * kernel + k] * rows[k * channels + e] }
        output[e] = total
    }
    var e = 0
    while e + 8 <= channels {
        let v = UnsafeRawPointer(output + e).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(output + e).storeBytes(of: v * fastSigmoid(v), as: SIMD8<Float>.self)
        e += 8
    }
    while e < channels {
        output[e] = output[e] / (1 + Foundation.exp(-output[e]))
        e += 1
    }
}
