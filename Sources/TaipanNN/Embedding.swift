// Embedding.swift — the token embedding layer: a (V, D) table looked up by Int32 ids.

import TaipanTensor

/// Token embeddings; `weight` is (vocabularySize, width).
public final class Embedding: Module {
    public let weight: Tensor

    /// A table initialised normal(0, `standardDeviation`), as Mamba does (0.02).
    public init(vocabularySize: Int, width: Int, standardDeviation: Float, generator: inout SeededGenerator) {
        weight = Tensor(normal: [vocabularySize, width], standardDeviation: standardDeviation, generator: &generator, requiresGrad: true)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("weight", weight)] }

    /// ids of shape `idShape` → (idShape…, width); throws for ids outside the vocabulary.
    public func callAsFunction(_ ids: [Int32], shape idShape: [Int]) throws(TensorError) -> Tensor {
        try embedding(weight, ids: ids, idShape: idShape)
    }
}
