// TokenizerCommand.swift — `taipan tokenizer train`: learns a BPE (byte-level or SentencePiece-style) from text shards
// (read through `ShardReader`) and writes DIR/tokenizer.json (the Hugging Face `tokenizers`
// format).

import ArgumentParser
import Foundation
import TaipanData
import TaipanTokenizers

struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer", abstract: "Train tokenizers.", subcommands: [TokenizerTrain.self])
}

struct TokenizerTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a BPE tokenizer (byte-level or SentencePiece-style) and write DIR/tokenizer.json.",
        discussion: """
            Inputs are read as the data pipeline reads them: .jsonl and .jsonl.zst files give \
            one document per record (the --text-field of each line; bad records fail or are \
            skipped by --bad-records). .txt and .txt.zst files give one document per line, \
            with its line ending, because that is how the Hugging Face tokenizers trainer \
            reads the files it is given (Tokenizer.train(files)); so a tokenizer trained here \
            on text files has the same merges as one trained there. (`taipan data prepare` \
            tokenises a .txt file as one document.) --kind sentencepiece-bpe writes Llama-2's \
            shape: spaces as ▁, characters as the alphabet, <0x00>…<0xFF> byte fallback, \
            special tokens <unk>, <s>, </s> unless --special-token is given (<unk> is always \
            there).
            """)

    @Option(help: "The vocabulary size: special tokens, 256 bytes and the merged tokens.")
    var vocabSize: Int

    @Option(help: "The directory to write tokenizer.json into (created when missing).")
    var out: String

    @Option(help: "Pairs seen fewer times than this are not merged.")
    var minFrequency = 0

    @Option(help: "The tokenizer's shape: \(BPETrainer.Kind.allCases.map(\.rawValue).joined(separator: " or ")).")
    var kind: BPETrainer.Kind = .byteLevel

    @Option(name: .customLong("special-token"), help: "A special token (repeatable; default <|endoftext|>, or <unk> <s> </s> for sentencepiece-bpe).")
    var specialTokens: [String] = []

    @Flag(help: "Leave text as it is instead of putting it in Unicode NFC.")
    var noNfc = false

    @OptionGroup var records: RecordArguments

    @Option(help: "Threads for counting words (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Argument(help: "Training text: .jsonl, .jsonl.zst, .txt or .txt.zst files.")
    var inputs: [String]

    func validate() throws {
        let specials = Set(chosenSpecialTokens).count + (kind == .sentencePiece && !chosenSpecialTokens.contains(BPETrainer.unknownToken) ? 1 : 0)
        guard vocabSize >= 256 + specials else {
            throw ValidationError("--vocab-size must be at least \(256 + specials): 256 bytes + \(specials) special token(s) (got \(vocabSize))")
        }
        guard minFrequency >= 0 else { throw ValidationError("--min-frequency must not be negative") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        for input in inputs where ShardFormat(path: input) == nil {
            throw ValidationError("\(input): unknown input format (expected a name ending in \(ShardFormat.extensions.joined(separator: ", ")))")
        }
    }

    /// The special tokens given, or the kind's defaults.
    var chosenSpecialTokens: [String] {
        if !specialTokens.isEmpty { return specialTokens }
        return kind == .sentencePiece ? [BPETrainer.unknownToken, "<s>", "</s>"] : ["<|endoftext|>"]
    }

    func run() throws {
        let outputPath = (out as NSString).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: outputPath) {
            throw InputError(description: "\(outputPath): already exists; remove it or choose another --out")
        }
        for input in inputs where !FileManager.default.fileExists(atPath: input) {
            throw InputError(description: "\(input): no such file")
        }
        let start = ContinuousClock.now
        var trainer = BPETrainer(
            vocabularySize: vocabSize, minimumFrequency: minFrequency,
            specialTokens: chosenSpecialTokens, normalizesNFC: !noNfc, kind: kind)
        let options = records.recordOptions(plainTextDocuments: .lines)
        var skipped = SkippedRecords()
        for input in inputs {
            let reader = try ShardReader(path: input, options: options)
            let read = try trainer.add(reader, threads: threads)
            skipped.add(reader.skipped)
            print("read \(input): \(read.documents) documents, \(String(format: "%.1f", Double(read.bytes) / 1e6)) MB of text")
        }
        print("skipped: \(skipped.summary)")
        print("counted \(trainer.wordCounts.count) distinct words; merging")
        let file = trainer.train { done, wanted in
            print("merges \(done)/\(wanted)")
        }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw InputError(description: "\(out): cannot create the directory (\(error.localizedDescription))")
        }
        try file.write(to: outputPath)
        let seconds = (ContinuousClock.now - start).seconds
        print("wrote \(outputPath): \(file.vocabulary.count) tokens, \(file.merges.count) merges, \(String(format: "%.1f", seconds)) s")
    }
}

extension BPETrainer.Kind: ExpressibleByArgument {}
