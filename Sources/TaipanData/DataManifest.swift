// DataManifest.swift — `manifest.json`, the last file `taipan data prepare` writes into a
// token directory: what went in (inputs with sizes, times and SHA-256, the tokenizer and
// the settings), what came out (shards with token and document counts, tokens per split and
// per source) and what was skipped. Its presence marks the directory complete.
//
// Version 1 describes text documents. Version 2 describes prompt/completion examples: its
// settings add `format`, `prompt_field` and `completion_field`, its splits `completionTokens`,
// and its shards are token shards of version 2 (with the loss mask). Text directories are
// still written as version 1, so earlier builds read them; they refuse version 2 rather
// than train on prompts as if they were text.

import Foundation

/// The contents of a token directory's `manifest.json`.
public struct DataManifest: Codable, Equatable, Sendable {
    /// The manifest layout version.
    public var formatVersion: Int
    /// The settings the directory was prepared with.
    public var settings: PrepareSettings
    /// Every input file, in the order read.
    public var inputs: [Input]
    /// Every token shard, in order.
    public var shards: [Shard]
    /// Totals per split ("train", "val").
    public var splits: [String: SplitSummary]
    /// Records that did not become documents.
    public var skipped: SkippedRecords

    public static let fileName = "manifest.json"
    /// The version of a directory of text documents.
    public static let currentFormatVersion = 1
    /// The version of a directory of prompt/completion examples.
    public static let examplesFormatVersion = 2

    /// One input file.
    public struct Input: Codable, Equatable, Sendable {
        public var path: String
        /// "train", "val", or "mixed" for inputs split by fraction.
        public var split: String
        public var bytes: Int
        /// The modification time in nanoseconds since 1970, used to notice changed inputs.
        public var modifiedNanoseconds: Int64
        /// The SHA-256 of the file's bytes (empty until the file has been read).
        public var sha256: String
    }

    /// One token shard.
    public struct Shard: Codable, Equatable, Sendable {
        /// The file name inside the token directory.
        public var file: String
        public var split: String
        public var tokens: Int
        public var documents: Int
    }

    /// Token and document counts of one split.
    public struct SplitSummary: Codable, Equatable, Sendable {
        public var tokens = 0
        public var documents = 0
        /// Tokens (end-of-text ids included) per source name.
        public var sourceTokens: [String: Int] = [:]
        /// Documents per source name.
        public var sourceDocuments: [String: Int] = [:]
        /// Prompt/completion data: the ids the loss counts (completions and end-of-text ids).
        public var completionTokens: Int?

        public init() {}
    }

    /// What the directory's records held: text documents or prompt/completion examples.
    public var format: DataFormat { settings.format ?? .text }

    /// Reads `manifest.json` from `directory`.
    public static func load(directory: String) throws -> DataManifest {
        let path = directory + "/" + fileName
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DataError.io(path: path, reason: "cannot read the manifest (was `taipan data prepare` run into \(directory) and did it finish?)")
        }
        do {
            let manifest = try JSONDecoder().decode(DataManifest.self, from: data)
            guard manifest.formatVersion == (manifest.settings.format == .promptCompletion ? examplesFormatVersion : currentFormatVersion) else {
                throw DataError.corrupt(path: path, reason: "unsupported manifest version \(manifest.formatVersion) for \(manifest.format.rawValue) data")
            }
            return manifest
        } catch let error as DataError {
            throw error
        } catch {
            throw DataError.corrupt(path: path, reason: "not a valid manifest: \(error)")
        }
    }

    /// What the shards hold, apart from where their inputs and tokenizer lie: the SHA-256 of
    /// the manifest with input paths, modification times and the tokenizer's path left out
    /// (the tokenizer counts by its hash, each input by its split, size and hash). A run moved
    /// to another disk with its data keeps it; any change to the data's bytes changes it.
    public var contentSHA256: String {
        var located = self
        located.settings.tokenizer.name = ""
        located.inputs = inputs.map { input in
            var copy = input
            copy.path = ""
            copy.modifiedNanoseconds = 0
            return copy
        }
        return SHA256.hash([UInt8]((try? located.encoded()) ?? Data()))
    }

    /// The manifest as pretty-printed JSON with sorted keys.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Maps the shards of `split` ("train" or "val") from `directory`.
    public func openShards(split: String, directory: String) throws -> [TokenShard] {
        let selected = shards.filter { $0.split == split }
        guard !selected.isEmpty else {
            throw DataError.notEnoughData("\(directory)/\(Self.fileName): no \"\(split)\" shards")
        }
        return try selected.map { entry in
            let shard = try TokenShard(path: directory + "/" + entry.file)
            guard shard.tokenCount == entry.tokens else {
                throw DataError.corrupt(path: shard.path, reason: "holds \(shard.tokenCount) tokens but the manifest lists \(entry.tokens)")
            }
            return shard
        }
    }
}

/// The settings a token directory is prepared with; re-running with equal settings and
/// unchanged inputs finds nothing to do.
public struct PrepareSettings: Codable, Equatable, Sendable {
    public var tokenizer: TokenizerIdentity
    /// Bytes per token in the shards (2 or 4).
    public var tokenWidth: Int
    public var textField: String
    public var sourceField: String
    public var defaultSource: String
    public var badRecords: BadRecordPolicy
    /// A shard is closed after the first document that takes it to this many tokens.
    public var shardTokens: Int
    /// The fraction of documents held out for validation when no validation inputs are given.
    public var validationFraction: Double?
    /// The seed of the validation hold-out.
    public var validationSeed: UInt64?
    /// `lines` when each line of a plain-text input was a document; absent for whole files.
    public var plainTextDocuments: PlainTextDocuments?
    /// `prompt_completion` for examples; absent for text.
    public var format: DataFormat?
    /// The dotted key paths of an example's prompt and completion; absent for text.
    public var promptField: String?
    public var completionField: String?
}

/// Which tokenizer produced a token directory.
public struct TokenizerIdentity: Codable, Equatable, Sendable {
    /// "byte" or the tokenizer file's path.
    public var name: String
    /// The SHA-256 of the tokenizer file (of the word "byte" for the byte tokenizer).
    public var sha256: String
    public var vocabularySize: Int
    /// The id put after every document; nil for a tokenizer without one (which prepare refuses).
    public var endOfText: Int32?

    public init(name: String, sha256: String, vocabularySize: Int, endOfText: Int32?) {
        self.name = name
        self.sha256 = sha256
        self.vocabularySize = vocabularySize
        self.endOfText = endOfText
    }
}
