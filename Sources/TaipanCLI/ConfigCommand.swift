// ConfigCommand.swift — `taipan config explain [SECTION]` (every key of the TOML training
// configuration with its type, default and doc) and `taipan config show CONFIG` (a file with
// its overrides applied, validated, every key written out).

import ArgumentParser
import TaipanTrain

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Explain the keys of a training configuration, or check and show one.",
        subcommands: [Explain.self, Show.self])

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every key: section.key, type, default and a one-line doc.")

        @Argument(help: "Only this section (model, data, optimizer, schedule, train, eval, checkpoint, log).")
        var section: String?

        func run() throws {
            print(try ConfigSchema.explanation(section: section), terminator: "")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a configuration, apply --set overrides, validate it and print every key as TOML.")

        @Argument(help: "The TOML configuration file.")
        var config: String

        @Option(name: .customLong("set"), help: "Override a key: --set section.key=value (repeatable).")
        var overrides: [String] = []

        func run() throws {
            print(try TrainConfig.load(path: config, overrides: overrides).resolvedTOML(), terminator: "")
        }
    }
}
