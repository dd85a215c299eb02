// TrainConfig.swift — the training configuration: a TOML file (TOML 1.0, read with TOMLKit)
// with the sections [model], [data], [optimizer], [schedule], [train], [eval], [checkpoint]
// and [log], `--set section.key=value` overrides, and validation whose errors name the file,
// the line and the `section.key`.
//
// The keys, their types and docs are the table in ConfigSchema.swift; the defaults are the
// property initialisers below. The recipe defaults (AdamW β = (0.9, 0.95), weight decay 0.1,
// cosine decay to a tenth of the peak, clipping at 1.0) are the GPT-3 recipe the Mamba paper
// (Gu & Dao, 2023, appendix E.2) trains with.

import Foundation
import TaipanOptim
import TOMLKit
import TaipanData
import TaipanNN

/// A bad configuration: the file (or `--set` argument) and line it came from, and what is wrong.
public struct TrainConfigError: Error, Equatable, CustomStringConvertible {
    /// The configuration file, or the `--set` argument, at fault; `nil` for a configuration
    /// built in code.
    public var source: String?
    /// The 1-based line in `source`, when known.
    public var line: Int?
    /// The `section.key` at fault, when there is one.
    public var key: String?
    /// What is wrong, starting with the key when there is one:
    /// `train.batch_size: expected an integer, got "eight" (string)`.
    public var message: String

    public init(source: String?, line: Int? = nil, key: String?, message: String) {
        self.source = source
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        guard let source else { return message }
        return source + (line.map { ":\($0)" } ?? "") + ": " + message
    }
}

/// The learning-rate schedule after warmup.
public enum ScheduleKind: String, Sendable, CaseIterable {
    /// Cosine decay from the peak to `min_learning_rate` at `max_steps`.
    case cosine
    /// The peak rate until the end.
    case constant
    /// Warmup-stable-decay: the peak rate, then a decay to `min_learning_rate` over the last
    /// `decay_fraction` of the steps.
    case wsd
}

/// Where a run's training data comes from: files, or a synthetic task generated on the fly.
public enum DataSource: String, Sendable, CaseIterable {
    /// `data.train` and `data.validation` files (or prepared token shards).
    case files
    /// The Mamba paper's selective copying task (`SyntheticTaskKind.selectiveCopying`).
    case selectiveCopying = "selective_copying"
    /// The Mamba paper's induction heads task (`SyntheticTaskKind.inductionHeads`).
    case inductionHeads = "induction_heads"
}

/// `[model]`: where the model comes from, and its architecture when it is built fresh.
public struct ModelSection: Equatable, Sendable {
    /// Which model the keys below describe: Mamba (selective scan) or Mamba-2 (SSD).
    public var architecture = ModelArchitecture.mamba
    /// A checkpoint directory (`RUN/checkpoints/step-…`) or Hugging Face model directory whose
    /// weights start the run (weights only: a fresh optimizer and schedule); empty for none.
    public var initFrom = ""
    /// A Hugging Face `config.json` to take the architecture from; empty to use the keys below.
    public var configFile = ""
    /// V; 0 means the tokenizer's vocabulary size rounded up to `padVocabularySizeMultiple`.
    public var vocabularySize = 0
    /// The multiple an automatic vocabulary size is rounded up to.
    public var padVocabularySizeMultiple = 8
    /// D: the width of the residual stream.
    public var hiddenSize = 256
    /// N: the SSM state size of each channel.
    public var stateSize = 16
    /// The number of Mamba blocks.
    public var layerCount = 4
    /// E / D: how much wider the mixer's inner channels are than the residual stream.
    public var expand = 2
    /// K: the width of the causal depthwise convolution.
    public var convolutionKernel = 4
    /// R: the rank of the time-step projection; `nil` is `"auto"`, ⌈D / 16⌉.
    public var timeStepRank: Int? = nil
    /// Whether `in_proj` and `out_proj` carry biases.
    public var useBias = false
    /// Whether the depthwise convolution carries a bias.
    public var useConvolutionBias = true
    /// Whether the LM head shares its weight with the embedding.
    public var tieWordEmbeddings = true
    /// The ε added to the mean square in every RMSNorm.
    public var layerNormEpsilon = 1e-5
    /// The standard deviation of the embedding's normal initialisation.
    public var initializerRange = 0.02
    /// Whether `out_proj` weights are scaled by 1/√layers at initialisation.
    public var rescalePrenormResidual = true
    /// The smallest initial time step Δ.
    public var timeStepMin = 0.001
    /// The largest initial time step Δ.
    public var timeStepMax = 0.1
    /// The floor initial time steps are clamped to.
    public var timeStepFloor = 1e-4
    /// The scale of `dt_proj`'s weight initialisation.
    public var timeStepScale = 1.0
    /// How `dt_proj`'s weight is initialised.
    public var timeStepInitScheme = TimeStepInitScheme.random
    /// The selective scan stores its state every this many steps and recomputes the rest in
    /// the backward pass.
    public var scanCheckpointInterval = 64
    /// Mamba-2 only — P: channels per head (`head_dim`).
    public var headSize = 64
    /// Mamba-2 only — G: groups of heads sharing B and C (`n_groups`).
    public var groupCount = 1
    /// Mamba-2 only — steps per chunk of the SSD scan (`chunk_size`).
    public var chunkSize = 256
    /// The SSM: selective (Mamba's S6) or time-invariant (LTI: Δ, B, C learned constants).
    public var mixer = MambaMixerKind.s6
    /// Whether the SSM's output is gated by silu(z); false for the Mamba paper's "no gate" rows.
    public var gate = true

    public init() {}
}

/// The model families `model.architecture` names.
public enum ModelArchitecture: String, Equatable, Sendable, CaseIterable {
    /// Mamba (Gu & Dao 2023): `MambaForCausalLM`.
    case mamba
    /// Mamba-2 (Dao & Gu 2024): `Mamba2ForCausalLM`.
    case mamba2
}

/// `[data]`: the text to train and validate on and how it becomes tokens.
public struct DataSection: Equatable, Sendable {
    /// Training inputs: `.jsonl`, `.jsonl.zst`, `.txt` files, directories of them, glob
    /// patterns, or one prepared token-shard directory.
    public var train: [String] = []
    /// Validation inputs, as for `train`; empty to hold out `validationFraction` of `train`.
    public var validation: [String] = []
    /// The share of training documents held out for validation when `validation` is empty.
    public var validationFraction = 0.01
    /// `"byte"` or the path of a `tokenizer.json`; may be empty when `train` is token shards.
    public var tokenizer = ""
    /// L: tokens per training sequence.
    public var sequenceLength = 256
    /// The dotted key path of a JSON record's text.
    public var textField = "text"
    /// The dotted key path of a JSON record's source name.
    public var sourceField = "meta.pile_set_name"
    /// What the records hold: text documents, or prompt/completion examples, each alone in a
    /// padded row, whose loss counts the completion (and the end-of-text) only.
    public var format = DataFormat.text
    /// The dotted key path of an example's prompt.
    public var promptField = "prompt"
    /// The dotted key path of an example's completion.
    public var completionField = "completion"
    /// What a bad record (not JSON, no text, invalid UTF-8) does: stop the run, or be counted.
    public var badRecords = BadRecordPolicy.fail
    /// Where prepared token shards are cached; empty means `RUN/data`.
    public var cacheDirectory = ""
    /// Files, or a synthetic task generated on the fly (then `train`, `validation` and
    /// `tokenizer` stay empty).
    public var source = DataSource.files
    /// Synthetic tasks: V, the ids in all (the task's special ids included).
    public var taskVocabularySize = 16
    /// Selective copying: K, the data tokens to reproduce in each row.
    public var copyTokens = 16
    /// Selective copying: what the model reads at the answer positions after the first (blank:
    /// the paper's form, the answers are never inputs; previous: teacher forcing).
    public var copyAnswerInputs = CopyAnswerInputs.blank
    /// Induction heads: the answered trigger occurrences in each row (1: the last, as in the paper).
    public var inductionQueries = 1
    /// Induction heads: each row draws its number of queries uniformly from 1...inductionQueries.
    public var inductionMixedQueries = false

    public init() {}
}

/// `[optimizer]`: AdamW with decoupled weight decay, and gradient clipping.
public struct OptimizerSection: Equatable, Sendable {
    /// The peak learning rate.
    public var learningRate = 6e-4
    /// The decay rate of the first moment.
    public var beta1 = 0.9
    /// The decay rate of the second moment.
    public var beta2 = 0.95
    /// Added to the square root of the second moment.
    public var epsilon = 1e-8
    /// Decoupled weight decay, applied to parameters not matched by `noDecay`.
    public var weightDecay = 0.1
    /// Parameter-name patterns (`*` matches any text) that get no weight decay.
    public var noDecay = ["*.A_log", "*.D", "*bias", "*norm*"]
    /// The global gradient norm is clipped to this; 0 turns clipping off.
    public var gradientClip = 1.0

    public init() {}
}

/// `[schedule]`: the learning rate over the run.
public struct ScheduleSection: Equatable, Sendable {
    /// What follows the warmup.
    public var kind = ScheduleKind.cosine
    /// Steps of linear warmup from 0 to the peak rate.
    public var warmupSteps = 100
    /// The floor cosine and warmup-stable-decay decay to.
    public var minimumLearningRate = 6e-5
    /// Warmup-stable-decay: the share of the steps spent decaying at the end.
    public var decayFraction = 0.2

    public init() {}
}

/// `[train]`: the run itself.
public struct TrainSection: Equatable, Sendable {
    /// The run directory: checkpoints, metrics, TensorBoard files, prepared data.
    public var runDirectory = "runs/default"
    /// B: sequences per micro-batch.
    public var batchSize = 8
    /// Micro-batches per optimizer step.
    public var gradientAccumulation = 1
    /// Optimizer steps to train for.
    public var maxSteps = 1000
    /// Training tokens after which the run stops if `maxSteps` comes later; 0 for no limit.
    public var maxTokens = 0
    /// Seeds the initialisation, the data order and sampling.
    public var seed = 0
    /// Worker threads per rank; 0 for the host's cores shared by its ranks (all of them in one process).
    public var threads = 0
    /// Parameter-name patterns (`*` matches any text) whose parameters are not trained.
    public var frozen: [String] = []
    /// Steps with a NaN or infinite loss or gradient in a row before the run stops.
    public var maxBadSteps = 5

    public init() {}
}

/// `[eval]`: validation during the run.
public struct EvaluationSection: Equatable, Sendable {
    /// Steps between evaluations; 0 evaluates only at the end.
    public var interval = 100
    /// Validation batches per evaluation.
    public var batches = 20
    /// Text the model continues at each evaluation; empty for no sample.
    public var samplePrompt = ""
    /// Tokens generated for the sample.
    public var sampleTokens = 64
    /// The sampling temperature; 0 is greedy.
    public var sampleTemperature = 0.8
    /// Sample among the k most likely tokens; 0 for all.
    public var sampleTopK = 40

    public init() {}
}

/// `[checkpoint]`: how often checkpoints are written and which are kept.
public struct CheckpointSection: Equatable, Sendable {
    /// Steps between checkpoints; 0 writes one only at the end.
    public var interval = 500
    /// How many of the newest checkpoints are kept.
    public var keepLast = 3
    /// Also keep every checkpoint whose step is a multiple of this; 0 for none.
    public var keepEvery = 0
    /// Also write one when this many minutes have passed since the last; 0 for none. Long
    /// steps of big models make step intervals hours apart, longer than a preemptible
    /// machine may live.
    public var intervalMinutes = 0.0

    public init() {}
}

/// `[log]`: progress lines, `metrics.jsonl` and TensorBoard.
public struct LogSection: Equatable, Sendable {
    /// Steps between progress lines and metrics records.
    public var interval = 10
    /// Whether TensorBoard event files are written too.
    public var tensorboard = true

    public init() {}
}

/// `[lora]`: LoRA fine-tuning (Hu et al., 2021) as PEFT does it: the model (`model.init_from`)
/// stays frozen and low-rank adapters on the target layers train; checkpoints hold the adapter
/// in PEFT's format.
public struct LoRASection: Equatable, Sendable {
    /// r; 0 turns LoRA off.
    public var rank = 0
    /// α: updates are scaled by α / r.
    public var alpha = 16.0
    /// Dropout on the adapters' inputs while training.
    public var dropout = 0.0
    /// Module-name patterns of the layers that get adapters. PEFT 0.21 accepts in_proj, x_proj
    /// and dt_proj for Mamba (it refuses out_proj and conv1d), but transformers 5.24's Mamba
    /// multiplies by `dt_proj.weight` directly, so PEFT's model silently leaves a dt_proj
    /// adapter out: the default is the two it applies.
    public var targetModules = ["in_proj", "x_proj"]
    /// Module-name patterns of layers trained in full and saved with the adapter.
    public var modulesToSave: [String] = []
    /// Scale by α / √r instead (rank-stabilised LoRA).
    public var useRSLoRA = false

    public init() {}

    /// Whether the run trains adapters.
    public var isEnabled: Bool { rank > 0 }

    /// The adapters' settings as TaipanNN and the PEFT files take them.
    public var settings: LoRASettings {
        LoRASettings(rank: rank, alpha: alpha, dropout: dropout, targetModules: targetModules, modulesToSave: modulesToSave, useRSLoRA: useRSLoRA)
    }
}

/// A training run's configuration: one struct per TOML section.
public struct TrainConfig: Equatable, Sendable {
    /// `[model]`
    public var model = ModelSection()
    /// `[data]`
    public var data = DataSection()
    /// `[optimizer]`
    public var optimizer = OptimizerSection()
    /// `[schedule]`
    public var schedule = ScheduleSection()
    /// `[train]`
    public var training = TrainSection()
    /// `[eval]`
    public var evaluation = EvaluationSection()
    /// `[checkpoint]`
    public var checkpoint = CheckpointSection()
    /// `[log]`
    public var logging = LogSection()
    /// `[lora]`
    public var lora = LoRASection()

    /// The defaults of every field.
    public init() {}

    /// Keys that may differ between a run and its `--resume`: step limits, threads,
    /// evaluation, checkpointing and logging. `*` matches any text.
    public static let keysChangeableOnResume = [
        "train.max_steps", "train.max_tokens", "train.threads", "eval.*", "checkpoint.*", "log.*",
    ]

    /// Keys that say where a run and its data lie, not what they are: they may differ on
    /// `--resume` (a run copied to another disk, data moved) when the data's content is the same.
    public static let locationKeys = ["train.run_dir", "data.train", "data.validation", "data.tokenizer", "data.cache_dir"]

    // MARK: Loading

    /// Reads the TOML file at `path`, applies `section.key=value` overrides in order, and
    /// validates the result.
    public static func load(path: String, overrides: [String] = []) throws(TrainConfigError) -> TrainConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let reason = !exists ? "no such file" : isDirectory.boolValue ? "is a directory, not a TOML file"
                : "cannot be read as UTF-8 text"
            throw TrainConfigError(source: path, key: nil, message: reason)
        }
        return try parse(toml: text, source: path, overrides: overrides)
    }

    /// Parses TOML text (named `source` in errors), applies `section.key=value` overrides in
    /// order, and validates the result.
    public static func parse(
        toml text: String, source: String, overrides: [String] = []
    ) throws(TrainConfigError) -> TrainConfig {
        var config = TrainConfig()
        var origins: [String: (source: String, line: Int?)] = [:]

        let document = try parseDocument(text, source: source)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Problems are reported in file order, whatever order the TOML library lists keys in.
        var problems: [TrainConfigError] = []
        for (sectionName, sectionValue) in document {
            guard case .table(let entries) = sectionValue else {
                let line = keyLine(key: sectionName, section: "", in: lines)
                if isSection(sectionName) {
                    problems.append(TrainConfigError(
                        source: source, line: line ?? arrayHeaderLine(sectionName, in: lines), key: sectionName,
                        message: "\(sectionName) must be one table, [\(sectionName)], not \(sectionValue) (\(sectionValue.typeName))"))
                } else {
                    problems.append(outsideSectionError(sectionName, source: source, line: line))
                }
                continue
            }
            guard isSection(sectionName) else {
                problems.append(unknownSectionError(sectionName, source: source, line: headerLine(sectionName, in: lines)))
                continue
            }
            for (key, value) in entries {
                let line = keyLine(key: key, section: sectionName, in: lines)
                do throws(TrainConfigError) {
                    try config.assign(section: sectionName, key: key, value: value, source: source, line: line)
                    origins[sectionName + "." + key] = (source, line)
                } catch {
                    problems.append(error)
                }
            }
        }
        if let first = problems.min(by: { ($0.line ?? Int.max) < ($1.line ?? Int.max) }) { throw first }

        for override in overrides {
            let (name, value) = try parseOverride(override)
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw outsideSectionError(name, source: "--set \(override)", line: nil)
            }
            guard isSection(parts[0]) else {
                throw unknownSectionError(parts[0], source: "--set \(override)", line: nil)
            }
            try config.assign(section: parts[0], key: parts[1], value: value, source: "--set \(override)", line: nil)
            origins[name] = ("--set \(override)", nil)
        }

        if let problem = config.firstProblem() {
            let origin = origins[problem.key] ?? (source, nil)
            throw TrainConfigError(source: origin.source, line: origin.line, key: problem.key, message: problem.message)
        }
        return config
    }

    /// Checks that the values fit together; the error names the first key at fault.
    public func validate() throws(TrainConfigError) {
        if let problem = firstProblem() {
            throw TrainConfigError(source: nil, key: problem.key, message: problem.message)
        }
    }

    /// The TOML text of the whole document as configuration values, keyed by section.
    private static func parseDocument(
        _ text: String, source: String
    ) throws(TrainConfigError) -> [(key: String, value: ConfigValue)] {
        if let hazard = parserHazard(text) {
            throw TrainConfigError(
                source: source, line: hazard.line, key: nil, message: "invalid TOML (column \(hazard.column)): \(hazard.message)")
        }
        do {
            guard case .table(let entries) = configValue(try TOMLTable(string: text).tomlValue) else { return [] }
            return entries
        } catch let error as TOMLParseError {
            throw TrainConfigError(
                source: source, line: error.source.begin.line, key: nil,
                message: "invalid TOML (column \(error.source.begin.column)): \(error.description)")
        } catch {
            throw TrainConfigError(source: source, key: nil, message: "invalid TOML: \(error)")
        }
    }

    /// The first place where TOMLKit's parser (toml++ 3) would stop the process on an assertion
    /// instead of reporting an error, with what is wrong there; nil when there is none. Found
    /// by the FuzzTrainConfig target, so such text is refused before the parser sees it:
    /// - a table header (`[…]` or `[[…]]` at the start of a line) whose key starts with neither
    ///   a bare-key character (A–Z a–z 0–9 _ -) nor a quote, such as `[étrain]`, `[.a]`, `[ ~]`;
    /// - a date followed by `T` or `t` and then not by a digit, such as `1979-05-27Tx07:32:00`
    ///   (toml++ reads a time there without checking that one starts);
    /// - a `}` where an array expects a value, such as `[1, }]` or `[\n}]`.
    /// Strings, comments and the brackets of values are skipped, so only real headers and
    /// values are looked at; any other error is left to the parser.
    static func parserHazard(_ text: String) -> (line: Int, column: Int, message: String)? {
        let bytes = Array(text.utf8)
        func isBareKey(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"): true
            default: false
            }
        }
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var index = 0, line = 1, lineStart = 0
        var open: [UInt8] = []  // the brackets and braces of values open here, innermost last
        var arrayExpectsValue = false  // after an array's `[` or `,` (blanks and comments aside)
        while index < bytes.count {
            let byte = bytes[index]
            if !isBlank(byte) && byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\r") && byte != UInt8(ascii: "#") {
                if arrayExpectsValue && byte == UInt8(ascii: "}") {
                    return (line, index - lineStart + 1, "'}' where an array expects a value or ']'")
                }
                arrayExpectsValue = false
            }
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
                lineStart = index + 1
                index += 1
            case UInt8(ascii: "#"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                func run(_ at: Int) -> Int {
                    var end = at
                    while end < bytes.count && bytes[end] == byte { end += 1 }
                    return end - at
                }
                let multiline = run(index) >= 3
                index += multiline ? 3 : 1
                while index < bytes.count {
                    let inner = bytes[index]
                    if inner == UInt8(ascii: "\\") && byte == UInt8(ascii: "\"") {
                        index += 2
                    } else if inner == UInt8(ascii: "\n") {
                        if !multiline { break }  // an unterminated string: the parser reports it
                        line += 1
                        lineStart = index + 1
                        index += 1
                    } else if inner == byte {
                        // A multi-line string ends at the last three of a run of 3 to 5 quotes.
                        let quotes = run(index)
                        if !multiline { index += 1; break }
                        if quotes >= 3 { index += min(quotes, 5); break }
                        index += quotes
                    } else {
                        index += 1
                    }
                }
            case UInt8(ascii: "["):
                if open.isEmpty && bytes[lineStart..<index].allSatisfy(isBlank) {
                    var key = index + 1
                    if key < bytes.count && bytes[key] == UInt8(ascii: "[") { key += 1 }
                    while key < bytes.count && isBlank(bytes[key]) { key += 1 }
                    guard key < bytes.count, isBareKey(bytes[key]) || bytes[key] == UInt8(ascii: "\"") || bytes[key] == UInt8(ascii: "'") else {
                        return (line, key - lineStart + 1, "a table header's key must start with a letter, digit, '_', '-' or a quote")
                    }
                    index = key
                } else {
                    open.append(byte)
                    arrayExpectsValue = true
                    index += 1
                }
            case UInt8(ascii: "{"):
                open.append(byte)
                index += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                _ = open.popLast()
                index += 1
            case UInt8(ascii: ","):
                arrayExpectsValue = open.last == UInt8(ascii: "[")
                index += 1
            case UInt8(ascii: "0")...UInt8(ascii: "9") where index == 0 || !isBareKey(bytes[index - 1]):
                // A token that starts with digits: a date-time needs a digit after its `T`.
                var end = index
                while end < bytes.count && (isBareKey(bytes[end]) || bytes[end] == UInt8(ascii: ":")) { end += 1 }
                if let separator = dateTimeSeparator(bytes[index..<end]),
                   separator + 1 >= end || !isDigit(bytes[separator + 1]) {
                    return (line, separator - lineStart + 2, "a date followed by 'T' must be followed by a time (HH:MM:SS)")
                }
                index = end
            default:
                index += 1
            }
        }
        return nil
    }

    /// The index of the `T` or `t` after a `YYYY-MM-DD` date at the start of `token`, if any.
    private static func dateTimeSeparator(_ token: ArraySlice<UInt8>) -> Int? {
        let start = token.startIndex
        guard token.count >= 11 else { return nil }
        for offset in 0..<10 {
            let byte = token[start + offset]
            let expectsDash = offset == 4 || offset == 7
            if expectsDash ? byte != UInt8(ascii: "-") : !isDigit(byte) { return nil }
        }
        let separator = start + 10
        return token[separator] == UInt8(ascii: "T") || token[separator] == UInt8(ascii: "t") ? separator : nil
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// A TOMLKit value as a configuration value.
    private static func configValue(_ value: TOMLValueConvertible) -> ConfigValue {
        switch value.type {
        case .string: return .string(value.string ?? "")
        case .int: return .integer(value.int ?? 0)
        case .double: return .float(value.double ?? 0)
        case .bool: return .boolean(value.bool ?? false)
        case .array: return .array((value.array ?? TOMLArray()).map(configValue))
        case .table:
            let table = value.table ?? TOMLTable()
            return .table(table.keys.compactMap { key in table[key].map { (key, configValue($0)) } })
        case .date, .time, .dateTime:
            return .dateOrTime(kind: value.type.description, text: value.debugDescription)
        }
    }

    /// Splits `section.key=value`; a value that is not valid TOML (or that would stop TOMLKit's
    /// parser, see `parserHazard`) is taken as a string, so `data.tokenizer=byte` works
    /// without quotes.
    private static func parseOverride(_ override: String) throws(TrainConfigError) -> (String, ConfigValue) {
        guard let equals = override.firstIndex(of: "=") else {
            throw TrainConfigError(
                source: "--set \(override)", key: nil, message: "expected section.key=value")
        }
        let name = override[..<equals].trimmingCharacters(in: .whitespaces)
        let text = String(override[override.index(after: equals)...])
        let document = "value = " + text
        if parserHazard(document) == nil,
           let table = try? TOMLTable(string: document), table.keys == ["value"], let value = table["value"] {
            return (name, configValue(value))
        }
        return (name, .string(text))
    }

    /// Type-checks `value` and stores it at `section.key` (the section is known).
    private mutating func assign(
        section: String, key: String, value: ConfigValue, source: String, line: Int?
    ) throws(TrainConfigError) {
        let name = section + "." + key
        guard let field = ConfigSchema.field(named: name) else {
            throw TrainConfigError(
                source: source, line: line, key: name,
                message: "unknown key \(name)" + Self.keySuggestion(key: key, section: section))
        }
        guard let accepted = field.type.accept(value) else {
            throw TrainConfigError(
                source: source, line: line, key: name,
                message: "\(name): expected \(field.type.expectation), got \(value) (\(value.typeName))")
        }
        field.write(&self, accepted)
    }

    /// The suggestion for an unknown key: the same key in another section if there is one,
    /// else the nearest key of this section.
    private static func keySuggestion(key: String, section: String) -> String {
        if let elsewhere = ConfigSchema.fields.first(where: { $0.key == key }) {
            return "; did you mean \(elsewhere.name)?"
        }
        return ConfigSchema.suggestion(
            for: section + "." + key, among: ConfigSchema.fields(inSection: section).map(\.name))
    }

    private static func isSection(_ name: String) -> Bool {
        ConfigSchema.sections.contains { $0.name == name }
    }

    private static func unknownSectionError(_ name: String, source: String, line: Int?) -> TrainConfigError {
        TrainConfigError(
            source: source, line: line, key: name,
            message: "unknown section [\(name)]"
                + ConfigSchema.suggestion(for: name, among: ConfigSchema.sections.map(\.name), brackets: true))
    }

    /// The error for a key written outside any section (a TOML root key, or `--set key=value`).
    private static func outsideSectionError(_ key: String, source: String, line: Int?) -> TrainConfigError {
        let suggestion = ConfigSchema.fields.first(where: { $0.key == key }).map { "; did you mean \($0.name)?" }
            ?? ConfigSchema.suggestion(for: key, among: ConfigSchema.fields.map(\.key))
        return TrainConfigError(
            source: source, line: line, key: key, message: "key \(key) is not inside a [section]" + suggestion)
    }

    /// The line of the `[section]` header, found by a plain scan of the text.
    private static func headerLine(_ section: String, in lines: [String]) -> Int? {
        lines.firstIndex { headerName($0) == section }.map { $0 + 1 }
    }

    /// The line of the first `[[section]]` header, found by a plain scan of the text.
    private static func arrayHeaderLine(_ section: String, in lines: [String]) -> Int? {
        lines.firstIndex { $0.filter { $0 != " " && $0 != "\t" } == "[[\(section)]]" }.map { $0 + 1 }
    }

    /// The line where `key` is assigned inside `[section]` (`""` for the root), found by a
    /// plain scan of the text; `nil` for forms the scan does not follow, such as dotted keys.
    private static func keyLine(key: String, section: String, in lines: [String]) -> Int? {
        var current = ""
        for (index, line) in lines.enumerated() {
            if let header = headerName(line) {
                current = header
                continue
            }
            guard current == section else { continue }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            for spelling in [key, "\"\(key)\"", "'\(key)'"] where trimmed.hasPrefix(spelling) {
                if trimmed.dropFirst(spelling.count).drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("=") {
                    return index + 1
                }
            }
        }
        return nil
    }

    /// The table name of a `[name]` header line, or `nil` for other lines.
    private static func headerName(_ line: String) -> String? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("["), !trimmed.hasPrefix("[["), let close = trimmed.firstIndex(of: "]") else { return nil }
        let name = trimmed[trimmed.index(after: trimmed.startIndex)..<close].trimmingCharacters(in: .whitespaces)
        return name.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
    }

    // MARK: Validation

    /// The first value out of range or inconsistent with another, as (`section.key`, message).
    func firstProblem() -> (key: String, message: String)? {
        for field in ConfigSchema.fields {
            if case .float(let value) = field.read(self), !value.isFinite {
                return (field.name, "\(field.name): must be finite (got \(ConfigValue.float(value)))")
            }
        }
        let minimums: [(String, Int, Int)] = [
            ("model.vocab_size", model.vocabularySize, 0),
            ("model.pad_vocab_size_multiple", model.padVocabularySizeMultiple, 1),
            ("model.time_step_rank", model.timeStepRank ?? 1, 1),
            ("model.scan_checkpoint_interval", model.scanCheckpointInterval, 1),
            ("data.sequence_length", data.sequenceLength, 1),
            ("train.batch_size", training.batchSize, 1),
            ("train.gradient_accumulation", training.gradientAccumulation, 1),
            ("train.max_steps", training.maxSteps, 1),
            ("train.max_tokens", training.maxTokens, 0),
            ("train.seed", training.seed, 0),
            ("train.threads", training.threads, 0),
            ("train.max_bad_steps", training.maxBadSteps, 1),
            ("schedule.warmup_steps", schedule.warmupSteps, 0),
            ("eval.interval", evaluation.interval, 0),
            ("eval.batches", evaluation.batches, 1),
            ("eval.sample_tokens", evaluation.sampleTokens, 0),
            ("eval.sample_top_k", evaluation.sampleTopK, 0),
            ("checkpoint.interval", checkpoint.interval, 0),
            ("checkpoint.keep_last", checkpoint.keepLast, 1),
            ("checkpoint.keep_every", checkpoint.keepEvery, 0),
            ("log.interval", logging.interval, 1),
            ("lora.rank", lora.rank, 0),
        ]
        for (name, value, minimum) in minimums where value < minimum {
            return (name, "\(name): must be at least \(minimum) (got \(value))")
        }
        if checkpoint.intervalMinutes < 0 {
            return ("checkpoint.interval_minutes", "checkpoint.interval_minutes: must be at least 0 (got \(ConfigValue.float(checkpoint.intervalMinutes)))")
        }
        if lora.isEnabled {
            if lora.targetModules.isEmpty { return ("lora.target_modules", "lora.target_modules: name at least one layer (in_proj, x_proj, dt_proj)") }
            if let unsupported = lora.targetModules.first(where: { ["conv1d", "embeddings", "lm_head"].contains(String($0.split(separator: ".").last ?? "")) }) {
                return ("lora.target_modules", "lora.target_modules: \(ConfigValue.quoted(unsupported)) is not a Linear layer Taipan can adapt (in_proj, x_proj, dt_proj, out_proj)")
            }
            if !(lora.alpha > 0) { return ("lora.alpha", "lora.alpha: must be positive (got \(lora.alpha))") }
            if !(lora.dropout >= 0 && lora.dropout < 1) { return ("lora.dropout", "lora.dropout: must be in [0, 1) (got \(lora.dropout))") }
        }
        if !model.initFrom.isEmpty && !model.configFile.isEmpty {
            return ("model.config", "model.config: cannot be set together with model.init_from, which brings its own architecture")
        }
        do throws(MambaConfigError) {
            try architecture(vocabularySize: max(model.vocabularySize, model.padVocabularySizeMultiple)).validate()
        } catch {
            return ("model." + error.key, "model.\(error.key): \(error.message)")
        }
        if let task = syntheticTask {
            for (name, values) in [("data.train", data.train), ("data.validation", data.validation), ("data.tokenizer", data.tokenizer.isEmpty ? [] : [data.tokenizer])]
            where !values.isEmpty {
                return (name, "\(name): data.source = \"\(data.source.rawValue)\" generates its data; leave \(name) empty (or set data.source = \"files\")")
            }
            if let problem = task.problem(length: data.sequenceLength) {
                return ("data.source", "data.source: \(problem) (data.sequence_length \(data.sequenceLength), data.task_vocab_size \(data.taskVocabularySize), data.copy_tokens \(data.copyTokens), data.induction_queries \(data.inductionQueries))")
            }
            if model.vocabularySize != 0 && model.vocabularySize < task.vocabularySize {
                return ("model.vocab_size", "model.vocab_size: \(model.vocabularySize) is smaller than data.task_vocab_size \(task.vocabularySize)")
            }
        }
        let rawSuffixes = [".jsonl", ".jsonl.zst", ".txt", ".txt.zst"]
        if data.tokenizer.isEmpty, let raw = data.train.first(where: { input in rawSuffixes.contains { input.hasSuffix($0) } }) {
            return ("data.tokenizer",
                    "data.tokenizer: needed to tokenise the text input \(ConfigValue.quoted(raw)) (\"byte\" or a tokenizer.json path)")
        }
        let nonEmpty: [(String, [String])] = [
            ("data.train", data.train), ("data.validation", data.validation),
            ("optimizer.no_decay", optimizer.noDecay), ("train.frozen", training.frozen),
            ("data.text_field", [data.textField]), ("data.source_field", [data.sourceField]),
            ("data.prompt_field", [data.promptField]), ("data.completion_field", [data.completionField]),
            ("train.run_dir", [training.runDirectory]),
        ]
        for (name, values) in nonEmpty where values.contains("") {
            return (name, "\(name): must not be an empty string")
        }
        if !(data.validationFraction >= 0 && data.validationFraction < 1) {
            return ("data.validation_fraction", "data.validation_fraction: must be in [0, 1) (got \(data.validationFraction))")
        }
        if !(optimizer.learningRate > 0) {
            return ("optimizer.learning_rate", "optimizer.learning_rate: must be positive (got \(optimizer.learningRate))")
        }
        for (name, beta) in [("optimizer.beta1", optimizer.beta1), ("optimizer.beta2", optimizer.beta2)]
        where !(beta >= 0 && beta < 1) {
            return (name, "\(name): must be in [0, 1) (got \(beta))")
        }
        let positive: [(String, Double)] = [("optimizer.epsilon", optimizer.epsilon)]
        for (name, value) in positive where !(value > 0) {
            return (name, "\(name): must be positive (got \(value))")
        }
        let nonNegative: [(String, Double)] = [
            ("optimizer.weight_decay", optimizer.weightDecay), ("optimizer.gradient_clip", optimizer.gradientClip),
            ("schedule.min_learning_rate", schedule.minimumLearningRate),
            ("eval.sample_temperature", evaluation.sampleTemperature),
        ]
        for (name, value) in nonNegative where !(value >= 0) {
            return (name, "\(name): must not be negative (got \(value))")
        }
        if schedule.minimumLearningRate > optimizer.learningRate {
            return ("schedule.min_learning_rate",
                    "schedule.min_learning_rate: \(schedule.minimumLearningRate) is larger than optimizer.learning_rate \(optimizer.learningRate)")
        }
        if schedule.warmupSteps > training.maxSteps {
            return ("schedule.warmup_steps",
                    "schedule.warmup_steps: \(schedule.warmupSteps) is larger than train.max_steps \(training.maxSteps)")
        }
        if !(schedule.decayFraction >= 0 && schedule.decayFraction <= 1) {
            return ("schedule.decay_fraction", "schedule.decay_fraction: must be in [0, 1] (got \(schedule.decayFraction))")
        }
        let decaySteps = Int(schedule.decayFraction * Double(training.maxSteps))
        if schedule.kind == .wsd, schedule.warmupSteps + decaySteps > training.maxSteps {
            return ("schedule.warmup_steps",
                    "schedule.warmup_steps: \(schedule.warmupSteps) warmup steps and wsd's \(decaySteps) decay steps "
                    + "(decay_fraction \(schedule.decayFraction)) do not fit in train.max_steps \(training.maxSteps)")
        }
        if training.batchSize.multipliedReportingOverflow(by: training.gradientAccumulation).overflow
            || (training.batchSize * training.gradientAccumulation).multipliedReportingOverflow(by: data.sequenceLength).overflow {
            return ("train.batch_size", "train.batch_size: batch_size × gradient_accumulation × sequence_length overflows")
        }
        return nil
    }

    // MARK: Using the configuration

    /// The architecture of the `[model]` keys for a tokenizer of `vocabularySize` ids:
    /// `vocab_size` when set, else the tokenizer's size rounded up to `pad_vocab_size_multiple`.
    /// (`init_from` and `config` are files, which the trainer reads; this ignores them.)
    public func modelConfig(vocabularySize tokenizerVocabularySize: Int) throws(TrainConfigError) -> LanguageModelConfig {
        var vocabulary = model.vocabularySize
        if vocabulary == 0 {
            let multiple = max(model.padVocabularySizeMultiple, 1)
            vocabulary = (tokenizerVocabularySize + multiple - 1) / multiple * multiple
        } else if vocabulary < tokenizerVocabularySize {
            throw TrainConfigError(
                source: nil, key: "model.vocab_size",
                message: "model.vocab_size: \(vocabulary) is smaller than the tokenizer's vocabulary of \(tokenizerVocabularySize) ids")
        }
        return architecture(vocabularySize: vocabulary)
    }

    /// The synthetic task of `data.source`, or nil for files.
    public var syntheticTask: SyntheticTask? {
        let kind: SyntheticTaskKind
        switch data.source {
        case .files: return nil
        case .selectiveCopying: kind = .selectiveCopying
        case .inductionHeads: kind = .inductionHeads
        }
        return SyntheticTask(kind: kind, vocabularySize: data.taskVocabularySize, dataTokens: data.copyTokens, queries: data.inductionQueries,
            mixedQueries: data.inductionMixedQueries, answerInputs: data.copyAnswerInputs)
    }

    /// `modelConfig` for a `model.architecture = "mamba"` configuration.
    public func mambaConfig(vocabularySize tokenizerVocabularySize: Int) throws(TrainConfigError) -> MambaConfig {
        guard case .mamba(let config) = try modelConfig(vocabularySize: tokenizerVocabularySize) else {
            throw TrainConfigError(source: nil, key: "model.architecture", message: "model.architecture: \"\(model.architecture.rawValue)\" is not \"mamba\"")
        }
        return config
    }

    /// The `[model]` keys as the configuration of `model.architecture` with exactly
    /// `vocabularySize` ids.
    private func architecture(vocabularySize: Int) -> LanguageModelConfig {
        if model.architecture == .mamba2 {
            return .mamba2(Mamba2Config(
                vocabSize: vocabularySize, hiddenSize: model.hiddenSize, stateSize: model.stateSize,
                layerCount: model.layerCount, expand: model.expand, convKernel: model.convolutionKernel,
                headSize: model.headSize, groupCount: model.groupCount, chunkSize: model.chunkSize,
                useBias: model.useBias, useConvBias: model.useConvolutionBias, layerNormEpsilon: model.layerNormEpsilon,
                tieWordEmbeddings: model.tieWordEmbeddings, timeStepMin: model.timeStepMin,
                timeStepMax: model.timeStepMax, timeStepFloor: model.timeStepFloor,
                rescalePrenormResidual: model.rescalePrenormResidual,
                padVocabSizeMultiple: model.padVocabularySizeMultiple, initializerRange: model.initializerRange))
        }
        var config = MambaConfig(
            vocabSize: vocabularySize, hiddenSize: model.hiddenSize, stateSize: model.stateSize,
            layerCount: model.layerCount, expand: model.expand, convKernel: model.convolutionKernel,
            timeStepRank: model.timeStepRank, useBias: model.useBias, useConvBias: model.useConvolutionBias,
            layerNormEpsilon: model.layerNormEpsilon, tieWordEmbeddings: model.tieWordEmbeddings,
            timeStepMin: model.timeStepMin, timeStepMax: model.timeStepMax, timeStepFloor: model.timeStepFloor,
            timeStepScale: model.timeStepScale, timeStepInitScheme: model.timeStepInitScheme,
            rescalePrenormResidual: model.rescalePrenormResidual,
            padVocabSizeMultiple: model.padVocabularySizeMultiple, initializerRange: model.initializerRange)
        config.mixer = model.mixer
        config.gated = model.gate
        return .mamba(config)
    }

    /// `data.train` with glob patterns (`*`, `?`, `[…]`) expanded against the current
    /// directory, matches sorted; a pattern that matches nothing is an error.
    public func trainInputs() throws(TrainConfigError) -> [String] {
        try Self.expandGlobs(data.train, key: "data.train")
    }

    /// `data.validation` with glob patterns expanded, as for `trainInputs()`.
    public func validationInputs() throws(TrainConfigError) -> [String] {
        try Self.expandGlobs(data.validation, key: "data.validation")
    }

    private static func expandGlobs(_ patterns: [String], key: String) throws(TrainConfigError) -> [String] {
        var paths: [String] = []
        for pattern in patterns {
            guard pattern.contains(where: { "*?[".contains($0) }) else {
                paths.append(pattern)
                continue
            }
            var matches = glob_t()
            defer { globfree(&matches) }
            let status = glob(pattern, 0, nil, &matches)
            guard status == 0, matches.gl_pathc > 0 else {
                throw TrainConfigError(
                    source: nil, key: key,
                    message: "\(key): " + (status == GLOB_NOMATCH || status == 0
                        ? "no file matches \(ConfigValue.quoted(pattern))"
                        : "cannot expand \(ConfigValue.quoted(pattern)) (glob error \(status))"))
            }
            for index in 0..<Int(matches.gl_pathc) {
                if let path = matches.gl_pathv[index] { paths.append(String(cString: path)) }
            }
        }
        return paths
    }

    // MARK: Comparing and writing

    /// Every field as TOML, section by section in schema order, defaults included; parsing it
    /// gives back an equal configuration.
    public func resolvedTOML() -> String {
        var lines: [String] = []
        for section in ConfigSchema.sections {
            if !lines.isEmpty { lines.append("") }
            lines.append("[\(section.name)]")
            for field in ConfigSchema.fields(inSection: section.name) {
                lines.append("\(field.key) = \(field.read(self))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `section.key` of every field whose value differs from `other`'s, in schema order.
    public func differences(from other: TrainConfig) -> [String] {
        ConfigSchema.fields.filter { $0.read(self) != $0.read(other) }.map(\.name)
    }

    /// The differences from `other` that `--resume` refuses: those not in
    /// `keysChangeableOnResume`.
    public func differencesBlockingResume(from other: TrainConfig) -> [String] {
        differences(from: other).filter { name in
            !Self.keysChangeableOnResume.map(NamePattern.init).anyMatches(name)
        }
    }
}
