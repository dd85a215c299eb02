// TrainingData.swift — the token shards a run reads: either a token directory prepared by
// `taipan data prepare`, or raw text shards that are prepared here once and cached (a
// re-run with unchanged inputs finds the cache complete and skips the work). Text documents
// or prompt/completion examples, as `data.format` says; a prepared directory must hold that
// format.

import Foundation
import TaipanData
import TaipanTokenizers

/// The train and validation token shards of a run, and the tokenizer that made them.
struct TrainingData {
    let train: [TokenShard]
    let validation: [TokenShard]
    /// The tokenizer, when it can be loaded (needed for text samples only).
    let tokenizer: (any Tokenizer)?
    /// The vocabulary size of the tokenizer that produced the shards.
    let vocabularySize: Int
    /// The id that ends every document.
    let endOfText: Int32
    /// The bytes of the `tokenizer.json` that made the shards, which checkpoints carry; nil
    /// for the byte tokenizer, or when the file is gone or changed since.
    let tokenizerJSON: Data?
    /// What the training shards hold, wherever they lie (`DataManifest.contentSHA256`).
    let contentSHA256: String

    /// Resolves the `[data]` section: prepared token directories are used as they are; raw
    /// inputs are prepared into `cacheDirectory` first (progress through `log`). A cache that
    /// holds shards of other data is the run's data having changed when `resuming`; otherwise
    /// the run's own cache (`runOwned`) is prepared again, and another is refused.
    static func load(
        config full: TrainConfig, cacheDirectory: String, threads: Int, resuming: Bool = false, runOwned: Bool = false,
        log: @escaping (String) -> Void
    ) throws -> TrainingData {
        let config = full.data
        // A synthetic task needs no files: its batchers generate rows from the seed.
        if let task = full.syntheticTask {
            // Its content is its definition (the seed and sizes are config keys that may not change).
            return TrainingData(
                train: [], validation: [], tokenizer: nil, vocabularySize: task.vocabularySize, endOfText: 0, tokenizerJSON: nil,
                contentSHA256: SHA256.hash(Array("\(task)".utf8)))
        }
        let (trainInputs, validationInputs) = (try full.trainInputs(), try full.validationInputs())
        guard !trainInputs.isEmpty else { throw TrainError.config("data.train: no training input given") }
        let directory: String
        if let prepared = preparedDirectory(trainInputs) {
            directory = prepared
        } else {
            guard !config.tokenizer.isEmpty else {
                throw TrainError.config("data.tokenizer: raw text inputs need a tokenizer (\"byte\" or a tokenizer.json path)")
            }
            let loaded = try LoadedTokenizer(named: config.tokenizer)
            var options = PrepareOptions(inputs: trainInputs, outputDirectory: cacheDirectory)
            options.validationInputs = validationInputs
            options.validationFraction = config.validationFraction
            options.record = RecordOptions(
                textField: config.textField, sourceField: config.sourceField,
                policy: config.badRecords, format: config.format,
                promptField: config.promptField, completionField: config.completionField)
            options.threads = threads
            log("preparing token shards from \(trainInputs.count) input(s) into \(cacheDirectory)")
            // Whole lines, since they share standard output with the training log: every second
            // on a terminal, every 10 s in a log file.
            let reporter = ProgressReporter(inPlace: false, interval: isatty(STDOUT_FILENO) == 1 ? 1 : 10) { log(String($0.dropLast())) }
            let preparation = DataPreparation(options: options, tokenizer: loaded.tokenizer, tokenizerIdentity: loaded.identity)
            func prepare() throws -> PrepareResult {
                try preparation.run { progress in
                    if progress.bytesRead >= progress.totalBytes { reporter.finish("  \(progress)") } else { reporter.update("  \(progress)") }
                }
            }
            let result: PrepareResult
            do {
                result = try prepare()
            } catch DataError.preparedFromOtherData(let directory, let difference) {
                if resuming {
                    throw TrainError.dataChanged(runDirectory: full.training.runDirectory, detail: "the token shards in \(directory) were made from other data: \(difference)")
                }
                guard runOwned else {
                    throw TrainError.config("data.cache_dir: \(directory) already holds token shards of other data (\(difference)); remove it or set data.cache_dir to another directory")
                }
                log("note: \(directory) held token shards of other data (\(difference)); this run has no checkpoint, so they are prepared again")
                do { try FileManager.default.removeItem(atPath: directory) } catch {
                    throw TrainError.run("\(directory): cannot remove the stale token shards: \(error.localizedDescription)")
                }
                result = try prepare()
            }
            log(result.alreadyPrepared ? "  token shards up to date" : "  prepared \(result.manifest.splits["train"]?.tokens ?? 0) training tokens")
            directory = cacheDirectory
        }
        let manifest = try DataManifest.load(directory: directory)
        try checkFormat(manifest, directory: directory, expected: config.format)
        func shards(_ split: String) throws -> [TokenShard] {
            try manifest.shards.filter { $0.split == split }.map { try TokenShard(path: (directory as NSString).appendingPathComponent($0.file)) }
        }
        let identity = manifest.settings.tokenizer
        var validation = try shards("val")
        if validation.isEmpty, let preparedValidation = preparedDirectory(validationInputs) {
            let other = try DataManifest.load(directory: preparedValidation)
            try checkFormat(other, directory: preparedValidation, expected: config.format)
            guard other.settings.tokenizer.sha256 == identity.sha256 else {
                throw TrainError.config("data.validation: \(preparedValidation) was tokenized with another tokenizer than \(directory)")
            }
            validation = try other.shards.map { try TokenShard(path: (preparedValidation as NSString).appendingPathComponent($0.file)) }
        }
        guard let endOfText = identity.endOfText else {
            throw TrainError.config("data.tokenizer: \(identity.name) has no end-of-text token, so documents cannot be separated")
        }
        let tokenizerName = config.tokenizer.isEmpty ? identity.name : config.tokenizer
        let loaded = try? LoadedTokenizer(named: tokenizerName)
        // The very bytes the shards were made with, or none: a checkpoint must not carry
        // another tokenizer than its data's.
        let json = loaded.flatMap { loaded -> Data? in
            guard loaded.identity.name != LoadedTokenizer.byteName,
                  let bytes = FileManager.default.contents(atPath: loaded.identity.name),
                  SHA256.hash([UInt8](bytes)) == identity.sha256 else { return nil }
            return bytes
        }
        return TrainingData(
            train: try shards("train"), validation: validation, tokenizer: loaded?.tokenizer,
            vocabularySize: identity.vocabularySize, endOfText: endOfText, tokenizerJSON: json,
            contentSHA256: manifest.contentSHA256)
    }

    /// Refuses a token directory of another format than `data.format`.
    private static func checkFormat(_ manifest: DataManifest, directory: String, expected: DataFormat) throws {
        guard manifest.format == expected else {
            throw TrainError.config(
                "data.format: \"\(expected.rawValue)\", but \(directory) holds \(manifest.format.rawValue) data; set data.format = \"\(manifest.format.rawValue)\" or prepare the inputs again")
        }
    }

    /// The directory when `inputs` names exactly one prepared token directory.
    private static func preparedDirectory(_ inputs: [String]) -> String? {
        guard inputs.count == 1 else { return nil }
        let manifest = (inputs[0] as NSString).appendingPathComponent(DataManifest.fileName)
        return FileManager.default.fileExists(atPath: manifest) ? inputs[0] : nil
    }
}
