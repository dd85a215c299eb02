// Benchmarks.swift — what `taipan bench train|generate|scan` measure: the real training step on
// random tokens, recurrent decoding, and the selective scan alone. Speeds are medians, and MFU
// is measured against a large sgemm timed in the same run on the same machine.

import Foundation
import TaipanDistributed
import TaipanNN
import TaipanOptim
import TaipanTensor

/// Results of `taipan bench train`.
public struct TrainBenchmarkReport: Sendable {
    public var parameters: Int
    /// Parameters that train (all of them, or with LoRA the adapters and saved modules).
    public var trainableParameters: Int
    /// Bytes of AdamW's two moments, for the trainable parameters only.
    public var optimizerStateBytes: Int
    public var tokensPerStep: Int
    public var medianStepSeconds: Double
    /// The median seconds of a step spent summing gradients over the ranks (0 in a job of one).
    public var medianExchangeSeconds: Double
    /// The ranks of the job; `tokensPerStep` counts all of them.
    public var ranks: Int
    public var tokensPerSecond: Double { Double(tokensPerStep) / medianStepSeconds }
    public var flopsPerToken: Double
    public var achievedFlops: Double { tokensPerSecond * flopsPerToken }
    /// FLOP/s of a 1024³ sgemm measured in the same run (on one rank's threads).
    public var matmulPeak: Double
    /// MFU: the job's FLOP/s against `ranks` × `matmulPeak`.
    public var utilisation: Double { achievedFlops / (matmulPeak * Double(ranks)) }
    /// The process's peak resident memory, in bytes.
    public var peakResidentBytes: Int
}

/// Results of `taipan bench generate`.
public struct GenerateBenchmarkReport: Sendable {
    public var parameters: Int
    public var promptTokens: Int
    public var newTokens: Int
    /// Median seconds of the decode (after prefill) per run.
    public var medianDecodeSeconds: Double
    public var tokensPerSecond: Double { Double(newTokens) / medianDecodeSeconds }
    /// How the decoder stored its matrices, and the bytes of them one token reads.
    public var weights: DecodingWeights
    public var weightBytesPerToken: Int
    /// Weight bytes read per second: decoding at batch 1 is bound by this.
    public var weightBandwidth: Double { Double(weightBytesPerToken) * tokensPerSecond }
    public var peakResidentBytes: Int
}

/// One message size of `taipan bench allreduce`.
public struct AllreduceMeasurement: Sendable {
    public var bytes: Int
    public var medianSeconds: Double
    /// Message bytes per second.
    public var algorithmBandwidth: Double { Double(bytes) / medianSeconds }
    /// What each rank's link carries per second in a ring allreduce (2(R−1)/R of the message):
    /// comparable with the link's speed whatever the number of ranks.
    public func busBandwidth(ranks: Int) -> Double { algorithmBandwidth * 2 * Double(ranks - 1) / Double(ranks) }
}

/// Results of `taipan bench scan`.
public struct ScanBenchmarkReport: Sendable {
    public var medianForwardSeconds: Double
    public var medianBackwardSeconds: Double
    /// The most bytes the scan held at once (output, checkpoints, gradients, scratch).
    public var peakBytes: Int
    /// What the (B, L, E, N) states alone would take if they were stored.
    public var storedStateBytes: Int
}

/// The yardstick of a training run's MFU: the FLOP/s of sgemm on one rank's threads, times the
/// ranks (each rank is meant to have cores of its own).
///
/// One measurement takes a fraction of a second, and one taken while something else held the
/// cores comes out low: against it, training that later gets the cores back would show an MFU
/// above 100% (a niced run printed 176.9%). So when the achieved FLOP/s outrun the yardstick it
/// is measured again, keeping the larger value, at most `remeasurements` times in a run.
public struct MatmulYardstick {
    public private(set) var peak: Double
    public private(set) var remeasurementsLeft: Int
    let ranks: Int
    let measure: () -> Double

    public init(ranks: Int, remeasurements: Int = 5, measure: @escaping () -> Double = Benchmarks.matmulPeak) {
        self.ranks = max(1, ranks)
        self.measure = measure
        self.remeasurementsLeft = remeasurements
        self.peak = measure() * Double(self.ranks)
    }

    /// `achievedFlops` (FLOP/s of the whole job) as a fraction of the yardstick, measuring it
    /// again first when the fraction would exceed 1.
    public mutating func utilisation(achievedFlops: Double) -> Double {
        if achievedFlops > peak && remeasurementsLeft > 0 {
            remeasurementsLeft -= 1
            peak = max(peak, measure() * Double(ranks))
        }
        return achievedFlops / peak
    }
}

public enum Benchmarks {
    /// FLOP/s of a 1024³ sgemm on this machine now (median of 5): the yardstick of MFU.
    public static func matmulPeak() -> Double {
        let size = 1024
        var generator = SeededGenerator(seed: 1)
        let a = Tensor(uniform: [size, size], generator: &generator), b = Tensor(uniform: [size, size], generator: &generator)
        let c = Tensor(zeros: [size, size])
        let times = (0..<5).map { _ in
            time {
                sgemm(transposeA: false, transposeB: false, m: size, n: size, k: size, a: a.pointer, lda: size, b: b.pointer, ldb: size, c: c.pointer, ldc: size)
            }
        }
        return 2 * Double(size * size * size) / median(times)
    }

    /// Times the training step of `config`'s model and optimizer on random tokens: `warmup`
    /// steps, then `steps` timed ones; on every rank of `communicator`'s job, each taking its
    /// share of the batch, as `taipan train` does.
    public static func train(
        config: TrainConfig, steps: Int, warmup: Int, communicator: any Communicator = SingleProcess()
    ) throws -> TrainBenchmarkReport {
        let vocabulary = config.model.vocabularySize > 0 ? config.model.vocabularySize : 4096
        let architecture = try config.modelConfig(vocabularySize: vocabulary)
        var generator = SeededGenerator(seed: UInt64(config.training.seed))
        let model = architecture.makeModel(generator: &generator)
        (model as? MambaLM)?.scanCheckpointInterval = config.model.scanCheckpointInterval
        // With [lora], a fine-tune's shape: adapters train on a frozen model, which then holds
        // no gradients and no optimizer moments.
        var trainable = model.namedParameters
        if config.lora.isEnabled {
            model.attachAdapters(config.lora.settings, generator: &generator)
            let saved = Set(model.parameters(ofModules: config.lora.modulesToSave).map(\.name))
            for (name, parameter) in model.namedParameters { parameter.requiresGrad = saved.contains(name) }
            trainable = model.namedParameters.filter { saved.contains($0.name) } + model.adapterParameters
        }
        let o = config.optimizer
        let optimizer = AdamW(
            parameters: trainable,
            hyperparameters: .init(beta1: Float(o.beta1), beta2: Float(o.beta2), epsilon: Float(o.epsilon), weightDecay: Float(o.weightDecay)),
            noDecay: o.noDecay.map(NamePattern.init))
        try GradientExchange.broadcastFromRoot(model.parameters + model.adapterParameters.map(\.tensor), communicator: communicator)
        let batchSize = config.training.batchSize
        guard communicator.size <= batchSize else {
            throw TrainError.config("train.batch_size: \(batchSize) sequences cannot be shared by \(communicator.size) ranks")
        }
        let rows = (communicator.rank + 1) * batchSize / communicator.size - communicator.rank * batchSize / communicator.size
        let step = TrainingStep(
            model: model, optimizer: optimizer, trainable: trainable.map(\.tensor), batchSize: batchSize, rows: rows,
            length: config.data.sequenceLength, accumulation: config.training.gradientAccumulation, gradientClip: o.gradientClip,
            communicator: communicator)
        let windowTokens = rows * (step.length + 1)
        func randomBatch() -> [Int32] { (0..<windowTokens).map { _ in Int32(generator.next() % UInt64(architecture.vocabSize)) } }
        var times: [Double] = [], exchangeTimes: [Double] = []
        for index in 0..<(warmup + steps) {
            let batches = (0..<step.accumulation).map { _ in randomBatch() }
            var next = 0
            try communicator.barrier()
            let elapsed = try time { () throws -> Void in
                let loss = try step.accumulateGradients { defer { next += 1 }; return batches[next] }
                _ = step.update(loss: loss, learningRate: o.learningRate)
            }
            let exchange = step.takeExchangeSeconds()
            if index >= warmup {
                times.append(elapsed)
                exchangeTimes.append(exchange)
            }
        }
        return TrainBenchmarkReport(
            parameters: model.parameterCount, trainableParameters: trainable.map(\.tensor.count).reduce(0, +),
            optimizerStateBytes: optimizer.slots.map { 2 * $0.parameter.count * MemoryLayout<Float>.stride }.reduce(0, +),
            tokensPerStep: step.targetsPerStep, medianStepSeconds: median(times),
            medianExchangeSeconds: median(exchangeTimes), ranks: communicator.size,
            flopsPerToken: TrainingStep.flopsPerToken(architecture), matmulPeak: matmulPeak(), peakResidentBytes: peakResidentBytes())
    }

    /// Times greedy recurrent decoding of `newTokens` tokens after a `promptTokens` prompt
    /// (batch 1), `runs` times, with the decoder's matrices stored as `weights`: of `given`
    /// (a loaded model) when there is one, else of a model of `config`'s architecture
    /// initialised from its `train.seed`. The prompt is drawn from that seed too.
    public static func generate(
        config: TrainConfig, model given: (any LanguageModel)? = nil, promptTokens: Int, newTokens: Int, runs: Int,
        weights: DecodingWeights = .float32
    ) throws -> GenerateBenchmarkReport {
        var generator = SeededGenerator(seed: UInt64(config.training.seed))
        let model: any LanguageModel
        if let given {
            model = given
        } else {
            let vocabulary = config.model.vocabularySize > 0 ? config.model.vocabularySize : 4096
            model = try config.modelConfig(vocabularySize: vocabulary).makeModel(generator: &generator)
        }
        let prompt = (0..<promptTokens).map { _ in Int32(generator.next() % UInt64(model.vocabularySize)) }
        let decoder = model.makeDecoder(weights: weights)
        var times: [Double] = []
        for _ in 0..<runs {
            var logits = try decoder.prefill(prompt)
            times.append(try time { () throws -> Void in
                for _ in 0..<newTokens {
                    let next = MambaLM.choose(from: logits, options: SamplingOptions(), generator: &generator)
                    logits = try decoder.step(next)
                }
            })
        }
        return GenerateBenchmarkReport(
            parameters: model.parameterCount, promptTokens: promptTokens, newTokens: newTokens,
            medianDecodeSeconds: median(times), weights: weights, weightBytesPerToken: decoder.weightBytesPerToken,
            peakResidentBytes: peakResidentBytes())
    }

    /// Times the selective scan alone, forward and backward, on the shapes of one layer of
    /// `config` (batch × sequence × inner channels × state), and measures its memory.
    public static func scan(config: TrainConfig, runs: Int) -> ScanBenchmarkReport {
        let (batch, length) = (config.training.batchSize, config.data.sequenceLength)
        let channels = config.model.expand * config.model.hiddenSize, state = config.model.stateSize
        var generator = SeededGenerator(seed: 3)
        let x = Tensor(uniform: [batch, length, 2 * channels], low: -1, high: 1, generator: &generator, requiresGrad: true)
        let delta = Tensor(uniform: [batch, length, channels], low: -3, high: 0, generator: &generator, requiresGrad: true)
        let bc = Tensor(uniform: [batch, length, 2 * state], low: -1, high: 1, generator: &generator, requiresGrad: true)
        let a = Tensor(uniform: [channels, state], low: -16, high: -1, generator: &generator, requiresGrad: true)
        let d = Tensor(ones: [channels], requiresGrad: true), bias = Tensor(zeros: [channels], requiresGrad: true)
        let seed = Tensor(ones: [batch, length, channels])
        var forward: [Double] = [], backward: [Double] = [], peak = 0
        for _ in 0..<runs {
            let (_, bytes) = AllocationCounter.shared.measurePeak {
                var y: Tensor?
                forward.append(time {
                    y = selectiveScan(
                        u: ColumnSlice(x, start: 0, width: channels), delta: ColumnSlice(delta), a: a,
                        b: ColumnSlice(bc, start: 0, width: state), c: ColumnSlice(bc, start: state, width: state), d: d,
                        z: ColumnSlice(x, start: channels, width: channels), deltaBias: bias, checkpointInterval: config.model.scanCheckpointInterval)
                })
                backward.append(time { y?.backward(gradient: seed) })
                for tensor in [x, delta, bc, a, d, bias] { tensor.zeroGrad() }
            }
            peak = Swift.max(peak, bytes)
        }
        return ScanBenchmarkReport(
            medianForwardSeconds: median(forward), medianBackwardSeconds: median(backward), peakBytes: peak,
            storedStateBytes: batch * length * channels * state * MemoryLayout<Float>.stride)
    }

    /// Times the float sum allreduce of `communicator`'s job for each of `sizes` (bytes),
    /// `repeats` times each after one untimed call, and checks every result exactly (small
    /// integers, so the sums are exact in float32). Every rank must call it.
    public static func allreduce(
        sizes: [Int], repeats: Int, communicator: any Communicator
    ) throws -> [AllreduceMeasurement] {
        var measurements: [AllreduceMeasurement] = []
        for bytes in sizes {
            let count = max(1, bytes / MemoryLayout<Float>.stride)
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { buffer.deallocate() }
            let ranks = Float(communicator.size), rankValue = Float(communicator.rank + 1)
            // Rank r holds (r + 1)·(i mod 7): the sum is (i mod 7)·R(R+1)/2.
            func fill() { for index in 0..<count { buffer[index] = rankValue * Float(index % 7) } }
            var times: [Double] = []
            for attempt in 0...repeats {
                fill()
                try communicator.barrier()
                let elapsed = try time { () throws -> Void in try communicator.allreduceSum(buffer, count: count) }
                if attempt > 0 { times.append(elapsed) }
                let factor = ranks * (ranks + 1) / 2
                for index in 0..<count where buffer[index] != Float(index % 7) * factor {
                    throw DistributedError("allreduce of \(count) floats: element \(index) is \(buffer[index]), expected \(Float(index % 7) * factor)")
                }
            }
            // Every rank reports the slowest rank's median: the collective ends when it does.
            let slowest = try communicator.allgather(median(times).bitPattern).map { Double(bitPattern: $0) }.max() ?? .nan
            measurements.append(AllreduceMeasurement(bytes: count * MemoryLayout<Float>.stride, medianSeconds: slowest))
        }
        return measurements
    }

    /// The process's peak resident set size, in bytes.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// Wall-clock seconds that `body` takes.
    public static func time<Failure: Error>(_ body: () throws(Failure) -> Void) throws(Failure) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The median of `values` (the mean of the middle two for an even count).
    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
