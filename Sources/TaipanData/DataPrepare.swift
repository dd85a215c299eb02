// DataPrepare.swift — `taipan data prepare`: text shards in, token shards and a manifest out.
//
// Records are read in input order into batches; each batch is decoded and tokenised on all
// cores, then written in input order, so the output does not depend on the thread count.
// Every document is followed by the end-of-text id, and comes after the special tokens the
// tokenizer's post-processor puts first (Llama's begin-of-text token; Tokenizer.encodeDocument);
// an example of prompt/completion data is
// its prompt's ids, its completion's ids (each text tokenised on its own, so the boundary is a
// token boundary) and the end-of-text id, in a version 2 shard that marks which ids the loss
// counts (TokenShard.swift). Shards go to `NAME.bin.tmp`, are
// fsynced and renamed; the manifest is written last. A `.prepare-in-progress` marker lives
// in the directory while a run works on it: a run that finds the marker (an earlier run was
// killed) deletes that run's shards and starts again; a run that finds a manifest for the
// same settings and unchanged inputs does nothing.

import Dispatch
import Foundation
import TaipanTokenizers
#if canImport(Glibc)
import Glibc
#endif

/// What `DataPreparation` is asked to do.
public struct PrepareOptions: Sendable {
    /// Training inputs: files or directories (searched for `ShardFormat.extensions`).
    public var inputs: [String]
    /// Validation inputs; when empty, `validationFraction` of the documents are held out instead.
    public var validationInputs: [String] = []
    public var validationFraction = 0.01
    public var validationSeed: UInt64 = 0
    /// The token directory to write.
    public var outputDirectory: String
    public var shardTokens = 1 << 26
    public var record = RecordOptions()
    /// Threads for decoding and tokenising.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Raw record bytes gathered before a batch is processed.
    public var batchBytes = 8 << 20

    public init(inputs: [String], outputDirectory: String) {
        self.inputs = inputs
        self.outputDirectory = outputDirectory
    }
}

/// Progress of a preparation, reported about twice a second.
public struct PrepareProgress: Sendable, CustomStringConvertible {
    /// Input bytes read so far (compressed bytes for `.zst` inputs) and in all.
    public var bytesRead: Int
    public var totalBytes: Int
    public var tokens: Int
    public var documents: Int
    public var seconds: Double

    public var description: String {
        let megabytes = Double(bytesRead) / 1e6, rate = megabytes / max(seconds, 1e-9)
        let left = rate > 0 ? Double(totalBytes - bytesRead) / 1e6 / rate : 0
        let percent = totalBytes > 0 ? 100 * Double(bytesRead) / Double(totalBytes) : 100
        return String(format: "%.1f / %.1f MB (%.1f%%), %.1f MB/s, ETA %d:%02d, %d documents, %d tokens",
                      megabytes, Double(totalBytes) / 1e6, percent, rate, Int(left) / 60, Int(left) % 60, documents, tokens)
    }
}

/// The outcome of a preparation.
public struct PrepareResult: Sendable {
    public var manifest: DataManifest
    /// True when the directory already held this preparation and nothing was done.
    public var alreadyPrepared: Bool
    /// True when an interrupted earlier run was found and its output discarded.
    public var restartedAfterInterruption: Bool
}

/// Tokenises text shards into a token directory.
public struct DataPreparation {
    public let options: PrepareOptions
    public let tokenizer: any Tokenizer
    public let tokenizerIdentity: TokenizerIdentity

    public static let markerName = ".prepare-in-progress"

    public init(options: PrepareOptions, tokenizer: any Tokenizer, tokenizerIdentity: TokenizerIdentity) {
        self.options = options
        self.tokenizer = tokenizer
        self.tokenizerIdentity = tokenizerIdentity
    }

    /// Runs the preparation, calling `progress` now and then.
    public func run(progress: ((PrepareProgress) -> Void)? = nil) throws -> PrepareResult {
        let plan = try begin()
        if let done = plan.existing { return done }
        var run = try PrepareRun(preparation: self, inputs: plan.inputs, progress: progress)
        return try finish(run.execute(), restarted: plan.restarted)
    }

    /// What `begin()` found: a finished preparation of these inputs (nothing to do), or the
    /// inputs to prepare into a directory made ready for them.
    struct Plan {
        var existing: PrepareResult?
        var inputs: [DataManifest.Input]
        var restarted: Bool
    }

    /// Checks the options, expands the inputs, and either finds the directory already prepared
    /// from them or clears an interrupted run's output and marks the directory as in progress.
    func begin() throws -> Plan {
        _ = try endOfTextId()
        guard options.shardTokens >= 1 else { throw DataError.invalidArgument("--shard-tokens must be at least 1 (got \(options.shardTokens))") }
        guard options.validationInputs.isEmpty ? (0..<1).contains(options.validationFraction) : true else {
            throw DataError.invalidArgument("the validation fraction must be in [0, 1) (got \(options.validationFraction))")
        }
        let directory = options.outputDirectory
        let inputs = try expandedInputs()
        if options.record.format == .promptCompletion, let text = inputs.first(where: { ShardFormat(path: $0.path) != .jsonLines }) {
            throw DataError.invalidArgument("\(text.path): prompt/completion data must be JSON Lines (.jsonl, .jsonl.zst), one example a line")
        }
        let settings = self.settings

        try createDirectory(directory)
        let fileManager = FileManager.default
        let markerPath = directory + "/" + Self.markerName
        if fileManager.fileExists(atPath: directory + "/" + DataManifest.fileName) {
            let existing = try DataManifest.load(directory: directory)
            if let difference = try Self.difference(existing: existing, settings: settings, inputs: inputs) {
                throw DataError.preparedFromOtherData(directory: directory, difference: difference)
            }
            for shard in existing.shards { _ = try TokenShard(path: directory + "/" + shard.file) }
            if fileManager.fileExists(atPath: markerPath) { try? fileManager.removeItem(atPath: markerPath) }
            return Plan(
                existing: PrepareResult(manifest: existing, alreadyPrepared: true, restartedAfterInterruption: false),
                inputs: inputs, restarted: false)
        }
        let ours = try fileManager.contentsOfDirectory(atPath: directory).filter(Self.isOutputName)
        let interrupted = fileManager.fileExists(atPath: markerPath)
        if !interrupted && !ours.isEmpty {
            throw DataError.invalidArgument(
                "\(directory) holds token shards (\(ours.sorted()[0]), …) but no manifest from an unfinished run; remove them or choose another --out")
        }
        for name in ours { try removeFile(directory + "/" + name) }
        try removeShareParts()
        try writeFileAtomically(Data("taipan data prepare is writing this directory\n".utf8), to: markerPath)
        return Plan(existing: nil, inputs: inputs, restarted: interrupted)
    }

    /// Writes the manifest (last, so a directory with one is complete) and lifts the marker.
    func finish(_ manifest: DataManifest, restarted: Bool) throws -> PrepareResult {
        let directory = options.outputDirectory
        try writeFileAtomically(try manifest.encoded(), to: directory + "/" + DataManifest.fileName)
        try removeFile(directory + "/" + Self.markerName)
        return PrepareResult(manifest: manifest, alreadyPrepared: false, restartedAfterInterruption: restarted)
    }

    /// How the prepared `existing` manifest differs from what `settings` and `inputs` would
    /// make, in words, or nil when it holds the same data. Inputs and a tokenizer that moved
    /// (another path or modification time) count as the same when their bytes are: inputs of
    /// the same size are hashed and compared with the manifest's hashes.
    static func difference(existing: DataManifest, settings: PrepareSettings, inputs: [DataManifest.Input]) throws -> String? {
        var located = existing.settings
        located.tokenizer.name = settings.tokenizer.name
        if located != settings {
            if existing.settings.tokenizer.sha256 != settings.tokenizer.sha256 {
                return "the tokenizer \(settings.tokenizer.name) is not the one they were made with (SHA-256 \(settings.tokenizer.sha256.prefix(12))…, not \(existing.settings.tokenizer.sha256.prefix(12))…)"
            }
            return "they were prepared with other settings"
        }
        guard existing.inputs.count == inputs.count else {
            return "they were made from \(existing.inputs.count) input file(s), and \(inputs.count) are given now"
        }
        for (old, new) in zip(existing.inputs, inputs) {
            if old.split != new.split || old.bytes != new.bytes {
                return old.path == new.path
                    ? "\(new.path) changed (\(old.bytes) bytes then, \(new.bytes) now)"
                    : "\(new.path) is not the input they were made from (\(old.path), \(old.bytes) bytes)"
            }
            if old.path == new.path && old.modifiedNanoseconds == new.modifiedNanoseconds { continue }
            // Moved or touched: the same input if it has the same bytes.
            let same = try !old.sha256.isEmpty && fileSHA256(path: new.path) == old.sha256
            if !same {
                return "\(new.path) has other bytes than the input they were made from (\(old.path))"
            }
        }
        return nil
    }

    /// The training inputs then the validation inputs, expanded, with their splits.
    func expandedInputs() throws -> [DataManifest.Input] {
        var inputs = try Self.expand(options.inputs, split: options.validationInputs.isEmpty ? "mixed" : "train")
        inputs += try Self.expand(options.validationInputs, split: "val")
        return inputs
    }

    /// The settings the manifest records (and a later run must match).
    var settings: PrepareSettings {
        PrepareSettings(
            tokenizer: tokenizerIdentity,
            tokenWidth: TokenShardFormat.tokenWidth(vocabularySize: tokenizer.vocabularySize),
            textField: options.record.textField, sourceField: options.record.sourceField,
            defaultSource: options.record.defaultSource, badRecords: options.record.policy,
            shardTokens: options.shardTokens,
            validationFraction: options.validationInputs.isEmpty ? options.validationFraction : nil,
            validationSeed: options.validationInputs.isEmpty ? options.validationSeed : nil,
            plainTextDocuments: options.record.plainTextDocuments == .file ? nil : options.record.plainTextDocuments,
            format: examples ? .promptCompletion : nil,
            promptField: examples ? options.record.promptField : nil,
            completionField: examples ? options.record.completionField : nil)
    }

    /// True when the inputs are prompt/completion examples.
    var examples: Bool { options.record.format == .promptCompletion }

    /// The id prepare puts after every document.
    func endOfTextId() throws -> Int32 {
        guard let endOfText = tokenizer.endOfText else {
            throw DataError.invalidArgument(
                "\(tokenizerIdentity.name): the tokenizer has no end-of-text token (\(BPETokenizer.endOfTextNames.joined(separator: ", "))), which prepare puts after every document")
        }
        return endOfText
    }

    /// Shard files and their temporaries, the only files prepare deletes.
    static func isOutputName(_ name: String) -> Bool {
        (name.hasPrefix("train-") || name.hasPrefix("val-")) && (name.hasSuffix(".bin") || name.hasSuffix(".bin.tmp"))
            || name == DataManifest.fileName + ".tmp"
    }

    /// The input files named by `paths` (directories searched recursively, sorted), with
    /// their sizes and modification times.
    static func expand(_ paths: [String], split: String) throws -> [DataManifest.Input] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw DataError.io(path: path, reason: "no such file or directory")
            }
            if isDirectory.boolValue {
                guard let walker = FileManager.default.enumerator(atPath: path) else {
                    throw DataError.io(path: path, reason: "cannot list the directory")
                }
                let found = walker.compactMap { $0 as? String }.filter { ShardFormat(path: $0) != nil }.sorted()
                if found.isEmpty {
                    throw DataError.invalidArgument("\(path): no input files (\(ShardFormat.extensions.joined(separator: ", "))) in this directory")
                }
                files += found.map { path + "/" + $0 }
            } else {
                guard ShardFormat(path: path) != nil else {
                    throw DataError.invalidArgument("\(path): unknown input format (expected a name ending in \(ShardFormat.extensions.joined(separator: ", ")))")
                }
                files.append(path)
            }
        }
        return try files.map { path in
            var info = stat()
            guard stat(path, &info) == 0 else { throw DataError.io(path: path, reason: "cannot stat: \(errnoMessage())") }
            let nanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            return DataManifest.Input(path: path, split: split, bytes: Int(info.st_size), modifiedNanoseconds: nanoseconds, sha256: "")
        }
    }
}

/// One preparation's working state: the readers, the open shards and the running counts.
struct PrepareRun {
    let options: PrepareOptions
    let settings: PrepareSettings
    let tokenizer: any Tokenizer
    let endOfText: Int32
    var inputs: [DataManifest.Input]
    let progress: ((PrepareProgress) -> Void)?

    var writers: [String: TokenShardWriter] = [:]
    var shardCounts: [String: Int] = [:]
    var shards: [DataManifest.Shard] = []
    var splits: [String: DataManifest.SplitSummary] = [:]
    var skipped = SkippedRecords()
    var documentOrdinal: UInt64 = 0
    let decoder: RecordDecoder
    let started = DispatchTime.now()
    var lastReport = DispatchTime.now()
    var bytesBeforeCurrent = 0

    init(preparation: DataPreparation, inputs: [DataManifest.Input], progress: ((PrepareProgress) -> Void)?) throws {
        options = preparation.options
        settings = preparation.settings
        tokenizer = preparation.tokenizer
        endOfText = try preparation.endOfTextId()
        self.inputs = inputs
        self.progress = progress
        decoder = RecordDecoder(options: options.record)
    }

    /// A batch of raw records, concatenated: record k is `bytes[offsets[k] ..< offsets[k + 1]]`.
    struct RecordBatch {
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        var lines: [Int] = []
        var inputIndices: [Int] = []
        var count: Int { lines.count }
    }

    /// A record after decoding and tokenising: a document's ids (an example's, of which the
    /// first `promptCount` are its prompt's), or what else it was.
    enum Outcome {
        case tokens([Int32], promptCount: Int, source: String)
        case other(DecodedRecord)
    }

    mutating func execute() throws -> DataManifest {
        let totalBytes = inputs.reduce(0) { $0 + $1.bytes }
        try tokenize(inputs.indices) { run, batch, outcomes in
            for index in 0..<batch.count {
                try run.consume(outcomes[index], inputIndex: batch.inputIndices[index], line: batch.lines[index])
            }
        } progress: { run, bytesRead in
            run.report(bytesRead: bytesRead, totalBytes: totalBytes, force: false)
        }
        return try manifest(totalBytes: totalBytes)
    }

    /// Reads, decodes and tokenises the inputs at `indices` in order, in batches on all
    /// threads (batches span inputs unless `eachInputApart`), handing each batch's outcomes
    /// to `handle` in record order; `progress` hears the input bytes read so far. Records the
    /// inputs' hashes, and tells `inputDone` of each input read to its end.
    mutating func tokenize(
        _ indices: some Sequence<Int>, eachInputApart: Bool = false,
        handle: (inout PrepareRun, RecordBatch, [Outcome]) throws -> Void,
        progress: (inout PrepareRun, Int) -> Void,
        inputDone: (inout PrepareRun, Int) throws -> Void = { _, _ in }
    ) throws {
        var batch = RecordBatch()
        func flush(_ run: inout PrepareRun) throws {
            guard batch.count > 0 else { return }
            try handle(&run, batch, run.decodeAndTokenize(batch))
            batch = RecordBatch()
        }
        for inputIndex in indices {
            let reader = try ShardReader(path: inputs[inputIndex].path, options: options.record, hashing: true)
            while true {
                guard let line = try reader.nextRecord(appendingTo: &batch.bytes) else { break }
                batch.offsets.append(batch.bytes.count)
                batch.lines.append(line)
                batch.inputIndices.append(inputIndex)
                if batch.bytes.count >= options.batchBytes || batch.count >= 1 << 16 {
                    try flush(&self)
                    progress(&self, bytesBeforeCurrent + reader.fileBytesRead)
                }
            }
            if eachInputApart { try flush(&self) }
            inputs[inputIndex].sha256 = reader.fileSHA256() ?? ""
            bytesBeforeCurrent += inputs[inputIndex].bytes
            try inputDone(&self, inputIndex)
        }
        try flush(&self)
    }

    /// Closes the open shards and returns the manifest of everything consumed.
    mutating func manifest(totalBytes: Int) throws -> DataManifest {
        for split in writers.keys.sorted() { try closeShard(split: split) }
        report(bytesRead: totalBytes, totalBytes: totalBytes, force: true)
        let version = settings.format == .promptCompletion ? DataManifest.examplesFormatVersion : DataManifest.currentFormatVersion
        return DataManifest(formatVersion: version, settings: settings, inputs: inputs,
                            shards: shards, splits: splits, skipped: skipped)
    }

    /// Takes one record's outcome, in input order: a document goes to its split's shard (a
    /// held-out draw decides the split of mixed inputs); anything else is counted, or stops
    /// the run under the `fail` policy.
    mutating func consume(_ outcome: Outcome, inputIndex: Int, line: Int) throws {
        let input = inputs[inputIndex]
        switch outcome {
        case .tokens(let tokens, let promptCount, let source):
            let split = input.split == "mixed" ? (isHeldOut() ? "val" : "train") : input.split
            try append(tokens, promptCount: promptCount, source: source, split: split)
        case .other(let decoded):
            _ = try decoder.accept(decoded, path: input.path, line: line, skipped: &skipped)
        }
    }

    func decodeAndTokenize(_ batch: RecordBatch) -> [Outcome] {
        var outcomes = [Outcome](repeating: .other(.blank), count: batch.count)
        let chunks = min(batch.count, max(1, options.threads) * 4)
        let decoder = self.decoder, tokenizer = self.tokenizer, endOfText = self.endOfText
        let formats = inputs.map { ShardFormat(path: $0.path) ?? .jsonLines }
        let sources = inputs.map { ShardReader.plainTextSource(path: $0.path) }
        batch.bytes.withUnsafeBufferPointer { bytes in
            outcomes.withUnsafeMutableBufferPointer { results in
                let shared = UncheckedSendableBox((bytes, results))
                let work: @Sendable (Int) -> Void = { chunk in
                    let (bytes, results) = shared.value
                    let lower = batch.count * chunk / chunks, upper = batch.count * (chunk + 1) / chunks
                    for index in lower..<upper {
                        let record = UnsafeBufferPointer(rebasing: bytes[batch.offsets[index]..<batch.offsets[index + 1]])
                        let input = batch.inputIndices[index]
                        let decoded = decoder.decode(record, format: formats[input], plainTextSource: sources[input])
                        switch decoded {
                        case .document(let document):
                            results[index] = .tokens(tokenizer.encodeDocument(document.text, endOfText: endOfText), promptCount: 0, source: document.source)
                        case .example(let example):
                            let (ids, promptCount) = tokenizer.encodeExample(prompt: example.prompt, completion: example.completion, endOfText: endOfText)
                            results[index] = .tokens(ids, promptCount: promptCount, source: example.source)
                        default:
                            results[index] = .other(decoded)
                        }
                    }
                }
                if options.threads <= 1 {
                    for chunk in 0..<chunks { work(chunk) }
                } else {
                    DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
                }
            }
        }
        return outcomes
    }

    /// Decides, from the document's ordinal alone, whether it is held out for validation.
    mutating func isHeldOut() -> Bool {
        defer { documentOrdinal += 1 }
        let fraction = options.validationFraction
        guard fraction > 0 else { return false }
        let draw = SplitMix64.mix(SplitMix64.mix(options.validationSeed) ^ documentOrdinal)
        return Double(draw >> 11) * 0x1p-53 < fraction
    }

    mutating func append(_ tokens: [Int32], promptCount: Int, source: String, split: String) throws {
        let writer: TokenShardWriter
        if let open = writers[split] {
            writer = open
        } else {
            let number = shardCounts[split, default: 0]
            let name = split + "-" + String(format: "%05d", number) + ".bin"
            writer = try TokenShardWriter(
                path: options.outputDirectory + "/" + name, vocabularySize: tokenizer.vocabularySize,
                examples: settings.format == .promptCompletion)
            writers[split] = writer
        }
        try writer.append(document: tokens, promptCount: promptCount)
        if writer.examples {
            let counted = splits[split]?.completionTokens ?? 0
            splits[split, default: .init()].completionTokens = counted + tokens.count - promptCount
        }
        splits[split, default: .init()].tokens += tokens.count
        splits[split, default: .init()].documents += 1
        splits[split, default: .init()].sourceTokens[source, default: 0] += tokens.count
        splits[split, default: .init()].sourceDocuments[source, default: 0] += 1
        if writer.tokenCount >= options.shardTokens { try closeShard(split: split) }
    }

    mutating func closeShard(split: String) throws {
        guard let writer = writers.removeValue(forKey: split) else { return }
        try writer.finish()
        let name = String(writer.path.split(separator: "/").last ?? "")
        shards.append(.init(file: name, split: split, tokens: writer.tokenCount, documents: writer.documentCount))
        shardCounts[split, default: 0] += 1
    }

    mutating func report(bytesRead: Int, totalBytes: Int, force: Bool) {
        guard let progress else { return }
        let now = DispatchTime.now()
        guard force || now.uptimeNanoseconds - lastReport.uptimeNanoseconds >= 500_000_000 else { return }
        lastReport = now
        let tokens = splits.values.reduce(0) { $0 + $1.tokens }, documents = splits.values.reduce(0) { $0 + $1.documents }
        progress(PrepareProgress(bytesRead: bytesRead, totalBytes: totalBytes, tokens: tokens, documents: documents,
                                 seconds: Double(now.uptimeNanoseconds - started.uptimeNanoseconds) / 1e9))
    }
}

/// Creates `path` and its parents if missing.
func createDirectory(_ path: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw DataError.io(path: path, reason: "cannot create the directory: \(error.localizedDescription)")
    }
}

func removeFile(_ path: String) throws {
    if unlink(path) != 0 && errno != ENOENT { throw DataError.io(path: path, reason: "cannot remove: \(errnoMessage())") }
}

/// Writes `data` to `path.tmp`, fsyncs it, renames it to `path` and fsyncs the directory.
func writeFileAtomically(_ data: Data, to path: String) throws {
    let temporary = path + ".tmp"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if descriptor < 0 { throw DataError.io(path: temporary, reason: "cannot create: \(errnoMessage())") }
    do {
        try data.withUnsafeBytes { try writeAll($0, to: descriptor, path: temporary) }
        if fsync(descriptor) != 0 { throw DataError.io(path: temporary, reason: "fsync failed: \(errnoMessage())") }
    } catch {
        close(descriptor)
        throw error
    }
    close(descriptor)
    if rename(temporary, path) != 0 { throw DataError.io(path: path, reason: "cannot rename into place: \(errnoMessage())") }
    try syncDirectory(containing: path)
}
