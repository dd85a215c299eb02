// Mamba2Decoder.swift — recurrent decoding of one sequence with a Mamba-2 model, one token at a
// time, as Decoder.swift does for Mamba: the prompt goes through the parallel forward once
// (prefill), which leaves each layer's convolution window (over x, B, C) and its per-head SSM
// states (H, P, N); every later token is one step of the recurrence on preallocated buffers,
// with the weight matrices stored as float32, bfloat16 or int8 (see `DecodingWeights`).
//
// Dimension letters: D hidden size, E inner channels, H heads, P head size, G groups, N state
// size, K convolution width, V vocabulary.

import Foundation
import TaipanTensor

/// Decodes one sequence with a Mamba-2 model: `prefill` a prompt, then `step` one token at a time.
///
/// A decoder reads the model's weights when it is built: build a new one after they change.
public final class Mamba2Decoder: LanguageModelDecoder {
    public let model: Mamba2LM
    public let weights: DecodingWeights

    /// One layer's weights in decoding form.
    struct Layer {
        let norm: RMSNorm
        let inProjection: DecodingMatrix, inBias: Tensor?  // (E + E + 2GN + H, D)
        let convolutionWeight: Tensor, convolutionBias: Tensor?  // (E + 2GN, 1, K)
        let a: Tensor  // (H): −exp(A_log)
        let mixer: Mamba2Mixer
        let outProjection: DecodingMatrix, outBias: Tensor?  // (D, E)
    }

    let layers: [Layer]
    let head: DecodingMatrix  // (V, D)
    let scanLayout: StateSpaceDualityLayout
    /// Threads kept awake between the many short products of a step (nil on one thread).
    let team: SpinningTeam?
    /// One state per layer once a prompt has been prefilled.
    public private(set) var states: [MixerState] = []

    // Buffers reused by every step.
    let hidden: Tensor  // (D) the residual stream
    let normalized: Tensor  // (D)
    let inverseRMS: Tensor  // (1)
    let projected: Tensor  // (E + E + 2GN + H): z, x·B·C, dt
    let convolved: Tensor  // (E + 2GN): silu(conv(x·B·C))
    let scanned: Tensor  // (E)
    let mixed: Tensor  // (D)
    let logits: Tensor  // (V)

    /// A decoder for `model` with its matrices stored as `weights`.
    public init(model: Mamba2LM, weights: DecodingWeights = .float32) {
        precondition(model.adapters.isEmpty, "Mamba2Decoder: merge the model's LoRA adapters (mergeAdapters or mergedCopy) before decoding")
        self.model = model
        self.weights = weights
        let config = model.config
        layers = model.layers.map { block in
            let mixer = block.mixer
            return Layer(
                norm: block.norm,
                inProjection: DecodingMatrix(mixer.inProjection.weight, storage: weights), inBias: mixer.inProjection.bias,
                convolutionWeight: mixer.convolution.weight, convolutionBias: mixer.convolution.bias,
                a: withoutGradients { -mixer.aLog.exp() }, mixer: mixer,
                outProjection: DecodingMatrix(mixer.outProjection.weight, storage: weights), outBias: mixer.outProjection.bias)
        }
        head = DecodingMatrix(model.headWeight, storage: weights)
        team = Threads.count > 1 ? SpinningTeam(size: Threads.count) : nil
        let (inner, channels) = (config.intermediateSize, config.convolutionChannels)
        do {
            scanLayout = try StateSpaceDualityLayout(
                batch: 1, length: 1, heads: config.headCount, headSize: config.headSize, groups: config.groupCount,
                stateSize: config.stateSize, chunkSize: 1,
                timeStepLimit: Float(config.timeStepLimit.lowerBound)...Float(config.timeStepLimit.upperBound),
                xRowStride: channels, dtRowStride: config.inProjectionSize, bRowStride: channels, cRowStride: channels)
        } catch { preconditionFailure("Mamba2Decoder: \(error.description)") }
        hidden = Tensor(zeros: [config.hiddenSize])
        normalized = Tensor(zeros: [config.hiddenSize])
        inverseRMS = Tensor(zeros: [1])
        projected = Tensor(zeros: [config.inProjectionSize])
        convolved = Tensor(zeros: [channels])
        scanned = Tensor(zeros: [inner])
        mixed = Tensor(zeros: [config.hiddenSize])
        logits = Tensor(zeros: [config.vocabSize])
    }

    public var weightBytesPerToken: Int {
        layers.reduce(head.byteCount) { $0 + $1.inProjection.byteCount + $1.outProjection.byteCount }
    }

    public func prefill(_ prompt: [Int32]) throws(TensorError) -> [Float] {
        guard !prompt.isEmpty else { throw .invalidArgument("Mamba2Decoder.prefill: the prompt is empty") }
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

    public func step(_ token: Int32) throws(TensorError) -> [Float] {
        guard !states.isEmpty || layers.isEmpty else { throw .invalidArgument("Mamba2Decoder.step: prefill a prompt first") }
        guard token >= 0 && Int(token) < model.config.vocabSize else {
            throw .invalidArgument("Mamba2Decoder.step: token id \(token) is outside the vocabulary 0..<\(model.config.vocabSize)")
        }
        return Threads.withSingleThreadedBLAS { advance(token) }
    }

    /// One step of every layer for `token`, then the head.
    func advance(_ token: Int32) -> [Float] {
        let config = model.config
        let (width, inner, channels) = (config.hiddenSize, config.intermediateSize, config.convolutionChannels)
        let groupWidth = config.groupCount * config.stateSize, groupSize = inner / config.groupCount
        hidden.pointer.update(from: model.embeddings.weight.pointer + Int(token) * width, count: width)
        for (layer, mixerState) in zip(layers, states) {
            rmsNormForward(
                output: normalized.pointer, inverseRMS: inverseRMS.pointer, input: hidden.pointer,
                weight: layer.norm.weight.pointer, rows: 1, width: width, epsilon: layer.norm.epsilon)
            layer.inProjection.apply(normalized.pointer, into: projected.pointer, bias: layer.inBias, team: team)
            convolveWindowStep(
                output: convolved.pointer, window: mixerState.window, input: projected.pointer + inner,
                weight: layer.convolutionWeight, bias: layer.convolutionBias)
            let mixer = layer.mixer
            stateSpaceDualityStep(
                y: scanned.pointer, state: mixerState.ssm.pointer, x: convolved.pointer,
                dt: projected.pointer + inner + channels, b: convolved.pointer + inner,
                c: convolved.pointer + inner + groupWidth, a: layer.a.pointer, d: mixer.d.pointer,
                dtBias: mixer.timeStepBias.pointer, layout: scanLayout, team: team)
            // norm(y · silu(z)) within each group.
            for e in 0..<inner {
                let z = projected.pointer[e]
                scanned.pointer[e] *= z / (1 + Foundation.exp(-z))
            }
            for g in 0..<config.groupCount {
                let offset = g * groupSize
                rmsNormForward(
                    output: scanned.pointer + offset, inverseRMS: inverseRMS.pointer, input: scanned.pointer + offset,
                    weight: mixer.normWeight.pointer + offset, rows: 1, width: groupSize,
                    epsilon: Float(config.layerNormEpsilon))
            }
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
