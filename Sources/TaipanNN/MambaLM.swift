// MambaLM.swift — the Mamba language model: token embedding, a stack of Mamba blocks, the final
// RMSNorm and the LM head (tied to the embedding or its own weight), with the next-token loss.
// Names follow Hugging Face's `MambaForCausalLM` (`backbone.embeddings`, `backbone.layers.i`,
// `backbone.norm_f`, `lm_head`).
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

/// A Mamba language model.
public final class MambaLM: Module {
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

    /// The final normalised hidden states (B, L, D) of `ids` (B·L ids, row-major).
    public func hidden(ids: [Int32], batch: Int, length: Int, collecting: inout [Tensor]?) throws(TensorError) -> Tensor {
        guard batch >= 1, length >= 1, ids.count == batch * length else {
            throw .shapeMismatch("MambaLM: \(ids.count) ids do not make a (\(batch), \(length)) batch")
        }
        var hidden = try embeddings(ids, shape: [batch, length])
        for layer in layers {
            hidden = layer(hidden)
            collecting?.append(hidden)
        }
        let normalized = finalNorm(hidden)
        collecting?.append(normalized)
        return normalized
    }

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
}
