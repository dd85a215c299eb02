// TrainCommand.swift — `taipan train CONFIG`: pretrain or fine-tune from a TOML config,
// or continue a run with `--resume`.

import ArgumentParser
import Foundation
import TaipanDistributed
import TaipanTrain

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a model from a TOML config (see `taipan config explain`).")

    @Argument(help: "The TOML config file.") var config: String
    @Option(name: .customLong("set"), help: "Override a config value: section.key=value (repeatable).") var overrides: [String] = []
    @Flag(help: "Continue from the newest complete checkpoint in the run directory.") var resume = false
    @Flag(help: "Delete the run directory's checkpoints and logs and start over.") var force = false

    func validate() throws {
        if resume && force { throw ValidationError("--resume and --force exclude each other") }
    }

    func run() throws {
        try runDistributed { communicator in
            let configuration = try TrainConfig.load(path: config, overrides: overrides)
            let trainer = try Trainer(
                config: configuration, start: resume ? .resume : force ? .force : .fresh, communicator: communicator,
                print: writeLine)
            let summary = try trainer.run()
            if communicator.isRoot { report(summary) }
        }
    }

    private func report(_ summary: TrainSummary) {
        var lines = ["trained \(summary.steps) steps, \(summary.tokensSeen.formatted()) tokens, \(Int(summary.tokensPerSecond.rounded()).formatted()) tokens/s (median step)"]
        if let first = summary.firstLoss, let last = summary.lastLoss {
            lines.append(String(format: "training loss %.4f → %.4f", first, last))
        }
        if let validation = summary.validationLoss {
            lines.append(String(format: "validation loss %.4f, perplexity %.2f", validation, Foundation.exp(validation)))
        }
        if let checkpoint = summary.checkpoint { lines.append("checkpoint: \(checkpoint)") }
        if summary.stoppedEarly { lines.append("stopped early by a signal; to continue, run the same command with --resume") }
        writeLine(lines.joined(separator: "\n"))
    }
}

/// Writes `line` to standard output at once: progress must show as it happens even when
/// output goes to a pipe or a log file, where `print` would hold it in a buffer.
func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
