// Mamba2LM.swift — the Mamba-2 language model: token embedding, a stack of Mamba-2 blocks, the
// final RMSNorm and the LM head (tied to the embedding or its own weight). Names follow Hugging
// Face's `Mamba2ForCausalLM` (`backbone.embeddings`, `backbone.layers.i`, `backbone.norm_f`,
// `lm_head`).
//
// Dimension letters: B batch, L length, D hidden size, V vocabulary.

import TaipanTensor

/// A Mamba-2 language model.
public final class Mamba2LM: LanguageModel {
    public let config: Mamba2Config
    public let embeddings: Embedding
    public let layers: [Mamba2Block]
    public let finalNorm: RMSNorm
    /// The head's own weight (V, D) when not tied to the embedding.
    public let head: Tensor?

    /// A freshly initialised model (the `mamba_ssm` recipe), drawn from `generator`.
    public init(config: Mamba2Config, generator: inout SeededGenerator) {
        self.config = config
        embeddings = Embedding(
            vocabularySize: config.vocabSize, width: config.hiddenSize,
            standardDeviation: Float(config.initializerRange), generator: &generator)
        var layers: [Mamba2Block] = []
        for _ in 0..<config.layerCount { layers.append(Mamba2Block(config: config, generator: &generator)) }
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

    public var configuration: LanguageModelConfig { .mamba2(config) }

    public var headWeight: Tensor { head ?? embeddings.weight }

    public var layerCount: Int { layers.count }

    public func hidden(ids: [Int32], batch: Int, length: Int, collecting: inout [Tensor]?) throws(TensorError) -> Tensor {
        try runBlocks(ids: ids, batch: batch, length: length, blocks: layers.map { layer in { layer($0) } }, collecting: &collecting)
    }

    public func makeDecoder(weights: DecodingWeights) -> any LanguageModelDecoder { Mamba2Decoder(model: self, weights: weights) }

    /// Every Linear layer under its module name (`backbone.layers.3.mixer.in_proj`), in order.
    public var namedLinearLayers: [(name: String, layer: Linear)] {
        layers.enumerated().flatMap { index, block -> [(name: String, layer: Linear)] in
            let prefix = "backbone.layers.\(index).mixer."
            return [(prefix + "in_proj", block.mixer.inProjection), (prefix + "out_proj", block.mixer.outProjection)]
        }
    }

    /// Module names of every part of the model a LoRA pattern may name.
    public var moduleNames: [String] {
        var names = ["backbone.embeddings", "backbone.norm_f"] + (head == nil ? [] : ["lm_head"])
        for index in layers.indices {
            let prefix = "backbone.layers.\(index)"
            names += [prefix + ".norm"] + ["conv1d", "norm", "in_proj", "out_proj"].map { prefix + ".mixer." + $0 }
        }
        return names
    }
}
