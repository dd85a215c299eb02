// BenchTrain.swift — `taipan bench train|generate|scan`: the training step, recurrent decoding
// and the scan, each timed on a config's shapes with random data.

import ArgumentParser
import Foundation
import TaipanNN
import TaipanTensor
import TaipanTrain

/// The config and thread options every model benchmark takes.
struct BenchOptions: ParsableArguments {
    @Option(help: "A TOML config giving the model and the batch shape (e.g. configs/bench-small.toml).") var config: String
    @Option(name: .customLong("set"), help: "Override a config value: section.key=value (repeatable).") var overrides: [String] = []
    @Option(help: "Threads (default: the config's train.threads, 0 = all cores).") var threads: Int?

    /// Loads the config and sets the thread count: `--threads`, else `train.threads`, else the
    /// host's cores shared by the job's ranks on it.
    func load(ranksOnThisHost: Int = 1) throws -> TrainConfig {
        let configuration = try TrainConfig.load(path: config, overrides: overrides)
        let count = threads ?? configuration.training.threads
        Threads.set(count > 0 ? count : Trainer.defaultThreads(ranksOnThisHost: ranksOnThisHost))
        return configuration
    }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Time the training step (forward, backward, AdamW) on random tokens.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Timed steps (the median is reported).") var steps = 10
    @Option(help: "Untimed steps first.") var warmup = 2

    func validate() throws {
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be at least 1 and --warmup at least 0") }
    }

    func run() throws {
        try runDistributed { communicator in
            let config = try options.load(ranksOnThisHost: communicator.localSize)
            let r = try Benchmarks.train(config: config, steps: steps, warmup: warmup, communicator: communicator)
            guard communicator.isRoot else { return }
            let ranks = r.ranks > 1 ? "\(r.ranks) ranks × " : ""
            let lora = config.lora.isEnabled ? ", LoRA rank \(config.lora.rank) (\(r.trainableParameters.formatted()) train)" : ""
            print("\(options.config): \(r.parameters.formatted()) parameters\(lora), \(r.tokensPerStep) tokens a step, \(ranks)\(Threads.count) threads, median of \(steps) steps")
            print(String(format: "  optimizer state %.1f MiB (AdamW moments of %@ trainable parameters)",
                         Double(r.optimizerStateBytes) / 1048576, r.trainableParameters.formatted()))
            print(String(format: "  step %.1f ms | %.0f tokens/s | %.2f MFLOP/token | %.1f GFLOP/s | MFU %.1f%% of %@sgemm %.1f GFLOP/s | peak RSS %.0f MiB",
                         r.medianStepSeconds * 1e3, r.tokensPerSecond, r.flopsPerToken / 1e6, r.achievedFlops / 1e9,
                         r.utilisation * 100, r.ranks > 1 ? "\(r.ranks) × " : "", r.matmulPeak / 1e9, Double(r.peakResidentBytes) / 1048576))
            if r.ranks > 1 {
                print(String(format: "  gradient allreduce %.1f ms a step (%.1f%% of the step)",
                             r.medianExchangeSeconds * 1e3, 100 * r.medianExchangeSeconds / r.medianStepSeconds))
            }
            print(String(format: "RESULT tokens_per_second=%.1f step_ms=%.2f mfu=%.4f sgemm_gflops=%.2f peak_rss_mib=%.1f ranks=%d allreduce_ms=%.2f trainable=%d optimizer_mib=%.1f",
                         r.tokensPerSecond, r.medianStepSeconds * 1e3, r.utilisation, r.matmulPeak / 1e9, Double(r.peakResidentBytes) / 1048576,
                         r.ranks, r.medianExchangeSeconds * 1e3, r.trainableParameters, Double(r.optimizerStateBytes) / 1048576))
        }
    }
}

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Tokens per second of greedy recurrent decoding, batch 1.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Prompt length.") var prompt = 16
    @Option(help: "Tokens generated per run.") var tokens = 128
    @Option(help: "Timed runs (the median is reported).") var runs = 5
    @Option(help: "How the decoder stores its matrices: float32, bfloat16 or int8.") var weights: DecodingWeights = .float32
    @Option(help: ArgumentHelp(
        "A model directory (config.json and weights, Mamba or Mamba-2) to decode instead of a model initialised from the config.",
        discussion: "The config still sets the threads (train.threads) and the prompt's seed (train.seed).")) var model: String?

    func validate() throws {
        guard prompt >= 1, tokens >= 1, runs >= 1 else { throw ValidationError("--prompt, --tokens and --runs must be at least 1") }
    }

    func run() throws {
        let config = try options.load()
        let loaded = try model.map { try loadModel($0, adapter: nil) }
        let r = try Benchmarks.generate(config: config, model: loaded, promptTokens: prompt, newTokens: tokens, runs: runs, weights: weights)
        print("\(model ?? options.config): \(r.parameters.formatted()) parameters, \(weights.rawValue) weights, prompt \(prompt), \(tokens) new tokens, \(Threads.count) threads, median of \(runs)")
        print(String(format: "  %.1f tokens/s (%.2f ms a token) | weights %.0f MB a token, read at %.1f GB/s | peak RSS %.0f MiB",
                     r.tokensPerSecond, 1e3 / r.tokensPerSecond, Double(r.weightBytesPerToken) / 1e6, r.weightBandwidth / 1e9,
                     Double(r.peakResidentBytes) / 1048576))
        print(String(format: "RESULT tokens_per_second=%.2f weight_gb_per_second=%.2f peak_rss_mib=%.1f",
                     r.tokensPerSecond, r.weightBandwidth / 1e9, Double(r.peakResidentBytes) / 1048576))
    }
}

struct BenchScan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "Forward and backward of the selective scan alone, with its memory.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Timed runs (the median is reported).") var runs = 10

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        let config = try options.load()
        let r = Benchmarks.scan(config: config, runs: runs)
        print("scan B=\(config.training.batchSize) L=\(config.data.sequenceLength) E=\(config.model.expand * config.model.hiddenSize) N=\(config.model.stateSize) K=\(config.model.scanCheckpointInterval), \(Threads.count) threads, median of \(runs)")
        print(String(format: "  forward %.2f ms | backward %.2f ms | peak %.1f MiB (stored states alone would be %.1f MiB)",
                     r.medianForwardSeconds * 1e3, r.medianBackwardSeconds * 1e3, Double(r.peakBytes) / 1048576, Double(r.storedStateBytes) / 1048576))
    }
}
