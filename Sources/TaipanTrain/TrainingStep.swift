// TrainingStep.swift — the work of one optimizer step, shared by the trainer and
// `taipan bench train`: A micro-batches forward and backward, global-norm clipping, and the
// AdamW update unless the loss or the gradient is not finite.
//
// Dimension letters: B batch size, L sequence length, A gradient accumulation.

import TaipanNN
import TaipanOptim
import TaipanTensor

/// One optimizer step over a model's trainable parameters.
public struct TrainingStep {
    public let model: MambaLM
    public let optimizer: AdamW
    /// The parameters that train (not frozen).
    public let trainable: [Tensor]
    public let batchSize: Int, length: Int, accumulation: Int
    /// The maximum global gradient norm; 0 turns clipping off.
    public let gradientClip: Double

    public init(model: MambaLM, optimizer: AdamW, trainable: [Tensor], batchSize: Int, length: Int, accumulation: Int, gradientClip: Double) {
        self.model = model
        self.optimizer = optimizer
        self.trainable = trainable
        self.batchSize = batchSize
        self.length = length
        self.accumulation = accumulation
        self.gradientClip = gradientClip
    }

    /// Targets of one step: A·B·L.
    public var targetsPerStep: Int { batchSize * length * accumulation }

    /// Runs A micro-batches (each B windows of L + 1 ids from `nextBatch`) forward and
    /// backward and returns the mean loss. Each adds the gradient of its summed loss divided
    /// by all targets of the step, so A micro-batches of B give the gradient of one batch of A·B.
    public func accumulateGradients(_ nextBatch: () -> [Int32]) throws -> Double {
        model.zeroGradients()
        var lossSum = 0.0
        for _ in 0..<accumulation {
            let (inputs, targets) = Self.split(nextBatch(), batchSize: batchSize, length: length)
            let logits = try model.forward(ids: inputs, batch: batchSize, length: length).logits
            let loss = try crossEntropy(logits: logits, targets: targets, reduction: .sum)
            lossSum += Double(loss.item)
            (loss * (1 / Float(targetsPerStep))).backward()
        }
        return lossSum / Double(targetsPerStep)
    }

    /// Clips the gradients and takes the AdamW step, unless `loss` or the gradient norm is not
    /// finite. Returns the norm before clipping and whether the weights changed.
    public func update(loss: Double, learningRate: Double) -> (gradientNorm: Double, updated: Bool) {
        let norm = clipGradients(trainable, maxNorm: gradientClip)
        guard loss.isFinite && norm.isFinite else { return (norm, false) }
        optimizer.step(learningRate: Float(learningRate))
        return (norm, true)
    }

    /// Inputs (B·L) and next-token targets (B·L) from B windows of L + 1 ids.
    public static func split(_ tokens: [Int32], batchSize: Int, length: Int) -> (inputs: [Int32], targets: [Int32]) {
        var inputs = [Int32](), targets = [Int32]()
        inputs.reserveCapacity(batchSize * length)
        targets.reserveCapacity(batchSize * length)
        for b in 0..<batchSize {
            let row = b * (length + 1)
            inputs.append(contentsOf: tokens[row..<(row + length)])
            targets.append(contentsOf: tokens[(row + 1)...(row + length)])
        }
        return (inputs, targets)
    }

    /// FLOPs of one training token: 6 per matmul weight (forward 2, backward 4), the head
    /// included, plus the scan's elementwise work (about 18 per state element a layer).
    public static func flopsPerToken(_ c: MambaConfig) -> Double {
        let (d, e, n, r) = (Double(c.hiddenSize), Double(c.intermediateSize), Double(c.stateSize), Double(c.timeStepRank))
        let perLayer = 2 * e * d + (r + 2 * n) * e + e * r + d * e
        let matmulWeights = Double(c.layerCount) * perLayer + Double(c.vocabSize) * d
        return 6 * matmulWeights + 18 * Double(c.layerCount) * e * n
    }
}
