// Evaluation.swift — validation loss and perplexity: of a run while it trains, and of a saved
// checkpoint or a run's newest checkpoint for `taipan eval`. For prompt/completion data the
// loss is the completion loss: only the targets the batches mark count; for the synthetic tasks,
// the answers' loss and accuracy (the share of answers the argmax predicts, as the Mamba paper
// measures).

import Foundation
import TaipanCheckpoint
import TaipanData
import TaipanNN
import TaipanTensor

/// A validation result.
public struct EvaluationResult: Sendable {
    /// The mean next-token cross-entropy (for prompt/completion data, of the completions).
    public var loss: Double
    public var perplexity: Double { Foundation.exp(loss) }
    /// The targets the loss averages over.
    public var tokens: Int
    /// The share of counted targets whose argmax is right (reported for synthetic tasks).
    public var accuracy: Double
    /// The model directory evaluated.
    public var model: String
}

public enum Evaluation {
    /// The mean next-token loss over the first `batches` batches of `batcher` (in order,
    /// whatever its position), recording no graph, and the targets it averages over: every
    /// target for text, the completions' (and end-of-text ids) for examples.
    static func validationLoss(model: any LanguageModel, batcher: any BatchSource, batches: Int) throws -> (loss: Double, targets: Int, accuracy: Double) {
        let (batchSize, length) = (batcher.rows.count, batcher.sequenceLength)
        let count = min(batches, batcher.batchesPerEpoch)
        model.setAdapterMode(training: false)
        var total = 0.0, targetCount = 0, correct = 0
        try withoutGradients { () throws -> Void in
            for index in 0..<count {
                let batch = batcher.batch(epoch: 0, index: index)
                let (inputs, targets) = TrainingStep.split(batch.tokens, counted: batch.counted, inputs: batch.inputs, batchSize: batchSize, length: length)
                let logits = try model.forward(ids: inputs, batch: batchSize, length: length).logits
                total += Double(try crossEntropy(logits: logits, targets: targets, ignoreIndex: TrainingStep.ignoredTarget, reduction: .sum).item)
                targetCount += targets.count { $0 != TrainingStep.ignoredTarget }
                correct += argmaxMatches(logits: logits, targets: targets)
            }
        }
        return (total / Double(max(targetCount, 1)), targetCount, Double(correct) / Double(max(targetCount, 1)))
    }

    /// How many counted targets (not `ignoredTarget`) are the argmax of their row of `logits`
    /// (targets, V); ties go to the lowest id.
    static func argmaxMatches(logits: Tensor, targets: [Int32]) -> Int {
        let vocabulary = logits.shape.last ?? 1
        var matches = 0
        for (row, target) in targets.enumerated() where target != TrainingStep.ignoredTarget {
            let values = logits.pointer + row * vocabulary
            var best = 0
            for v in 1..<vocabulary where values[v] > values[best] { best = v }
            if best == Int(target) { matches += 1 }
        }
        return matches
    }

    /// Evaluates `target`: a checkpoint directory (its `state.json` says which data), or a
    /// config file (the newest checkpoint of its run, else its `model.init_from`). All
    /// validation batches are used unless `batches` limits them.
    public static func run(target: String, overrides: [String] = [], batches: Int? = nil, print: @escaping (String) -> Void = { Swift.print($0) }) throws -> EvaluationResult {
        let (config, modelDirectory) = try resolve(target: target, overrides: overrides)
        Threads.set(config.training.threads > 0 ? config.training.threads : ProcessInfo.processInfo.activeProcessorCount)
        let cache = config.data.cacheDirectory.isEmpty ? (config.training.runDirectory as NSString).appendingPathComponent("data") : config.data.cacheDirectory
        let data = try TrainingData.load(config: config, cacheDirectory: cache, threads: Threads.count, log: print)
        guard !data.validation.isEmpty || config.syntheticTask != nil else {
            throw TrainError.config("data.validation: the run has no validation data (set data.validation or data.validation_fraction)")
        }
        // A LoRA checkpoint holds the adapter; its base is the run's model.init_from.
        let isAdapter = FileManager.default.fileExists(atPath: (modelDirectory as NSString).appendingPathComponent(adapterConfigFileName))
        let model = try loadLanguageModel(directory: isAdapter ? config.model.initFrom : modelDirectory)
        if isAdapter { try model.loadAdapter(directory: modelDirectory) }
        guard model.vocabularySize >= data.vocabularySize else {
            throw TrainError.config("backbone.embeddings.weight: the model's vocabulary (\(model.vocabularySize)) is smaller than the data's tokenizer (\(data.vocabularySize))")
        }
        (model as? MambaLM)?.scanCheckpointInterval = config.model.scanCheckpointInterval
        let batcher = try validationSource(config: config, data: data)
        let all = config.syntheticTask == nil ? batcher.batchesPerEpoch : config.evaluation.batches
        let result = try validationLoss(model: model, batcher: batcher, batches: batches ?? all)
        return EvaluationResult(loss: result.loss, tokens: result.targets, accuracy: result.accuracy, model: modelDirectory)
    }

    /// The configuration and model directory of `target`: a checkpoint directory (its
    /// `state.json` holds the configuration), a run directory (its newest complete checkpoint),
    /// or a config file (the newest checkpoint of its run, else its `model.init_from`).
    public static func resolve(target: String, overrides: [String] = []) throws -> (config: TrainConfig, modelDirectory: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) else {
            throw TrainError.run("\(target): no such config file, run directory or checkpoint directory")
        }
        let config: TrainConfig
        let modelDirectory: String
        if isDirectory.boolValue {
            let statePath = (target as NSString).appendingPathComponent(TrainState.fileName)
            let checkpoints = (target as NSString).appendingPathComponent("checkpoints")
            if !FileManager.default.fileExists(atPath: statePath), FileManager.default.fileExists(atPath: checkpoints) {
                // A run directory: its newest complete checkpoint.
                let store = CheckpointStore(root: checkpoints)
                guard let latest = store.latestStep else {
                    throw TrainError.run("\(target): a run directory without a complete checkpoint in \(checkpoints): nothing to evaluate")
                }
                return try resolve(target: store.path(step: latest), overrides: overrides)
            }
            let state = try TrainState.read(from: statePath)
            config = try TrainConfig.parse(toml: state.config, source: statePath, overrides: overrides)
            modelDirectory = target
        } else {
            config = try TrainConfig.load(path: target, overrides: overrides)
            let store = CheckpointStore(root: (config.training.runDirectory as NSString).appendingPathComponent("checkpoints"))
            if let latest = store.latestStep {
                modelDirectory = store.path(step: latest)
            } else if !config.model.initFrom.isEmpty {
                modelDirectory = config.model.initFrom
            } else {
                throw TrainError.run("\(target): its run \(config.training.runDirectory) has no checkpoint yet and model.init_from is empty: nothing to evaluate")
            }
        }
        return (config, modelDirectory)
    }

    /// The validation batches of a run: its validation shards in order, or a synthetic task's
    /// validation stream (never the training examples).
    static func validationSource(config: TrainConfig, data: TrainingData) throws -> any BatchSource {
        do {
            if let task = config.syntheticTask {
                return try SyntheticBatcher(
                    task: task, batchSize: config.training.batchSize, sequenceLength: config.data.sequenceLength,
                    seed: UInt64(config.training.seed), stream: .validation)
            }
            return try Batcher(shards: data.validation, batchSize: config.training.batchSize, sequenceLength: config.data.sequenceLength, seed: 0, shuffle: false)
        } catch {
            throw TrainError.config("\(config.syntheticTask == nil ? "data.validation" : "data.source"): \(error)")
        }
    }
}
