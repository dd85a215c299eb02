// MambaLM.swift — the Mamba language model: token embedding, a stack of Mamba blocks, the final
// RMSNorm and the LM head (tied to the embedding or its own weight), with the next-token loss.
// Names follow Hugging Face's `MambaForCausalLM` (`backbone.embeddings`, `backbone.layers.i`,
// `backbone.norm_f`, `lm_head`).
//
// Dimension letters: B batch, L length, D hidden size, V vocabulary.

import TaipanTensor

/// A Mamba language model.
public final class MambaLM: LanguageModel {
    public let config: MambaConfig
    public let embeddings: Embedding
    public let layers: [MambaBlock]
    public let finalNorm: RMSNorm
    /// The head's own weight (V, D) when not tied to the embedding.
    public let head: Tensor?

    /// A freshly initialised model (the `mamba_ssm` recipe), drawn from `generator`.
    public init(config: MambaConfig, generator: inout SeededGenerator) {
        self.config = config
        embeddings = Embedding(
            vocabularySize: config.vocabSize, width: config.hiddenSize,
            standardDeviation: Float(config.initializerRange), generator: &generator)
        var layers: [MambaBlock] = []
        for _ in 0..<config.layerCount { layers.append(MambaBlock(config: config, generator: &generator)) }
        self.layers = layers
        finalNorm = RMSNorm(width: config.hiddenSize, epsilon: Float(config.layerNormEpsilon))
        head = config.tieWordEmbeddings
            ? nil
            : Tensor(normal: [config.vocabSize, config.hiddenSize], standardDeviation: Float(config.initializerRange),
                     generator: &generator, requiresGrad: true)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        var named = prefixed("backbone.embeddings", embeddings)
        for (i, layer) in layers.enumerated() { named += prefixed("backbone.layers.\(i)", layer) }
        named += prefixed("backbone.norm_f", finalNorm)
        if let head { named.append(("lm_head.weight", head)) }
        return named
    }

    /// The LM head's weight (V, D): the embedding table when tied.
    public var headWeight: Tensor { head ?? embeddings.weight }

    /// Steps between scan states kept for the backward, in every layer.
    public var scanCheckpointInterval: Int {
        get { layers.first?.mixer.scanCheckpointInterval ?? 64 }
        set { for layer in layers { layer.mixer.scanCheckpointInterval = newValue } }
    }

    public var configuration: LanguageModelConfig { .mamba(config) }

    public var layerCount: Int { layers.count }

    public func hidden(ids: [Int32], batch: Int, length: Int, collecting: inout [Tensor]?) throws(TensorError) -> Tensor {
        try runBlocks(ids: ids, batch: batch, length: length, blocks: layers.map { layer in { layer($0) } }, collecting: &collecting)
    }

    public func makeDecoder(weights: DecodingWeights) -> any LanguageModelDecoder { Decoder(model: self, weights: weights) }
}
