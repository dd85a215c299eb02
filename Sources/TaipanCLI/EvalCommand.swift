// EvalCommand.swift — `taipan eval CONFIG|CHECKPOINT`: validation loss and perplexity.

import ArgumentParser
import TaipanTrain

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Report validation loss and perplexity of a run's newest checkpoint or of a checkpoint directory.")

    @Argument(help: "A TOML config (its run's newest checkpoint) or a checkpoint directory.") var target: String
    @Option(name: .customLong("set"), help: "Override a config value: section.key=value (repeatable).") var overrides: [String] = []
    @Option(help: "Evaluate at most this many validation batches (default: all).") var batches: Int?

    func validate() throws {
        if let batches, batches < 1 { throw ValidationError("--batches must be at least 1") }
    }

    func run() throws {
        let result = try Evaluation.run(target: target, overrides: overrides, batches: batches, print: writeLine)
        writeLine("\(result.model): validation loss \(String(format: "%.4f", result.loss)), perplexity \(String(format: "%.2f", result.perplexity)) over \(result.tokens.formatted()) tokens")
    }
}
