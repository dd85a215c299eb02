// TrainCommand.swift — `taipan train CONFIG`: pretrain or fine-tune from a TOML config,
// or continue a run with `--resume` (or from a chosen checkpoint with `--resume-from`).
// SIGTERM or SIGINT writes the checkpoint of the last finished step at once and exits 0.

import ArgumentParser
import Foundation
import TaipanDistributed
import TaipanTrain

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a model from a TOML config (see `taipan config explain`).")

    @Argument(help: "The TOML config file.") var config: String
    @Option(name: .customLong("set"), help: "Override a config value: section.key=value (repeatable).") var overrides: [String] = []
    @Flag(help: "Continue from the newest complete checkpoint in the run directory that verifies.") var resume = false
    @Option(help: ArgumentHelp("Continue from this checkpoint directory.", valueName: "checkpoint")) var resumeFrom: String?
    @Flag(help: "Delete the run directory's checkpoints and logs and start over.") var force = false

    func validate() throws {
        if [resume, resumeFrom != nil, force].filter({ $0 }).count > 1 {
            throw ValidationError("--resume, --resume-from and --force exclude each other")
        }
    }

    func run() throws {
        try runDistributed { communicator in
            let configuration = try TrainConfig.load(path: config, overrides: overrides)
            let start: StartMode = resumeFrom.map { .resumeFrom($0) } ?? (resume ? .resume : force ? .force : .fresh)
            do {
                let trainer = try Trainer(config: configuration, start: start, communicator: communicator, print: writeLine)
                let summary = try trainer.run(stopPromptly: true) { message in
                    writeLine(message)
                    endAfterPromptStop()
                }
                if communicator.isRoot { report(summary) }
            } catch TrainError.dataChanged(let runDirectory, let detail) {
                throw InputError(description: dataChangedMessage(runDirectory: runDirectory, detail: detail))
            }
        }
    }

    /// What to do when the data changed under a run, in the words of the command the user ran:
    /// `make train` sets TAIPAN_COMMAND to itself.
    private func dataChangedMessage(runDirectory: String, detail: String) -> String {
        let command = ProcessInfo.processInfo.environment["TAIPAN_COMMAND"] ?? ""
        let startOver = command.isEmpty
            ? "run `taipan train \(config) --force` (deletes the checkpoints and logs in \(runDirectory)), or set train.run_dir to a new directory"
            : "run `\(command) FORCE=1` (deletes the checkpoints and logs in \(runDirectory))"
        return "\(command.isEmpty ? "taipan train --resume" : command): the training data changed since the checkpoints in \(runDirectory) were written: \(detail).\n"
            + "To continue that run, put back the data it was trained on. To train on the data as it is now, start over: \(startOver)."
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
