// DataCommand.swift — `taipan data prepare` (text shards → token shards + manifest) and
// `taipan data sample` (a Pile-style sample dataset from text a Debian machine has).

import ArgumentParser
import Foundation
import TaipanData

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare token shards from text shards, or build the sample dataset.",
        subcommands: [Prepare.self, Sample.self])

    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tokenise text shards (.jsonl, .jsonl.zst, .txt, .txt.zst) into token shards and manifest.json.")

        @OptionGroup var tokenizerOptions: TokenizerOptions

        @Option(help: "The token directory to write.")
        var out: String

        @Argument(help: "Training inputs: files or directories.")
        var inputs: [String]

        @Option(parsing: .upToNextOption, help: "Validation inputs; without them, --validation-fraction of the documents are held out.")
        var validation: [String] = []

        @Option(help: "The fraction of documents held out for validation when no --validation inputs are given.")
        var validationFraction = 0.01

        @Option(help: "The seed choosing which documents are held out.")
        var validationSeed: UInt64 = 0

        @Option(help: "Tokens per shard (a shard ends after the document that reaches this).")
        var shardTokens = 1 << 26

        @OptionGroup var records: RecordArguments

        @Option(help: "The dotted JSON key path of a record's source name.")
        var sourceField = "meta.pile_set_name"

        @Option(help: "Threads for decoding and tokenising (default: all cores).")
        var threads: Int?

        func validate() throws {
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
        }

        func run() throws {
            let loaded = try tokenizerOptions.loadWithIdentity()
            var options = PrepareOptions(inputs: inputs, outputDirectory: out)
            options.validationInputs = validation
            options.validationFraction = validationFraction
            options.validationSeed = validationSeed
            options.shardTokens = shardTokens
            options.record = records.recordOptions(sourceField: sourceField)
            if let threads { options.threads = threads }
            let preparation = DataPreparation(options: options, tokenizer: loaded.tokenizer, tokenizerIdentity: loaded.identity)
            let result = try preparation.run { progress in printError("\rprepare: \(progress)", newline: false) }
            if result.alreadyPrepared {
                print("\(out) is already prepared from these inputs and settings; nothing to do.")
                return
            }
            printError("")
            if result.restartedAfterInterruption { print("An earlier prepare into \(out) was interrupted; it was restarted from the beginning.") }
            let manifest = result.manifest
            for split in manifest.splits.keys.sorted() {
                let summary = manifest.splits[split, default: .init()]
                let shards = manifest.shards.filter { $0.split == split }.count
                print("\(split): \(summary.tokens) tokens, \(summary.documents) documents, \(shards) shard(s)")
                for source in summary.sourceTokens.keys.sorted() {
                    print("  \(source): \(summary.sourceTokens[source, default: 0]) tokens, \(summary.sourceDocuments[source, default: 0]) documents")
                }
            }
            print("skipped: \(manifest.skipped.summary)")
            print("wrote \(out)/\(DataManifest.fileName)")
        }
    }

    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a Pile-style sample dataset (train-*.jsonl.zst, val-*.jsonl.zst) from text on this Debian machine.")

        @Option(help: "The directory to write the sample into.")
        var out: String

        func run() throws {
            let summary = try SampleDataset.build(directory: out)
            for source in summary.bytes.keys.sorted() {
                print("\(source): \(summary.documents[source, default: 0]) documents, \(summary.bytes[source, default: 0]) bytes")
            }
            let unchanged = summary.unchanged.isEmpty ? "" : " (\(summary.unchanged.count) already there, unchanged)"
            print("wrote \(summary.files.count) files\(unchanged), \(summary.totalBytes) bytes of text, into \(out)")
        }
    }
}

/// Writes `message` to standard error.
private func printError(_ message: String, newline: Bool = true) {
    FileHandle.standardError.write(Data((message + (newline ? "\n" : "")).utf8))
}
