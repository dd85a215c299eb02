// DataCommand.swift — `taipan data prepare` (text shards → token shards + manifest) and
// `taipan data sample` (a Pile-style sample dataset from text a Debian machine has).

import ArgumentParser
import Foundation
import TaipanData
import TaipanDistributed

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

        @Option(help: "What the records hold: text (documents) or prompt_completion (examples whose loss counts the completion only).")
        var format: DataFormat = .text

        @Option(help: "prompt_completion: the dotted JSON key path of an example's prompt.")
        var promptField = "prompt"

        @Option(help: "prompt_completion: the dotted JSON key path of an example's completion.")
        var completionField = "completion"

        @Option(help: "Threads for decoding and tokenising (default: all cores, shared by the ranks of a host under mpirun).")
        var threads: Int?

        func validate() throws {
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
            if promptField.isEmpty || completionField.isEmpty { throw ValidationError("--prompt-field and --completion-field must not be empty") }
        }

        func run() throws {
            try runDistributed { communicator in
                let loaded = try tokenizerOptions.loadWithIdentity()
                var options = PrepareOptions(inputs: inputs, outputDirectory: out)
                options.validationInputs = validation
                options.validationFraction = validationFraction
                options.validationSeed = validationSeed
                options.shardTokens = shardTokens
                options.record = records.recordOptions(sourceField: sourceField)
                options.record.format = format
                options.record.promptField = promptField
                options.record.completionField = completionField
                options.threads = threads ?? max(1, options.threads / communicator.localSize)
                let preparation = DataPreparation(options: options, tokenizer: loaded.tokenizer, tokenizerIdentity: loaded.identity)
                let reporter = ProgressReporter { FileHandle.standardError.write(Data($0.utf8)) }
                let progress: (PrepareProgress) -> Void = { progress in
                    let text = "prepare: \(progress)"
                    if progress.bytesRead >= progress.totalBytes { reporter.finish(text) } else { reporter.update(text) }
                }
                let result: PrepareResult?
                if communicator.size == 1 {
                    result = try preparation.run(progress: progress)
                } else {
                    result = try prepareShared(preparation, communicator: communicator, reporter: reporter, progress: progress)
                }
                reporter.endLine()
                if let result { report(result) }
            }
        }

        /// `data prepare` under mpirun: rank 0 checks the directory, every rank tokenises its
        /// share of the inputs, rank 0 writes the shards; returns rank 0's result.
        private func prepareShared(
            _ preparation: DataPreparation, communicator: any Communicator, reporter: ProgressReporter,
            progress: @escaping (PrepareProgress) -> Void
        ) throws -> PrepareResult? {
            var restarted = false
            if communicator.isRoot {
                switch try preparation.beginShared() {
                case .done(let result):
                    _ = try communicator.broadcast(0, root: 0)
                    return result
                case .started(let wasRestarted):
                    restarted = wasRestarted
                    _ = try communicator.broadcast(1, root: 0)
                }
            } else if try communicator.broadcast(0, root: 0) == 0 {
                return nil
            }
            let started = DispatchTime.now().uptimeNanoseconds
            try preparation.tokenizeShare(rank: communicator.rank, ranks: communicator.size, progress: communicator.isRoot ? progress : nil)
            try communicator.barrier()
            guard communicator.isRoot else { return nil }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            reporter.endLine()
            printError(String(format: "tokenised on %d ranks in %.1f s; writing the shards", communicator.size, seconds))
            return try preparation.assembleShares(restarted: restarted)
        }

        private func report(_ result: PrepareResult) {
            if result.alreadyPrepared {
                print("\(out) is already prepared from these inputs and settings; nothing to do.")
                return
            }
            if result.restartedAfterInterruption { print("An earlier prepare into \(out) was interrupted; it was restarted from the beginning.") }
            let manifest = result.manifest
            for split in manifest.splits.keys.sorted() {
                let summary = manifest.splits[split, default: .init()]
                let shards = manifest.shards.filter { $0.split == split }.count
                let completions = summary.completionTokens.map { " (\($0) in completions)" } ?? ""
                print("\(split): \(summary.tokens) tokens\(completions), \(summary.documents) \(manifest.format == .text ? "documents" : "examples"), \(shards) shard(s)")
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
            print("fine-tuning set (Python functions: signature and docstring → body): \(summary.examples["train", default: 0]) train, \(summary.examples["val", default: 0]) validation examples")
            let main = ["debian", "python", "perl"].compactMap { key in summary.releases[key].map { "\(key) \($0)" } }.joined(separator: ", ")
            print("sample SHA-256 \(summary.sha256) (\(main)), recorded in \(out)/\(SampleDataset.recordName) with the versions of the packages it reads")
            if let previous = summary.previous {
                let changed = Set(previous.releases.keys).union(summary.releases.keys).sorted().filter { previous.releases[$0] != summary.releases[$0] }
                    .map { "\($0.hasPrefix("package ") ? String($0.dropFirst(8)) : $0) \(previous.releases[$0] ?? "absent") → \(summary.releases[$0] ?? "absent")" }
                let because = changed.isEmpty ? "with the same package versions (its files were changed in place)" : "because \(changed.joined(separator: ", "))"
                print("note: the sample differs from the one built here before (SHA-256 \(previous.sha256.prefix(16))…) \(because); data prepared from the old sample, and runs trained on it, no longer match it")
            }
        }
    }
}

extension DataFormat: ExpressibleByArgument {}

/// Writes `message` to standard error.
private func printError(_ message: String, newline: Bool = true) {
    FileHandle.standardError.write(Data((message + (newline ? "\n" : "")).utf8))
}
