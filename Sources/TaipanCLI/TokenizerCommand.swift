// TokenizerCommand.swift — `taipan tokenizer train`: learns a byte-level BPE from text files
// and writes DIR/tokenizer.json (the Hugging Face `tokenizers` format).

import ArgumentParser
import Foundation
import TaipanData

struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer", abstract: "Train tokenizers.", subcommands: [TokenizerTrain.self])
}

struct TokenizerTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level BPE tokenizer and write DIR/tokenizer.json.",
        discussion: """
            Inputs are .txt files (each line, with its line ending, is a document, as in the \
            Hugging Face tokenizers trainer) and .jsonl files (the 'text' field of each line).
            """)

    @Option(help: "The vocabulary size: special tokens, 256 bytes and the merged tokens.")
    var vocabSize: Int

    @Option(help: "The directory to write tokenizer.json into (created when missing).")
    var out: String

    @Option(help: "Pairs seen fewer times than this are not merged.")
    var minFrequency = 0

    @Option(name: .customLong("special-token"), help: "A special token (repeatable; default <|endoftext|>).")
    var specialTokens: [String] = []

    @Flag(help: "Leave text as it is instead of putting it in Unicode NFC.")
    var noNfc = false

    @Option(help: "Threads for counting words (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Argument(help: "Training text: .txt or .jsonl files.")
    var inputs: [String]

    /// Documents are counted in batches of this many, so big inputs are never all in memory
    /// as strings twice.
    static let batchSize = 20_000

    func validate() throws {
        let specials = specialTokens.isEmpty ? 1 : Set(specialTokens).count
        guard vocabSize >= 256 + specials else {
            throw ValidationError("--vocab-size must be at least \(256 + specials): 256 bytes + \(specials) special token(s)")
        }
        guard minFrequency >= 0 else { throw ValidationError("--min-frequency must not be negative") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        for input in inputs where !(input.hasSuffix(".txt") || input.hasSuffix(".jsonl")) {
            throw ValidationError("\(input): not a .txt or .jsonl file (.jsonl.zst is read by the data pipeline, not yet here)")
        }
    }

    func run() throws {
        let outputPath = (out as NSString).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: outputPath) {
            throw InputError(description: "\(outputPath): already exists; remove it or choose another --out")
        }
        let start = ContinuousClock.now
        var trainer = BPETrainer(
            vocabularySize: vocabSize, minimumFrequency: minFrequency,
            specialTokens: specialTokens.isEmpty ? ["<|endoftext|>"] : specialTokens,
            normalizesNFC: !noNfc)
        for input in inputs {
            let text = try readText(input)
            var documents: [String] = []
            var count = 0
            for (lineIndex, line) in Self.lines(text).enumerated() {
                documents.append(try input.hasSuffix(".jsonl") ? Self.jsonlText(line, file: input, line: lineIndex + 1) : line)
                if documents.count == Self.batchSize {
                    trainer.add(documents, threads: threads)
                    count += documents.count
                    documents.removeAll(keepingCapacity: true)
                }
            }
            trainer.add(documents, threads: threads)
            count += documents.count
            print("read \(input): \(count) documents, \(String(format: "%.1f", Double(text.utf8.count) / 1e6)) MB")
        }
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

    /// The lines of `text`, each with its line ending (`\n` or `\r\n`).
    static func lines(_ text: String) -> [String] {
        var lines: [String] = []
        var utf8 = text.utf8[...]
        while let newline = utf8.firstIndex(of: 0x0A) {
            lines.append(String(text[utf8.startIndex...newline]))
            utf8 = utf8[utf8.index(after: newline)...]
        }
        if !utf8.isEmpty { lines.append(String(text[utf8.startIndex...])) }
        return lines
    }

    /// The `text` field of one JSON Lines record.
    static func jsonlText(_ line: String, file: String, line number: Int) throws -> String {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return "" }
        guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
            throw InputError(description: "\(file):\(number): not a JSON object")
        }
        guard let text = object["text"] as? String else {
            throw InputError(description: "\(file):\(number): no string field 'text'")
        }
        return text
    }
}
