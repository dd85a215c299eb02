// Taipan.swift — the `taipan` command: argument parsing only, one file per subcommand.

import ArgumentParser

@main
struct Taipan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train, fine-tune, evaluate and run Mamba language models on the CPU.",
        subcommands: [TrainCommand.self, EvalCommand.self, ModelCommand.self, GenerateCommand.self, Tokenize.self, TokenizerCommand.self, DataCommand.self, ConfigCommand.self, Bench.self])
}
