// LanguageModel.swift — what the trainer, checkpoints, decoding and the CLI need of a language
// model, whichever architecture it is: ids → hidden states, logits and the loss; parameters by
// Hugging Face name (Module); a recurrent decoder; its configuration. `MambaLM` and `Mamba2LM`
// implement it, so nothing outside this module switches on the architecture except where a
// configuration is read or a model is built from one.
//
// Dimension letters: B batch, L length, D hidden size, V vocabulary.

import TaipanTensor

/// What a forward pass returns.
public struct MambaOutput {
    /// (B, L, V) next-token logits.
    public let logits: Tensor
    /// The residual stream as Hugging Face `transformers` (5.x) reports it: the output of every
    /// block, then the output of the final norm (layerCount + 1 tensors of (B, L, D)). Empty
    /// unless asked for.
    public let hiddenStates: [Tensor]
}

/// The configuration of a model of either architecture.
public enum LanguageModelConfig: Equatable, Sendable {
    case mamba(MambaConfig)
    case mamba2(Mamba2Config)

    /// The architecture's name, as `model_type` and the TOML's `model.architecture` spell it.
    public var architecture: String {
        switch self {
        case .mamba: "mamba"
        case .mamba2: "mamba2"
        }
    }

    /// V.
    public var vocabSize: Int {
        switch self {
        case .mamba(let config): config.vocabSize
        case .mamba2(let config): config.vocabSize
        }
    }

    /// The end-of-sequence token id, if the model names one.
    public var eosTokenId: Int? {
        switch self {
        case .mamba(let config): config.eosTokenId
        case .mamba2(let config): config.eosTokenId
        }
    }

    /// One line of the sizes, for `taipan model info`.
    public var summary: String {
        switch self {
        case .mamba(let c):
            "Mamba, \(c.layerCount) layers, hidden \(c.hiddenSize), inner \(c.intermediateSize), state \(c.stateSize), rank \(c.timeStepRank), conv \(c.convKernel), vocabulary \(c.vocabSize)\n"
                + "bias \(c.useBias), conv bias \(c.useConvBias), tied head \(c.tieWordEmbeddings), ε \(c.layerNormEpsilon)"
        case .mamba2(let c):
            "Mamba-2, \(c.layerCount) layers, hidden \(c.hiddenSize), inner \(c.intermediateSize), \(c.headCount) heads of \(c.headSize), \(c.groupCount) groups, state \(c.stateSize), chunk \(c.chunkSize), conv \(c.convKernel), vocabulary \(c.vocabSize)\n"
                + "bias \(c.useBias), conv bias \(c.useConvBias), tied head \(c.tieWordEmbeddings), ε \(c.layerNormEpsilon), Δ limit \(c.timeStepLimit)"
        }
    }

    /// A freshly initialised model of this configuration.
    public func makeModel(generator: inout SeededGenerator) -> any LanguageModel {
        switch self {
        case .mamba(let config): MambaLM(config: config, generator: &generator)
        case .mamba2(let config): Mamba2LM(config: config, generator: &generator)
        }
    }

    /// Checks every size and option; the error names the Hugging Face key at fault.
    public func validate() throws(MambaConfigError) {
        switch self {
        case .mamba(let config): try config.validate()
        case .mamba2(let config): try config.validate()
        }
    }

    /// Every parameter with its shape, in Hugging Face naming and model order.
    public func parameterShapes() -> [NamedShape] {
        switch self {
        case .mamba(let config): config.parameterShapes()
        case .mamba2(let config): config.parameterShapes()
        }
    }

    /// The Hugging Face name of a parameter named the `mamba_ssm` way, or nil for a tied head.
    public func huggingFaceName(forMambaSSMName name: String) -> String? {
        switch self {
        case .mamba(let config): config.huggingFaceName(forMambaSSMName: name)
        case .mamba2(let config): config.huggingFaceName(forMambaSSMName: name)
        }
    }
}

/// A causal language model: embedding, blocks, final norm and head.
public protocol LanguageModel: Module {
    /// The configuration the model was built from.
    var configuration: LanguageModelConfig { get }
    /// The token embedding (V, D).
    var embeddings: Embedding { get }
    /// The norm before the head.
    var finalNorm: RMSNorm { get }
    /// The LM head's weight (V, D): the embedding table when tied.
    var headWeight: Tensor { get }
    /// The number of blocks.
    var layerCount: Int { get }

    /// The final normalised hidden states (B, L, D) of `ids` (B·L ids, row-major), collecting
    /// every block's output and then the normalised states when `collecting` is non-nil.
    func hidden(ids: [Int32], batch: Int, length: Int, collecting: inout [Tensor]?) throws(TensorError) -> Tensor

    /// Every Linear layer under its module name (`backbone.layers.3.mixer.in_proj`), in order:
    /// where LoRA adapters go.
    var namedLinearLayers: [(name: String, layer: Linear)] { get }
    /// Module names of every part of the model a LoRA pattern may name.
    var moduleNames: [String] { get }

    /// A recurrent decoder of one sequence holding its matrices as `weights`.
    func makeDecoder(weights: DecodingWeights) -> any LanguageModelDecoder
}

/// Decodes one sequence: `prefill` a prompt, then `step` one token at a time, each returning the
/// next token's logits (V).
public protocol LanguageModelDecoder: AnyObject {
    /// Runs `prompt` through the parallel forward, keeps every layer's state, returns the logits.
    func prefill(_ prompt: [Int32]) throws(TensorError) -> [Float]
    /// Feeds `token` through the recurrence; returns the logits.
    func step(_ token: Int32) throws(TensorError) -> [Float]
    /// The bytes of weights one step reads.
    var weightBytesPerToken: Int { get }
}

extension LanguageModel {
    /// V.
    public var vocabularySize: Int { configuration.vocabSize }

    /// Logits (B, L, V) for `ids` (B·L ids, row-major), and the hidden states if asked for.
    public func forward(ids: [Int32], batch: Int, length: Int, returnHiddenStates: Bool = false) throws(TensorError) -> MambaOutput {
        var collected: [Tensor]? = returnHiddenStates ? [] : nil
        let normalized = try hidden(ids: ids, batch: batch, length: length, collecting: &collected)
        return MambaOutput(logits: matmul(normalized, headWeight, transposeB: true), hiddenStates: collected ?? [])
    }

    /// The mean next-token cross-entropy of `ids` (B, L): position t predicts id t + 1.
    public func loss(ids: [Int32], batch: Int, length: Int, reduction: LossReduction = .mean) throws(TensorError) -> Tensor {
        let logits = try forward(ids: ids, batch: batch, length: length).logits
        return try crossEntropy(logits: logits, targets: Self.nextTokenTargets(ids, batch: batch, length: length), reduction: reduction)
    }

    /// The targets of next-token prediction: ids shifted left by one in every row, with the
    /// last position of each row ignored (−100).
    public static func nextTokenTargets(_ ids: [Int32], batch: Int, length: Int) -> [Int32] {
        var targets = [Int32](repeating: -100, count: ids.count)
        for b in 0..<batch {
            for t in 0..<(length - 1) { targets[b * length + t] = ids[b * length + t + 1] }
        }
        return targets
    }

    /// Embeds `ids`, runs `blocks` in order and the final norm (the `hidden` of both models).
    func runBlocks(
        ids: [Int32], batch: Int, length: Int, blocks: [(Tensor) -> Tensor], collecting: inout [Tensor]?
    ) throws(TensorError) -> Tensor {
        guard batch >= 1, length >= 1, ids.count == batch * length else {
            throw .shapeMismatch("\(configuration.architecture): \(ids.count) ids do not make a (\(batch), \(length)) batch")
        }
        var hidden = try embeddings(ids, shape: [batch, length])
        for block in blocks {
            hidden = block(hidden)
            collecting?.append(hidden)
        }
        let normalized = finalNorm(hidden)
        collecting?.append(normalized)
        return normalized
    }
}
