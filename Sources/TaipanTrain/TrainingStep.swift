// TrainingStep.swift — the work of one optimizer step, shared by the trainer and
// `taipan bench train`: A micro-batches forward and backward, the gradients summed over the
// ranks of a data-parallel job, global-norm clipping, and the AdamW update unless the loss or
// the gradient is not finite. After the sum every rank holds the same gradient, so every rank
// takes the same update. For prompt/completion examples the loss counts only the targets the
// batch marks (completions and end-of-text ids), averaged over those of the whole step.
//
// Dimension letters: B global batch size (all ranks), L sequence length, A gradient
// accumulation.

import TaipanDistributed
import TaipanNN
import TaipanOptim
import TaipanTensor

/// One optimizer step over a model's trainable parameters.
public struct TrainingStep {
    public let model: any LanguageModel
    public let optimizer: AdamW
    /// The parameters that train (not frozen).
    public let trainable: [Tensor]
    /// B: windows in one micro-batch of all ranks together; `rows` of them are this rank's.
    public let batchSize: Int, rows: Int, length: Int, accumulation: Int
    /// The maximum global gradient norm; 0 turns clipping off.
    public let gradientClip: Double
    /// Sums the gradients over the ranks (nothing to do in a job of one).
    let exchange: GradientExchange

    /// A step of `batchSize` windows a micro-batch, of which this rank computes `rows`
    /// (all of them by default, as in a job of one).
    public init(
        model: any LanguageModel, optimizer: AdamW, trainable: [Tensor], batchSize: Int, rows: Int? = nil, length: Int,
        accumulation: Int, gradientClip: Double, communicator: any Communicator = SingleProcess()
    ) {
        self.model = model
        self.optimizer = optimizer
        self.trainable = trainable
        self.batchSize = batchSize
        self.rows = rows ?? batchSize
        self.length = length
        self.accumulation = accumulation
        self.gradientClip = gradientClip
        exchange = GradientExchange(communicator: communicator, parameters: trainable)
    }

    /// Targets of one step, all ranks together: A·B·L.
    public var targetsPerStep: Int { batchSize * length * accumulation }

    /// Runs this rank's rows of A micro-batches of text (each `rows` windows of L + 1 ids from
    /// `nextBatch`) forward and backward, sums the gradients over the ranks and returns the
    /// mean loss of the whole step. Each micro-batch adds the gradient of its summed loss
    /// divided by all targets of the step (all ranks), so A micro-batches of B on R ranks give
    /// the gradient of one batch of A·B on one.
    public func accumulateGradients(_ nextBatch: () -> [Int32]) throws -> Double {
        var stop = false
        return try accumulateGradients(stop: &stop) { (nextBatch(), nil) }
    }

    /// As `accumulateGradients(_:)`, for text or examples: where a micro-batch comes with
    /// `counted` (which ids the loss counts, as the batcher gives them for examples), only
    /// those targets count, and the step's divisor is their number over all micro-batches and
    /// ranks, so that 1 rank and R ranks agree. `stop` comes in as this rank's wish to stop
    /// after this step and goes out true when any rank's was, so that all ranks stop at the
    /// same step.
    public func accumulateGradients(
        stop: inout Bool, _ nextBatch: () -> (tokens: [Int32], counted: [Bool]?)
    ) throws -> Double {
        try accumulateGradients(stop: &stop, batches: { let batch = nextBatch(); return (batch.tokens, batch.counted, nil) })
    }

    /// As `accumulateGradients(stop:_:)`, for micro-batches whose model may read other ids than
    /// the rows' own (`inputs`, as `Batch.inputs`; nil: the rows').
    public func accumulateGradients(
        stop: inout Bool, batches nextBatch: () -> (tokens: [Int32], counted: [Bool]?, inputs: [Int32]?)
    ) throws -> Double {
        // The trainable tensors include LoRA adapters, which are not among the model's parameters.
        for parameter in trainable { parameter.zeroGrad() }
        // Every micro-batch is taken first: with examples, the divisor (the counted targets of
        // the whole step) must be known before the first backward pass.
        var examples = false
        let pairs = (0..<accumulation).map { _ in
            let batch = nextBatch()
            examples = examples || batch.counted != nil
            return Self.split(batch.tokens, counted: batch.counted, inputs: batch.inputs, batchSize: rows, length: length)
        }
        var targets = targetsPerStep
        if examples {
            let local = pairs.reduce(0) { sum, pair in sum + pair.targets.count { $0 != Self.ignoredTarget } }
            targets = exchange.communicator.size > 1 ? Int(try exchange.communicator.allreduceSum([Double(local)])[0]) : local
        }
        // A step whose examples have no counted target (prompts that fill their rows) adds nothing.
        let divisor = max(targets, 1)
        var lossSum = 0.0
        let adapted = !model.adapters.isEmpty
        for (microBatch, (inputs, targets)) in pairs.enumerated() {
            if adapted {
                // Dropout masks from (step, micro-batch, rank): a resumed run draws the same.
                let key = UInt64(optimizer.stepCount) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(microBatch) << 32 ^ UInt64(exchange.communicator.rank)
                model.setAdapterMode(training: true, dropoutKey: key)
            }
            let logits = try model.forward(ids: inputs, batch: rows, length: length).logits
            let loss = try crossEntropy(logits: logits, targets: targets, ignoreIndex: Self.ignoredTarget, reduction: .sum)
            lossSum += Double(loss.item)
            (loss * (1 / Float(divisor))).backward()
        }
        if exchange.communicator.size > 1 {
            try exchange.sumGradients()
            let totals = try exchange.communicator.allreduceSum([lossSum, stop ? 1 : 0])
            lossSum = totals[0]
            stop = totals[1] > 0
        }
        return lossSum / Double(divisor)
    }

    /// Returns the seconds spent summing gradients over the ranks since the last call.
    public func takeExchangeSeconds() -> Double { exchange.takeSeconds() }

    /// Clips the gradients and takes the AdamW step, unless `loss` or the gradient norm is not
    /// finite. Returns the norm before clipping and whether the weights changed.
    public func update(loss: Double, learningRate: Double) -> (gradientNorm: Double, updated: Bool) {
        let norm = clipGradients(trainable, maxNorm: gradientClip)
        guard loss.isFinite && norm.isFinite else { return (norm, false) }
        optimizer.step(learningRate: Float(learningRate))
        return (norm, true)
    }

    /// The target the loss skips: a prompt id or padding.
    public static let ignoredTarget: Int32 = -100

    /// Inputs (B·L) and next-token targets (B·L) from B windows of L + 1 ids; where `counted`
    /// (B·(L+1)) says an id is not counted, its target is `ignoredTarget`. With `inputs`
    /// (B·(L+1), the last of each row unused) the model reads those ids instead of the rows'.
    public static func split(
        _ tokens: [Int32], counted: [Bool]? = nil, inputs read: [Int32]? = nil, batchSize: Int, length: Int
    ) -> (inputs: [Int32], targets: [Int32]) {
        var inputs = [Int32](), targets = [Int32]()
        inputs.reserveCapacity(batchSize * length)
        targets.reserveCapacity(batchSize * length)
        for b in 0..<batchSize {
            let row = b * (length + 1)
            inputs.append(contentsOf: (read ?? tokens)[row..<(row + length)])
            if let counted {
                for t in (row + 1)...(row + length) { targets.append(counted[t] ? tokens[t] : ignoredTarget) }
            } else {
                targets.append(contentsOf: tokens[(row + 1)...(row + length)])
            }
        }
        return (inputs, targets)
    }

    /// FLOPs of one training token: 6 per matmul weight (forward 2, backward 4), the head
    /// included, plus the scan's elementwise work (about 18 per state element a layer).
    public static func flopsPerToken(_ config: LanguageModelConfig) -> Double {
        switch config {
        case .mamba(let c): return flopsPerToken(c)
        case .mamba2(let c): return flopsPerToken(c)
        }
    }

    /// FLOPs of one training token of Mamba-2: 6 per matmul weight (in_proj, out_proj, the head)
    /// plus the SSD's chunked products at 3× their forward count (forward, and a backward of
    /// twice the work): per layer C·Bᵀ (2·K·N per group), the masked (K, K)·(K, P) products
    /// (2·K·E) and the state products in and out (4·E·N), K the chunk size; whole (K, K) blocks
    /// are counted, as sgemm computes them.
    public static func flopsPerToken(_ c: Mamba2Config) -> Double {
        let (d, e, n) = (Double(c.hiddenSize), Double(c.intermediateSize), Double(c.stateSize))
        let (k, g, v) = (Double(c.chunkSize), Double(c.groupCount), Double(c.vocabSize))
        let matmulWeights = Double(c.layerCount) * (d * Double(c.inProjectionSize) + e * d) + v * d
        let scan = 2 * k * g * n + 2 * k * e + 4 * e * n
        return 6 * matmulWeights + 3 * Double(c.layerCount) * scan
    }

    /// FLOPs of one training token of Mamba.
    public static func flopsPerToken(_ c: MambaConfig) -> Double {
        let (d, e, n, r) = (Double(c.hiddenSize), Double(c.intermediateSize), Double(c.stateSize), Double(c.timeStepRank))
        let perLayer = 2 * e * d + (r + 2 * n) * e + e * r + d * e
        let matmulWeights = Double(c.layerCount) * perLayer + Double(c.vocabSize) * d
        return 6 * matmulWeights + 18 * Double(c.layerCount) * e * n
    }
}
