// Trainer.swift — the training loop. It reads top to bottom, as nanoGPT's does:
// schedule → micro-batches → backward → clip → step → log → evaluate → checkpoint.
// Everything a resumed run needs (weights, moments, data position, random state, step) is in
// each checkpoint, and every kernel is deterministic for a fixed thread count, so N steps,
// a stop, and N more give bit-identical results to 2N steps straight.
//
// Under `mpirun` the same loop runs on every rank (data parallelism): rank 0's initial
// weights are broadcast, each rank computes its rows of every global batch, the gradients
// are summed, and every rank takes the same update. Rank 0 alone prepares data, logs,
// evaluates and writes checkpoints; every rank reads a checkpoint to resume. The data
// position counts global batches, so a run can resume on another number of ranks.
//
// Dimension letters: B batch size, L sequence length, V vocabulary, A gradient accumulation.

import Foundation
import TaipanCheckpoint
import TaipanData
import TaipanDistributed
import TaipanNN
import TaipanOptim
import TaipanTensor

/// How `taipan train` treats a run directory that already holds checkpoints.
public enum StartMode: Equatable, Sendable {
    /// Refuse to touch a run directory that has checkpoints.
    case fresh
    /// Continue from the newest complete checkpoint that verifies (newer damaged ones are
    /// reported and replaced when the run reaches their step again).
    case resume
    /// Continue from this checkpoint directory (which must verify).
    case resumeFrom(String)
    /// Delete the run's checkpoints and logs and start over.
    case force
}

/// What a finished run reports.
public struct TrainSummary: Sendable {
    public var steps: Int
    public var tokensSeen: Int
    public var firstLoss: Double?
    public var lastLoss: Double?
    public var validationLoss: Double?
    public var tokensPerSecond: Double
    /// True when a signal (or `run(pausingAt:)`) stopped the run before its last step.
    public var stoppedEarly: Bool
    /// The newest complete checkpoint.
    public var checkpoint: String?
    /// The training losses of every step, in order (NaN for skipped steps).
    public var losses: [Double]
    /// For a synthetic task, the share of validation answers predicted at the last evaluation.
    public var validationAccuracy: Double?
}

/// One training run, set up from a configuration and ready to `run()`.
public final class Trainer {
    public let config: TrainConfig
    public let model: any LanguageModel
    let optimizer: AdamW
    /// The work of one step: micro-batches, clipping, the update.
    let step: TrainingStep
    let schedule: LearningRateSchedule
    let batcher: any BatchSource
    let validation: (any BatchSource)?
    let data: TrainingData
    let store: CheckpointStore
    let log: TrainingLog
    /// Parameters that train (not frozen), in the model's order.
    let trainable: [Tensor]
    var state: TrainState
    var generator: SeededGenerator
    /// The answers' accuracy at the last evaluation of a synthetic task.
    var lastAccuracy: Double?
    /// Updates the run takes in all.
    public let totalSteps: Int
    /// The ranks of a data-parallel job (a job of one without `mpirun`).
    let communicator: any Communicator
    /// The adapters' settings in a LoRA run.
    let lora: LoRASettings?
    /// The step of the last checkpoint written or resumed from, and its directory.
    var savedStep: Int?
    var lastCheckpoint: String?
    /// When the last checkpoint was written (or the run started), for `checkpoint.interval_minutes`.
    var lastSaveTime: UInt64 = 0
    /// Held while a step's update is recorded and while a checkpoint is written.
    let commitLock = NSLock()
    /// False once the loop has ended: a late signal is then left to the loop's own check.
    var acceptsPromptStop = true
    /// Rank 0's hold on the run directory.
    let runLock: RunDirectoryLock?

    /// Sets up a run from `config` on this rank of `communicator`'s job. `print` receives the
    /// progress lines (rank 0's only).
    public init(
        config: TrainConfig, start: StartMode, communicator: any Communicator = SingleProcess(),
        print rootPrint: @escaping (String) -> Void = { Swift.print($0) }
    ) throws {
        try config.validate()
        self.config = config
        self.communicator = communicator
        let isRoot = communicator.isRoot
        let print: (String) -> Void = isRoot ? rootPrint : { _ in }
        let runDirectory = config.training.runDirectory
        let store = CheckpointStore(root: (runDirectory as NSString).appendingPathComponent("checkpoints"))
        self.store = store
        // One process at a time writes a run directory (two would interleave their checkpoints).
        runLock = isRoot ? try RunDirectoryLock(directory: runDirectory) : nil
        // Rank 0 alone may delete a run (--force) or choose the checkpoint to resume; the
        // others follow its choice.
        let loraSettings = config.lora.isEnabled ? config.lora.settings : nil
        let chosen = isRoot ? try Self.prepareRunDirectory(runDirectory, store: store, start: start, lora: loraSettings, print: print) : nil
        try communicator.barrier()
        var resumeFrom = chosen?.directory
        if start == .resume && communicator.size > 1 {
            let step = try communicator.broadcast(chosen.flatMap { store.step(ofPath: $0.directory) } ?? -1, root: 0)
            if !isRoot { resumeFrom = step >= 0 ? store.path(step: step) : nil }
        } else if case .resumeFrom(let directory) = start {
            resumeFrom = directory
        }
        Threads.set(config.training.threads > 0 ? config.training.threads : Self.defaultThreads(ranksOnThisHost: communicator.localSize))

        // Rank 0 prepares raw text once; the others then find the prepared shards.
        let cache = config.data.cacheDirectory.isEmpty ? (runDirectory as NSString).appendingPathComponent("data") : config.data.cacheDirectory
        let resuming = resumeFrom != nil, runOwned = config.data.cacheDirectory.isEmpty
        let prepared = isRoot
            ? try TrainingData.load(config: config, cacheDirectory: cache, threads: Threads.count, resuming: resuming, runOwned: runOwned, log: print)
            : nil
        try communicator.barrier()
        data = try prepared ?? TrainingData.load(config: config, cacheDirectory: cache, threads: Threads.count, resuming: resuming, log: print)

        generator = SeededGenerator(seed: UInt64(config.training.seed))
        // A LoRA run builds on the base model alone: its checkpoints hold the adapter.
        model = try Self.buildModel(
            config: config, data: data, resumeFrom: config.lora.isEnabled ? nil : resumeFrom, generator: &generator)
        (model as? MambaLM)?.scanCheckpointInterval = config.model.scanCheckpointInterval
        let lora = loraSettings
        if lora != nil && config.model.initFrom.isEmpty {
            throw TrainError.config("lora.rank: LoRA adapts a trained model; set model.init_from to its checkpoint or model directory")
        }
        if let lora { try Self.attachAdapters(lora, to: model, generator: &generator, print: print) }
        try GradientExchange.broadcastFromRoot(model.parameters + model.adapterParameters.map(\.tensor), communicator: communicator)
        let frozen = config.training.frozen.map(NamePattern.init)
        var trainableNamed: [(name: String, tensor: Tensor)] = []
        // With LoRA only the adapters and the modules saved in full train: the base gets no
        // gradient buffers and no optimizer moments.
        let built = model
        let savedInFull = Set(lora.map { built.parameters(ofModules: $0.modulesToSave).map(\.name) } ?? [])
        for (name, parameter) in model.namedParameters {
            parameter.requiresGrad = (lora == nil || savedInFull.contains(name)) && !frozen.anyMatches(name)
            if parameter.requiresGrad { trainableNamed.append((name, parameter)) }
        }
        trainableNamed += model.adapterParameters
        self.lora = lora
        guard !trainableNamed.isEmpty else { throw TrainError.config("train.frozen: every parameter is frozen; nothing would train") }
        trainable = trainableNamed.map(\.tensor)
        let o = config.optimizer
        optimizer = AdamW(
            parameters: trainableNamed,
            hyperparameters: .init(beta1: Float(o.beta1), beta2: Float(o.beta2), epsilon: Float(o.epsilon), weightDecay: Float(o.weightDecay)),
            noDecay: o.noDecay.map(NamePattern.init))

        let (batchSize, length) = (config.training.batchSize, config.data.sequenceLength)
        let files: Batcher?
        do {
            if let task = config.syntheticTask {
                files = nil
                batcher = try SyntheticBatcher(
                    task: task, batchSize: batchSize, sequenceLength: length, seed: UInt64(config.training.seed),
                    rank: communicator.rank, worldSize: communicator.size)
            } else {
                files = try Batcher(
                    shards: data.train, batchSize: batchSize, sequenceLength: length, seed: UInt64(config.training.seed),
                    rank: communicator.rank, worldSize: communicator.size)
                batcher = files!
            }
        } catch {
            throw TrainError.config("\(config.syntheticTask == nil ? "data.train" : "data.source"): \(error) — lower train.batch_size or data.sequence_length, or add data")
        }
        step = TrainingStep(
            model: model, optimizer: optimizer, trainable: trainable, batchSize: batchSize, rows: batcher.rows.count,
            length: length, accumulation: config.training.gradientAccumulation, gradientClip: config.optimizer.gradientClip,
            communicator: communicator)
        if (data.validation.isEmpty && config.syntheticTask == nil) || !isRoot {
            validation = nil
        } else {
            do {
                validation = try Evaluation.validationSource(config: config, data: data)
            } catch {
                print("note: no evaluation: the validation data is too small for one batch (\(error))")
                validation = nil
            }
        }
        let tokensPerStep = batchSize * length * config.training.gradientAccumulation
        var steps = config.training.maxSteps
        if config.training.maxTokens > 0 { steps = min(steps, (config.training.maxTokens + tokensPerStep - 1) / tokensPerStep) }
        totalSteps = steps
        let s = config.schedule
        schedule = LearningRateSchedule(
            kind: LearningRateSchedule.Kind(rawValue: s.kind.rawValue) ?? .cosine, peak: o.learningRate, floor: s.minimumLearningRate, warmupSteps: s.warmupSteps,
            totalSteps: steps, decayFraction: s.decayFraction)

        state = TrainState(
            step: 0, tokensSeen: 0, badStepsInARow: 0, randomState: generator.state, dataPosition: batcher.position,
            learningRate: 0, threads: Threads.count, ranks: communicator.size, config: config.resolvedTOML(),
            dataDigest: data.contentSHA256, checksums: [:])
        if let resumeFrom {
            state = try TrainCheckpoint.restore(directory: resumeFrom, model: model, lora: lora, optimizer: optimizer, verified: chosen?.state)
            try Self.checkResumable(saved: state, current: config, directory: resumeFrom, data: data)
            try batcher.restore(state.dataPosition)
            generator = try SeededGenerator(state: state.randomState)
            if state.threads != Threads.count || (state.ranks ?? 1) != communicator.size {
                print("warning: the checkpoint was written by \(state.ranks ?? 1) rank(s) of \(state.threads) thread(s) and this run uses \(communicator.size) of \(Threads.count): it continues from the same global batch, but results will not be bit-identical to an uninterrupted run")
            }
            state.threads = Threads.count
            state.ranks = communicator.size
            state.config = config.resolvedTOML()
            state.dataDigest = data.contentSHA256
        }
        log = isRoot
            ? try TrainingLog(runDirectory: runDirectory, config: config, resumedAt: resumeFrom == nil ? nil : state.step, print: print)
            : TrainingLog.silent()
        log.message("model: \(model.parameterCount.formatted()) parameters (\(trainable.count) of \(model.namedParameters.count) tensors train), \(model.configuration.architecture), vocabulary \(model.vocabularySize), \(model.layerCount) layers, hidden \(model.embeddings.weight.shape[1])")
        if let lora {
            let adapted = model.adapterParameters.map(\.tensor.count).reduce(0, +)
            let full = trainable.map(\.count).reduce(0, +) - adapted
            log.message("LoRA: rank \(lora.rank), alpha \(lora.alpha), \(model.adapters.count) adapters (\(adapted.formatted()) parameters) on \(lora.targetModules.joined(separator: ", "))" + (full > 0 ? ", \(full.formatted()) parameters of \(lora.modulesToSave.joined(separator: ", ")) in full" : "") + "; the base model is frozen")
        }
        if let task = config.syntheticTask {
            log.message("data: \(task.kind.rawValue) generated on the fly, vocabulary \(task.vocabularySize), \(task.mixedQueries && task.kind == .inductionHeads ? "1 to \(task.queries)" : "\(task.answersPerRow)") answers in each row of \(length + 1) ids; \(steps) steps; the loss and the accuracy count answers only")
        } else if let files, files.examples {
            log.message("data: \(files.windowCount.formatted()) prompt/completion examples, one a row of \(length + 1) ids (padded), \(files.batchesPerEpoch) batches per epoch; \(steps) steps; the loss counts completions only")
            if files.truncatedExamples > 0 {
                log.message("note: \(files.truncatedExamples) of \(files.windowCount) training examples are longer than \(length + 1) ids and are cut; raise data.sequence_length to keep them whole")
            }
        } else {
            log.message("data: \(data.train.reduce(0) { $0 + $1.tokenCount }.formatted()) training tokens, \(batcher.batchesPerEpoch) batches per epoch; \(tokensPerStep) tokens per step; \(steps) steps")
        }
        if communicator.size > 1 {
            log.message("data parallel: \(communicator.size) ranks (\(communicator.localSize) on this host), \(Threads.count) thread(s) each; rank 0 takes \(batcher.rows.count) of every \(batchSize) sequences")
        }
        if let resumeFrom {
            log.message("resumed from \(resumeFrom) at step \(state.step)")
            savedStep = state.step
            lastCheckpoint = resumeFrom
        }
    }

    /// Threads per rank when `train.threads` is 0: the host's cores shared by its ranks.
    public static func defaultThreads(ranksOnThisHost: Int) -> Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, ranksOnThisHost))
    }

    /// Runs until the last step, a stop signal, or (when given) step `pause`, where it saves a
    /// checkpoint and returns as a signal would; returns what happened.
    ///
    /// With `stopPromptly` (the command line, one process), a signal does not wait for the
    /// step in progress: the checkpoint of the last finished step is written at once, beside
    /// the computation, and then `exitAfterPromptStop` runs (which ends the process), so the
    /// time from the signal to a complete checkpoint is the time of the write, whatever a step
    /// takes. With several ranks the ranks finish their step together first.
    @discardableResult
    public func run(
        pausingAt pause: Int? = nil, stopPromptly: Bool = false, exitAfterPromptStop: @escaping @Sendable (String) -> Never = { message in print(message); endAfterPromptStop() }
    ) throws -> TrainSummary {
        let prompt = stopPromptly && communicator.size == 1
        var onSignal: (@Sendable () -> Void)?
        if prompt {
            // The signal's thread and this one share the trainer through `commitLock`.
            nonisolated(unsafe) let trainer = self
            onSignal = { trainer.saveOnSignal(then: exitAfterPromptStop) }
        }
        let stop = StopSignal(ranks: communicator.size, announces: communicator.isRoot && !prompt, onFirstSignal: onSignal)
        let targetsPerStep = config.training.batchSize * config.data.sequenceLength * config.training.gradientAccumulation
        let flopsPerToken = TrainingStep.flopsPerToken(model.configuration)
        // Only the root logs, so only the root measures.
        var yardstick = communicator.isRoot ? MatmulYardstick(ranks: communicator.size) : MatmulYardstick(ranks: 1, remeasurements: 0) { 1 }
        log.message(String(
            format: "matmul peak this run: %.1f GFLOP/s%@; model: %.1f MFLOP per token (forward + backward)",
            yardstick.peak / 1e9, communicator.size > 1 ? " (\(communicator.size) ranks × sgemm)" : "", flopsPerToken / 1e6))
        var losses: [Double] = []
        var stepSeconds: [Double] = []
        var lastValidation: Double?
        lastSaveTime = DispatchTime.now().uptimeNanoseconds
        commitLock.withLock { acceptsPromptStop = true }

        // Every rank decides to stop at the same step: a signal's arrival is shared with the
        // step's losses.
        var stopAgreed = false
        func stopping() -> Bool { stopAgreed || (pause.map { state.step >= $0 } ?? false) }
        while state.step < totalSteps && !stopping() {
            let started = DispatchTime.now().uptimeNanoseconds
            // Schedule.
            let learningRate = schedule.rate(at: state.step)
            // Micro-batches → backward (→ gradients summed over the ranks).
            stopAgreed = stop.isRequested
            let loss = try step.accumulateGradients(stop: &stopAgreed, batches: { let batch = batcher.next(); return (batch.tokens, batch.counted, batch.inputs) })
            // From the update until the step is recorded, a prompt stop waits: it saves the
            // state of a finished step, never half of one.
            commitLock.lock()
            defer { commitLock.unlock() }
            // Clip, then step — unless the loss or the gradient is not finite.
            let (norm, updated) = step.update(loss: loss, learningRate: learningRate)
            if updated {
                state.badStepsInARow = 0
            } else {
                state.badStepsInARow += 1
                log.message("step \(state.step + 1): loss \(loss), gradient norm \(norm): update skipped (\(state.badStepsInARow) in a row)")
                if state.badStepsInARow >= config.training.maxBadSteps {
                    throw TrainError.diverged(
                        "stopped after \(state.badStepsInARow) steps in a row with a non-finite loss or gradient; the last good checkpoint is \(lastCheckpoint ?? "none") — lower optimizer.learning_rate or raise optimizer.gradient_clip's strictness")
                }
            }
            state.step += 1
            state.tokensSeen += targetsPerStep
            state.learningRate = learningRate
            state.dataPosition = batcher.position
            losses.append(loss.isFinite ? loss : .nan)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            stepSeconds.append(seconds)

            // Log (and check that the ranks still hold the same weights).
            if state.step % config.logging.interval == 0 || state.step == totalSteps || state.step == 1 {
                try GradientExchange.checkAgreement(trainable, communicator: communicator, step: state.step)
                let recent = stepSeconds.suffix(config.logging.interval).sorted()
                let median = recent[recent.count / 2]
                let tokensPerSecond = Double(targetsPerStep) / median
                let peakBefore = yardstick.peak
                let utilisation = yardstick.utilisation(achievedFlops: tokensPerSecond * flopsPerToken)
                if yardstick.peak > peakBefore {
                    log.message(String(
                        format: "matmul peak measured again (training outran it): %.1f GFLOP/s", yardstick.peak / 1e9))
                }
                log.trainStep(
                    step: state.step, totalSteps: totalSteps, loss: loss, learningRate: learningRate, gradientNorm: norm,
                    tokensPerSecond: tokensPerSecond, utilisation: utilisation,
                    secondsLeft: median * Double(totalSteps - state.step), tokensSeen: state.tokensSeen)
            }
            // Evaluate.
            if config.evaluation.interval > 0 && state.step % config.evaluation.interval == 0 && state.step < totalSteps {
                lastValidation = try evaluate()
            }
            // Checkpoint: every `checkpoint.interval` steps, and `checkpoint.interval_minutes`
            // after the last one.
            let minutes = Double(DispatchTime.now().uptimeNanoseconds - lastSaveTime) / 60e9
            let due = (config.checkpoint.interval > 0 && state.step % config.checkpoint.interval == 0)
                || (config.checkpoint.intervalMinutes > 0 && minutes >= config.checkpoint.intervalMinutes)
            if due && state.step < totalSteps { try saveCheckpoint() }
        }
        commitLock.lock()
        defer { commitLock.unlock() }
        acceptsPromptStop = false
        let finished = state.step == totalSteps && !stopping()
        if finished { lastValidation = try evaluate() ?? lastValidation }
        if savedStep != state.step { try saveCheckpoint() }
        if finished { try writeSample() }
        // Rank 0's final checkpoint is complete before any rank reports the run done.
        try communicator.barrier()
        let medianStep = stepSeconds.sorted().dropFirst(stepSeconds.count / 2).first ?? 0
        return TrainSummary(
            steps: state.step, tokensSeen: state.tokensSeen, firstLoss: losses.first, lastLoss: losses.last,
            validationLoss: lastValidation, tokensPerSecond: medianStep > 0 ? Double(targetsPerStep) / medianStep : 0,
            stoppedEarly: !finished, checkpoint: lastCheckpoint, losses: losses, validationAccuracy: lastAccuracy)
    }

    /// A prompt stop (on the signal's thread): saves the last finished step unless it is saved,
    /// reports how long that took, and hands over to `exit`. After the loop has ended it
    /// leaves the signal to the loop's own check.
    private func saveOnSignal(then exit: (String) -> Never) {
        let signalled = DispatchTime.now().uptimeNanoseconds
        commitLock.lock()
        guard acceptsPromptStop else { commitLock.unlock(); return }
        log.message("stop requested: saving the checkpoint of step \(state.step) now; the step in progress is dropped (signal again to quit at once)")
        do {
            if savedStep != state.step { try saveCheckpoint() }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - signalled) / 1e9
            exit("stopped by a signal at step \(state.step): checkpoint \(lastCheckpoint ?? "none") complete " + String(format: "%.2f", seconds) + " s after the signal; to continue, run the same command with --resume")
        } catch {
            exit("stopped by a signal, but the checkpoint could not be written: \(error); the last complete checkpoint is \(lastCheckpoint ?? "none")")
        }
    }

    /// Mean validation loss over the first `eval.batches` validation batches (nil without
    /// validation data); logged with its perplexity.
    @discardableResult
    func evaluate() throws -> Double? {
        guard let validation else { return nil }
        let result = try Evaluation.validationLoss(model: model, batcher: validation, batches: config.evaluation.batches)
        if config.syntheticTask != nil { lastAccuracy = result.accuracy }
        log.evaluation(step: state.step, loss: result.loss, accuracy: config.syntheticTask == nil ? nil : result.accuracy)
        return result.loss
    }

    /// Saves the current state as a checkpoint and prunes old ones (rank 0; the others only
    /// name it); records it as the last checkpoint and returns its path. Checkpoints of later
    /// steps (damaged ones a resume passed over) are neither counted nor pruned: this run
    /// replaces them when it reaches their steps.
    @discardableResult
    func saveCheckpoint() throws -> String {
        defer {
            savedStep = state.step
            lastSaveTime = DispatchTime.now().uptimeNanoseconds
        }
        guard communicator.isRoot else {
            lastCheckpoint = store.path(step: state.step)
            return store.path(step: state.step)
        }
        state.randomState = generator.state
        let started = DispatchTime.now().uptimeNanoseconds
        let path = try TrainCheckpoint.save(
            store: store, model: model, lora: lora, baseModel: config.model.initFrom, optimizer: optimizer, state: state,
            tokenizerJSON: data.tokenizerJSON)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        store.prune(keepLast: config.checkpoint.keepLast, keepEvery: config.checkpoint.keepEvery, through: state.step)
        log.message("checkpoint: \(path) (written, synced and hashed in " + String(format: "%.2f", seconds) + " s)")
        lastCheckpoint = path
        return path
    }

    /// Prints a text sample from the model (when a tokenizer is available).
    func writeSample() throws {
        guard communicator.isRoot, let tokenizer = data.tokenizer, config.evaluation.sampleTokens > 0 else { return }
        let prompt = config.evaluation.samplePrompt.isEmpty ? [data.endOfText] : tokenizer.encode(config.evaluation.samplePrompt)
        guard !prompt.isEmpty, prompt.allSatisfy({ Int($0) < model.vocabularySize }) else { return }
        let options = SamplingOptions(
            temperature: Float(config.evaluation.sampleTemperature), topK: config.evaluation.sampleTopK,
            stopTokens: [data.endOfText], maxNewTokens: config.evaluation.sampleTokens)
        // Decoding reads the layers' weights directly: a LoRA model decodes merged.
        let decoding = model.adapters.isEmpty ? model : model.mergedCopy()
        let generated = try decoding.generate(prompt: prompt, options: options, generator: &generator)
        let text = (try? tokenizer.decode(generated.filter { $0 != data.endOfText })) ?? ""
        log.sample(step: state.step, prompt: config.evaluation.samplePrompt, text: text)
    }

    /// Builds the model: from the resumed checkpoint, from `model.init_from`, from
    /// `model.config`, or fresh from the `[model]` section.
    static func buildModel(config: TrainConfig, data: TrainingData, resumeFrom: String?, generator: inout SeededGenerator) throws -> any LanguageModel {
        let model: any LanguageModel
        if let resumeFrom {
            model = try loadLanguageModel(directory: resumeFrom)
        } else if !config.model.initFrom.isEmpty {
            model = try loadLanguageModel(directory: config.model.initFrom)
        } else if !config.model.configFile.isEmpty {
            model = try LanguageModelConfig.read(contentsOf: config.model.configFile).makeModel(generator: &generator)
        } else {
            let architecture = try config.modelConfig(vocabularySize: data.vocabularySize)
            model = architecture.makeModel(generator: &generator)
        }
        guard model.vocabularySize >= data.vocabularySize else {
            throw TrainError.config(
                "backbone.embeddings.weight: the model's vocabulary (\(model.vocabularySize)) is smaller than the tokenizer's (\(data.vocabularySize)); use a model made for this tokenizer")
        }
        return model
    }

    /// Gives `model` the adapters `lora` asks for; warns about targets PEFT will not load.
    static func attachAdapters(_ lora: LoRASettings, to model: any LanguageModel, generator: inout SeededGenerator, print: (String) -> Void) throws {
        let modules = model.moduleNames
        for pattern in lora.targetModules + lora.modulesToSave where !modules.contains(where: { LoRASettings.matches($0, [pattern]) }) {
            let key = lora.targetModules.contains(pattern) ? "lora.target_modules" : "lora.modules_to_save"
            throw TrainError.config("\(key): \(ConfigValue.quoted(pattern)) names no module of this model (e.g. in_proj, x_proj, dt_proj, out_proj, norm_f)")
        }
        let attached = model.attachAdapters(lora, generator: &generator)
        if attached.contains(where: { $0.hasSuffix(".dt_proj") }) {
            print("warning: lora.target_modules includes dt_proj: Taipan trains and merges it, but transformers 5.24's Mamba multiplies by dt_proj.weight directly, so a PEFT model built on transformers loads this adapter and then computes without its dt_proj part (a model written by taipan model merge is exact)")
        }
        if attached.contains(where: { $0.hasSuffix(".out_proj") }) {
            print("warning: lora.target_modules includes out_proj: Taipan trains and merges it, but PEFT 0.21 refuses LoRA on out_proj for Mamba models, so peft.PeftModel will not load this adapter (taipan model merge still exports it)")
        }
    }

    /// Checks the run directory against the start mode; returns the checkpoint to resume from
    /// and its verified state. `--resume` takes the newest checkpoint that verifies, warning
    /// (through `print`) about each newer one that does not.
    static func prepareRunDirectory(
        _ directory: String, store: CheckpointStore, start: StartMode, lora: LoRASettings?, print: (String) -> Void
    ) throws -> (directory: String, state: TrainState)? {
        switch start {
        case .fresh:
            if let latest = store.latestStep {
                throw TrainError.run(
                    "\(directory) already holds checkpoints (newest: step \(latest)); pass --resume to continue that run or --force to delete it and start over")
            }
            return nil
        case .resume:
            let steps = store.completeSteps()
            guard !steps.isEmpty else {
                throw TrainError.run("--resume: \(directory) holds no complete checkpoint to resume from; run without --resume to start")
            }
            var damaged: [(step: Int, reason: String)] = []
            for step in steps.reversed() {
                let path = store.path(step: step)
                do {
                    let state = try TrainCheckpoint.verify(directory: path, lora: lora)
                    guard state.step == step else { throw TrainError.run("\(path)/state.json: says step \(state.step)") }
                    for bad in damaged {
                        print("warning: the checkpoint of step \(bad.step) is damaged (\(bad.reason)); resuming from step \(step), the newest checkpoint that verifies. This run writes step \(bad.step)'s checkpoint again when it gets there.")
                    }
                    return (path, state)
                } catch {
                    damaged.append((step, "\(error)"))
                }
            }
            throw TrainError.run(
                "--resume: no checkpoint in \(store.root) verifies:\n" + damaged.map { "  step \($0.step): \($0.reason)" }.joined(separator: "\n")
                    + "\nRestore one from a backup and pass it with --resume-from, or start over with --force")
        case .resumeFrom(let checkpoint):
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: checkpoint, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw TrainError.run("--resume-from: \(checkpoint) is not a directory")
            }
            guard FileManager.default.fileExists(atPath: (checkpoint as NSString).appendingPathComponent(CheckpointStore.completeMarker)) else {
                throw TrainError.run("--resume-from: \(checkpoint) is not a complete checkpoint (it has no \(CheckpointStore.completeMarker) marker)")
            }
            let state: TrainState
            do { state = try TrainCheckpoint.verify(directory: checkpoint, lora: lora) } catch {
                throw TrainError.run("--resume-from: \(error)")
            }
            // Later checkpoints of this run belong to the run that went on from here before;
            // set aside (not deleted), so that a later --resume cannot mix the two.
            let later = store.completeSteps().filter { $0 > state.step }
            if !later.isEmpty {
                let stamp = Int(Date().timeIntervalSince1970)
                for step in later {
                    let setAside = (store.root as NSString).appendingPathComponent("superseded-\(stamp)-" + CheckpointStore.directoryName(step: step))
                    guard rename(store.path(step: step), setAside) == 0 else {
                        throw TrainError.run("--resume-from: cannot set aside the later checkpoint \(store.path(step: step)): \(String(cString: strerror(errno)))")
                    }
                }
                print("note: the checkpoints of steps \(later.map(String.init).joined(separator: ", ")) came after step \(state.step) in the earlier course of this run; set aside as \(store.root)/superseded-\(stamp)-step-… (delete them when no longer needed)")
            }
            return (checkpoint, state)
        case .force:
            let manager = FileManager.default
            try? manager.removeItem(atPath: store.root)
            for name in (try? manager.contentsOfDirectory(atPath: directory)) ?? []
            where name == TrainingLog.metricsFileName || name.hasPrefix("events.out.tfevents.") {
                try? manager.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
            }
            return nil
        }
    }

    /// Refuses a resume whose configuration changed beyond step limits, intervals and logging,
    /// or whose training data holds other bytes. Where the run and its data lie may change
    /// (`TrainConfig.locationKeys`) as long as the data's content is the same.
    static func checkResumable(saved: TrainState, current: TrainConfig, directory: String, data: TrainingData) throws {
        let previous: TrainConfig
        do { previous = try TrainConfig.parse(toml: saved.config, source: "\(directory)/state.json") } catch {
            throw TrainError.run("\(directory)/state.json: the saved configuration cannot be read: \(error)")
        }
        if let recorded = saved.dataDigest, recorded != data.contentSHA256 {
            throw TrainError.dataChanged(
                runDirectory: current.training.runDirectory,
                detail: "the checkpoint was trained on data with content SHA-256 \(recorded.prefix(12))…, and the data now gives \(data.contentSHA256.prefix(12))…")
        }
        // Without a recorded content hash (older checkpoints) only the run may move.
        let movable = saved.dataDigest == nil ? ["train.run_dir"] : TrainConfig.locationKeys
        let changed = current.differencesBlockingResume(from: previous).filter { !movable.contains($0) }
        guard changed.isEmpty else {
            throw TrainError.config(
                "--resume: the configuration changed since the checkpoint (\(changed.joined(separator: ", "))); only \(TrainConfig.keysChangeableOnResume.joined(separator: ", ")) may change, and where the run and its data lie (\(TrainConfig.locationKeys.joined(separator: ", "))) when the data is the same. Start a new run (another train.run_dir) or use --force")
        }
    }
}

/// Ends the process with status 0 after a prompt stop, once its checkpoint is complete. With
/// `_exit`, not `exit`: the dropped step is still computing on the process's other threads,
/// and `exit` would run the libraries' destructors under it (`make sanitize-thread` caught the
/// process dying in `cblas_sgemm` at exit, a crash where the run should end with status 0).
/// The checkpoint is synced already; only the standard streams need flushing.
public func endAfterPromptStop() -> Never {
    fflush(nil)  // every output stream
    _exit(0)
}
