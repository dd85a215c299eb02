// ConfigSchema.swift — the one table behind the TOML training configuration: every
// `section.key` with its type, its place in `TrainConfig` and a one-line doc. Parsing, type
// checking, `resolvedTOML()`, `differences(from:)` and `taipan config explain` all walk this
// table; defaults are the property initialisers of `TrainConfig`'s sections.
//
// Values are TOML 1.0 values (https://toml.io/en/v1.0.0); `ConfigValue` is the subset a
// configuration holds, independent of the TOML library.

import TaipanData
import TaipanNN

/// A TOML value as the configuration sees it.
public enum ConfigValue: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([ConfigValue])
    /// A table, its keys in the order the TOML library gave them.
    case table([(key: String, value: ConfigValue)])
    /// A date, a time or a date-time: no field takes one. `text` is how the file wrote it.
    case dateOrTime(kind: String, text: String)

    public static func == (left: ConfigValue, right: ConfigValue) -> Bool {
        switch (left, right) {
        case let (.string(a), .string(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.float(a), .float(b)): return a == b
        case let (.boolean(a), .boolean(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.table(a), .table(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.dateOrTime(kindA, textA), .dateOrTime(kindB, textB)): return kindA == kindB && textA == textB
        default: return false
        }
    }

    /// The TOML type name, as error messages print it after a value: `"eight" (string)`.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .array: return "array"
        case .table: return "table"
        case .dateOrTime(let kind, _): return kind
        }
    }

    /// The value written as TOML: strings quoted and escaped, floats in a form that reads back
    /// to the same `Double`.
    public var description: String {
        switch self {
        case .string(let text): return Self.quoted(text)
        case .integer(let value): return String(value)
        case .float(let value):
            if value.isNaN { return "nan" }
            if value.isInfinite { return value < 0 ? "-inf" : "inf" }
            return String(value)
        case .boolean(let value): return value ? "true" : "false"
        case .array(let elements): return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        case .table(let entries):
            if entries.isEmpty { return "{}" }
            return "{ " + entries.map { "\(Self.tomlKey($0.key)) = \($0.value)" }.joined(separator: ", ") + " }"
        case .dateOrTime(_, let text): return text
        }
    }

    /// A TOML basic string: `"` and `\` escaped, control characters as escapes.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// A key as TOML writes it: bare when it only holds `A-Za-z0-9_-`, quoted otherwise.
    static func tomlKey(_ key: String) -> String {
        let bare = !key.isEmpty && key.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
        return bare ? key : quoted(key)
    }
}

/// The type of a configuration field.
public enum ConfigType: Equatable, Sendable {
    case integer
    /// A float; integers are accepted too.
    case float
    case boolean
    case string
    case stringArray
    /// A string from a fixed list.
    case choice([String])
    /// The string `"auto"` or an integer.
    case integerOrAuto

    /// The short name `taipan config explain` prints.
    public var shortName: String {
        switch self {
        case .integer: return "int"
        case .float: return "float"
        case .boolean: return "bool"
        case .string: return "string"
        case .stringArray: return "[string]"
        case .choice(let choices): return choices.joined(separator: "|")
        case .integerOrAuto: return "auto|int"
        }
    }

    /// What an error message says was expected: "an integer", "one of …".
    var expectation: String {
        switch self {
        case .integer: return "an integer"
        case .float: return "a number"
        case .boolean: return "a boolean (true or false)"
        case .string: return "a string"
        case .stringArray: return "an array of strings"
        case .choice(let choices): return "one of " + choices.map(ConfigValue.quoted).joined(separator: ", ")
        case .integerOrAuto: return "\"auto\" or an integer"
        }
    }

    /// The value in this type's canonical form (an integer given for a float becomes a float),
    /// or `nil` when the value does not have this type.
    func accept(_ value: ConfigValue) -> ConfigValue? {
        switch (self, value) {
        case (.integer, .integer), (.float, .float), (.boolean, .boolean), (.string, .string):
            return value
        case (.float, .integer(let integer)):
            return .float(Double(integer))
        case (.stringArray, .array(let elements)):
            return elements.allSatisfy { if case .string = $0 { true } else { false } } ? value : nil
        case (.choice(let choices), .string(let text)):
            return choices.contains(text) ? value : nil
        case (.integerOrAuto, .integer), (.integerOrAuto, .string("auto")):
            return value
        default:
            return nil
        }
    }
}

/// A section of the configuration: `[model]`, `[data]`, …
public struct ConfigSection: Sendable {
    /// The TOML table name.
    public let name: String
    /// One line on what the section holds.
    public let doc: String
}

/// One `section.key` of the configuration: its type, one-line doc, and how to read and write
/// it in a `TrainConfig`.
///
/// `@unchecked Sendable`: the accessors only capture key paths, which are immutable values.
public struct ConfigField: @unchecked Sendable {
    /// The TOML table the key lives in.
    public let section: String
    /// The snake_case TOML key.
    public let key: String
    /// The type the key takes.
    public let type: ConfigType
    /// One line on what the key does.
    public let doc: String
    /// Reads the field from a configuration.
    let read: (TrainConfig) -> ConfigValue
    /// Writes a value already accepted by `type` into a configuration.
    let write: (inout TrainConfig, ConfigValue) -> Void

    /// `section.key`.
    public var name: String { section + "." + key }

    static func integer(
        _ section: String, _ key: String, _ path: WritableKeyPath<TrainConfig, Int>, _ doc: String
    ) -> ConfigField {
        ConfigField(
            section: section, key: key, type: .integer, doc: doc,
            read: { .integer($0[keyPath: path]) },
            write: { if case .integer(let value) = $1 { $0[keyPath: path] = value } })
    }

    static func float(
        _ section: String, _ key: String, _ path: WritableKeyPath<TrainConfig, Double>, _ doc: String
    ) -> ConfigField {
        ConfigField(
            section: section, key: key, type: .float, doc: doc,
            read: { .float($0[keyPath: path]) },
            write: { if case .float(let value) = $1 { $0[keyPath: path] = value } })
    }

    static func boolean(
        _ section: String, _ key: String, _ path: WritableKeyPath<TrainConfig, Bool>, _ doc: String
    ) -> ConfigField {
        ConfigField(
            section: section, key: key, type: .boolean, doc: doc,
            read: { .boolean($0[keyPath: path]) },
            write: { if case .boolean(let value) = $1 { $0[keyPath: path] = value } })
    }

    static func string(
        _ section: String, _ key: String, _ path: WritableKeyPath<TrainConfig, String>, _ doc: String
    ) -> ConfigField {
        ConfigField(
            section: section, key: key, type: .string, doc: doc,
            read: { .string($0[keyPath: path]) },
            write: { if case .string(let value) = $1 { $0[keyPath: path] = value } })
    }

    static func strings(
        _ section: String, _ key: String, _ path: WritableKeyPath<TrainConfig, [String]>, _ doc: String
    ) -> ConfigField {
        ConfigField(
            section: section, key: key, type: .stringArray, doc: doc,
            read: { .array($0[keyPath: path].map(ConfigValue.string)) },
            write: { config, value in
                guard case .array(let elements) = value else { return }
                config[keyPath: path] = elements.compactMap { if case .string(let text) = $0 { text } else { nil } }
            })
    }

    static func choice<Choice: RawRepresentable & CaseIterable>(
        _ section: String, _ key: String, _ path: WritableKeyPath<TrainConfig, Choice>, _ doc: String
    ) -> ConfigField where Choice.RawValue == String {
        ConfigField(
            section: section, key: key, type: .choice(Choice.allCases.map(\.rawValue)), doc: doc,
            read: { .string($0[keyPath: path].rawValue) },
            write: { config, value in
                if case .string(let text) = value, let choice = Choice(rawValue: text) { config[keyPath: path] = choice }
            })
    }

    /// A field where `"auto"` is stored as `nil`.
    static func integerOrAuto(
        _ section: String, _ key: String, _ path: WritableKeyPath<TrainConfig, Int?>, _ doc: String
    ) -> ConfigField {
        ConfigField(
            section: section, key: key, type: .integerOrAuto, doc: doc,
            read: { config in config[keyPath: path].map(ConfigValue.integer) ?? .string("auto") },
            write: { config, value in
                switch value {
                case .integer(let integer): config[keyPath: path] = integer
                default: config[keyPath: path] = nil
                }
            })
    }
}

/// The configuration's sections and fields, in the order files and `explain` show them.
public enum ConfigSchema {
    /// Every section, in order.
    public static let sections: [ConfigSection] = [
        ConfigSection(name: "model", doc: "the model: a checkpoint or config.json to start from, or the architecture"),
        ConfigSection(name: "data", doc: "training and validation text, the tokenizer, the sequence length"),
        ConfigSection(name: "optimizer", doc: "AdamW with decoupled weight decay, and gradient clipping"),
        ConfigSection(name: "schedule", doc: "the learning-rate schedule"),
        ConfigSection(name: "train", doc: "the run: its directory, batch, length, seed, threads, frozen parameters"),
        ConfigSection(name: "eval", doc: "validation loss and text samples during the run"),
        ConfigSection(name: "checkpoint", doc: "how often checkpoints are written and which are kept"),
        ConfigSection(name: "log", doc: "the progress line, metrics.jsonl and TensorBoard"),
        ConfigSection(name: "lora", doc: "LoRA fine-tuning: low-rank adapters on a frozen model.init_from, saved in PEFT's format"),
    ]

    /// Every field, section by section.
    public static let fields: [ConfigField] = [
        .string("model", "init_from", \.model.initFrom,
                "checkpoint dir (RUN/checkpoints/step-…) or Hugging Face model dir to take weights from; \"\" = none"),
        .string("model", "config", \.model.configFile,
                "a Hugging Face config.json to take the architecture from; \"\" = use the keys below"),
        .choice("model", "architecture", \.model.architecture,
                "mamba (MambaForCausalLM, selective scan) or mamba2 (Mamba2ForCausalLM, SSD)"),
        .integer("model", "vocab_size", \.model.vocabularySize,
                 "vocabulary size; 0 = the tokenizer's, rounded up to pad_vocab_size_multiple"),
        .integer("model", "pad_vocab_size_multiple", \.model.padVocabularySizeMultiple,
                 "the multiple an automatic vocabulary size is rounded up to"),
        .integer("model", "hidden_size", \.model.hiddenSize, "D: the width of the residual stream"),
        .integer("model", "state_size", \.model.stateSize, "N: the SSM state size of each channel"),
        .integer("model", "num_hidden_layers", \.model.layerCount, "the number of Mamba blocks"),
        .integer("model", "expand", \.model.expand, "E / D: how much wider the mixer's inner channels are"),
        .integer("model", "conv_kernel", \.model.convolutionKernel, "the width of the causal depthwise convolution"),
        .integerOrAuto("model", "time_step_rank", \.model.timeStepRank,
                       "R: rank of the Δ projection; \"auto\" = ceil(hidden_size / 16)"),
        .boolean("model", "use_bias", \.model.useBias, "whether in_proj and out_proj carry biases"),
        .boolean("model", "use_conv_bias", \.model.useConvolutionBias, "whether the convolution carries a bias"),
        .boolean("model", "tie_word_embeddings", \.model.tieWordEmbeddings,
                 "whether the LM head shares the embedding's weight"),
        .float("model", "layer_norm_epsilon", \.model.layerNormEpsilon, "the ε of every RMSNorm"),
        .float("model", "initializer_range", \.model.initializerRange,
               "standard deviation of the embedding's normal initialisation"),
        .boolean("model", "rescale_prenorm_residual", \.model.rescalePrenormResidual,
                 "scale out_proj weights by 1/sqrt(num_hidden_layers) at initialisation"),
        .float("model", "time_step_min", \.model.timeStepMin, "the smallest initial time step Δ"),
        .float("model", "time_step_max", \.model.timeStepMax, "the largest initial time step Δ"),
        .float("model", "time_step_floor", \.model.timeStepFloor, "the floor initial time steps are clamped to"),
        .float("model", "time_step_scale", \.model.timeStepScale, "the scale of dt_proj's weight initialisation"),
        .choice("model", "time_step_init_scheme", \.model.timeStepInitScheme,
                "dt_proj weights uniform in ±scale/sqrt(R) (random) or all equal to it (constant)"),
        .integer("model", "scan_checkpoint_interval", \.model.scanCheckpointInterval,
                 "K: the scan stores its state every K steps and recomputes the rest in backward"),
        .integer("model", "head_dim", \.model.headSize, "mamba2: P, channels per head (expand·hidden_size / head_dim heads)"),
        .integer("model", "n_groups", \.model.groupCount, "mamba2: G, groups of heads sharing B and C"),
        .integer("model", "chunk_size", \.model.chunkSize, "mamba2: steps per chunk of the SSD scan (any value gives the same model)"),
        .choice("model", "mixer", \.model.mixer,
                "the SSM: s6 (selective: Δ, B, C from the input) or lti (Δ, B, C learned constants; not a transformers model)"),
        .boolean("model", "gate", \.model.gate, "multiply the SSM output by silu(z); false = the Mamba paper's \"no gate\" ablation"),

        .strings("data", "train", \.data.train,
                 "training inputs: .jsonl/.jsonl.zst/.txt files, directories, globs, or a token-shard dir"),
        .strings("data", "validation", \.data.validation,
                 "validation inputs, as for train; [] = hold out validation_fraction of train"),
        .float("data", "validation_fraction", \.data.validationFraction,
               "share of the training documents held out for validation when validation is []"),
        .string("data", "tokenizer", \.data.tokenizer,
                "\"byte\" or a tokenizer.json path; needed unless train is prepared token shards"),
        .integer("data", "sequence_length", \.data.sequenceLength, "L: tokens per training sequence"),
        .string("data", "text_field", \.data.textField, "dotted key path of the text in a JSON record"),
        .choice("data", "format", \.data.format,
                "text (every token a target) or prompt_completion (one example a row, padded; the loss counts the completion)"),
        .string("data", "prompt_field", \.data.promptField, "prompt_completion: dotted key path of an example's prompt"),
        .string("data", "completion_field", \.data.completionField, "prompt_completion: dotted key path of an example's completion"),
        .string("data", "source_field", \.data.sourceField, "dotted key path of the record's source name"),
        .choice("data", "bad_records", \.data.badRecords,
                "a record that is not valid JSON/UTF-8 text stops the run (fail) or is counted (skip)"),
        .string("data", "cache_dir", \.data.cacheDirectory, "where prepared token shards go; \"\" = RUN/data"),
        .choice("data", "source", \.data.source,
                "files (train/validation), or a synthetic task generated on the fly: selective_copying, induction_heads"),
        .integer("data", "task_vocab_size", \.data.taskVocabularySize, "synthetic tasks: ids in all, the special ids included"),
        .integer("data", "copy_tokens", \.data.copyTokens, "selective_copying: data tokens to reproduce in each row"),
        .choice("data", "copy_answer_inputs", \.data.copyAnswerInputs,
                "selective_copying: what the model reads at the answer positions after the marker: blank (the noise id; the paper's form) or previous (the answer before, teacher-forced)"),
        .integer("data", "induction_queries", \.data.inductionQueries,
                 "induction_heads: answered trigger occurrences in each row (1 = only the last, as in the paper)"),
        .boolean("data", "induction_mixed_queries", \.data.inductionMixedQueries,
                 "induction_heads: each row draws its number of queries uniformly from 1 to induction_queries (long gaps and many answers)"),

        .float("optimizer", "learning_rate", \.optimizer.learningRate, "the peak learning rate"),
        .float("optimizer", "beta1", \.optimizer.beta1, "AdamW's decay of the first moment"),
        .float("optimizer", "beta2", \.optimizer.beta2, "AdamW's decay of the second moment"),
        .float("optimizer", "epsilon", \.optimizer.epsilon, "AdamW's ε added to the root of the second moment"),
        .float("optimizer", "weight_decay", \.optimizer.weightDecay,
               "decoupled weight decay, on every parameter not matched by no_decay"),
        .strings("optimizer", "no_decay", \.optimizer.noDecay,
                 "parameter-name patterns (* = any text) that get no weight decay"),
        .float("optimizer", "gradient_clip", \.optimizer.gradientClip,
               "the global gradient norm is clipped to this; 0 = no clipping"),

        .choice("schedule", "kind", \.schedule.kind,
                "after warmup: cosine to min_learning_rate, constant, or warmup-stable-decay (wsd)"),
        .integer("schedule", "warmup_steps", \.schedule.warmupSteps, "steps of linear warmup from 0"),
        .float("schedule", "min_learning_rate", \.schedule.minimumLearningRate,
               "the floor cosine and wsd decay to"),
        .float("schedule", "decay_fraction", \.schedule.decayFraction, "wsd: the share of steps spent decaying at the end"),

        .string("train", "run_dir", \.training.runDirectory, "the run directory: checkpoints, metrics, logs, prepared data"),
        .integer("train", "batch_size", \.training.batchSize, "B: sequences per micro-batch, all ranks together"),
        .integer("train", "gradient_accumulation", \.training.gradientAccumulation,
                 "micro-batches per optimizer step (a step sees B × this sequences)"),
        .integer("train", "max_steps", \.training.maxSteps, "optimizer steps to train for"),
        .integer("train", "max_tokens", \.training.maxTokens,
                 "stop after this many training tokens if before max_steps; 0 = no limit"),
        .integer("train", "seed", \.training.seed, "seeds initialisation, data order and sampling"),
        .integer("train", "threads", \.training.threads, "worker threads per rank; 0 = the cores ÷ the ranks on the host"),
        .strings("train", "frozen", \.training.frozen, "parameter-name patterns (* = any text) left untrained"),
        .integer("train", "max_bad_steps", \.training.maxBadSteps,
                 "NaN/infinite steps in a row (each skipped) before the run stops"),

        .integer("eval", "interval", \.evaluation.interval, "steps between evaluations; 0 = only at the end"),
        .integer("eval", "batches", \.evaluation.batches, "validation batches per evaluation"),
        .string("eval", "sample_prompt", \.evaluation.samplePrompt,
                "text to continue at each evaluation; \"\" = no sample"),
        .integer("eval", "sample_tokens", \.evaluation.sampleTokens, "tokens generated for the sample"),
        .float("eval", "sample_temperature", \.evaluation.sampleTemperature,
               "sampling temperature; 0 = greedy"),
        .integer("eval", "sample_top_k", \.evaluation.sampleTopK,
                 "sample among the k most likely tokens; 0 = all"),

        .integer("checkpoint", "interval", \.checkpoint.interval,
                 "steps between checkpoints; 0 = only at the end"),
        .integer("checkpoint", "keep_last", \.checkpoint.keepLast, "how many of the newest checkpoints are kept"),
        .integer("checkpoint", "keep_every", \.checkpoint.keepEvery,
                 "also keep every checkpoint whose step is a multiple of this; 0 = none"),
        .float("checkpoint", "interval_minutes", \.checkpoint.intervalMinutes,
               "also write one when this many minutes have passed since the last; 0 = none"),

        .integer("log", "interval", \.logging.interval, "steps between progress lines and metrics records"),
        .boolean("log", "tensorboard", \.logging.tensorboard, "also write TensorBoard event files under RUN/tensorboard"),

        .integer("lora", "rank", \.lora.rank, "r: the rank of every adapter; 0 = no LoRA (train the weights themselves)"),
        .float("lora", "alpha", \.lora.alpha, "α: adapters' updates are scaled by alpha / rank (alpha / sqrt(rank) with use_rslora)"),
        .float("lora", "dropout", \.lora.dropout, "dropout on the adapters' inputs while training"),
        .strings("lora", "target_modules", \.lora.targetModules,
                 "module names (or their last parts) that get adapters: in_proj, x_proj (applied by PEFT + transformers), dt_proj, out_proj"),
        .strings("lora", "modules_to_save", \.lora.modulesToSave,
                 "module names trained in full and saved with the adapter (e.g. norm_f)"),
        .boolean("lora", "use_rslora", \.lora.useRSLoRA, "scale by alpha / sqrt(rank) (rank-stabilised LoRA)"),
    ]

    /// The field called `section.key`, if there is one.
    public static func field(named name: String) -> ConfigField? {
        fields.first { $0.name == name }
    }

    /// The fields of one section, in order.
    public static func fields(inSection section: String) -> [ConfigField] {
        fields.filter { $0.section == section }
    }

    /// `section.key  type  default  doc` for every field (of one section when `section` is
    /// given), in aligned columns, each section under a `[section]  doc` heading.
    public static func explanation(section: String? = nil) throws(TrainConfigError) -> String {
        var shown = sections
        if let section {
            guard let known = sections.first(where: { $0.name == section }) else {
                throw TrainConfigError(
                    source: nil, key: nil,
                    message: "unknown section [\(section)]" + suggestion(for: section, among: sections.map(\.name), brackets: true))
            }
            shown = [known]
        }
        let defaults = TrainConfig()
        let table = shown.map { section in
            (section, fields(inSection: section.name).map {
                [$0.name, $0.type.shortName, $0.read(defaults).description, $0.doc]
            })
        }
        var widths = [0, 0, 0]
        for row in table.flatMap(\.1) {
            for column in 0..<3 { widths[column] = max(widths[column], row[column].count) }
        }
        var lines: [String] = []
        for (section, rows) in table {
            if !lines.isEmpty { lines.append("") }
            lines.append("[\(section.name)]  \(section.doc)")
            for row in rows {
                let padded = (0..<3).map { row[$0] + String(repeating: " ", count: widths[$0] - row[$0].count) }
                lines.append(padded.joined(separator: "  ") + "  " + row[3])
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `"; did you mean NAME?"` for the candidate nearest to `name` by edit distance, or a list
    /// of the candidates when none is near.
    static func suggestion(for name: String, among candidates: [String], brackets: Bool = false) -> String {
        let wrap = { (candidate: String) in brackets ? "[\(candidate)]" : candidate }
        guard let nearest = candidates.min(by: { editDistance(name, $0) < editDistance(name, $1) }) else { return "" }
        if editDistance(name, nearest) <= max(3, nearest.count / 2) {
            return "; did you mean \(wrap(nearest))?"
        }
        return "; known: " + candidates.map(wrap).joined(separator: ", ")
    }

    /// Levenshtein distance over Unicode scalars: insertions, deletions and substitutions cost 1.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
