// TrainConfigTests.swift — the TOML training configuration: defaults, a file setting every
// key, `--set` overrides, every kind of error with its exact message, the resolved TOML
// round trip, differences between configurations, and the repository's configs/ files.

import Foundation
import Testing
import TaipanNN
@testable import TaipanTrain

/// A file that sets every key to something other than its default.
private let everyKeyText = """
    # every key, none at its default
    [model]
    init_from = "runs/base/checkpoints/step-00001000"
    config = ""
    vocab_size = 50280
    pad_vocab_size_multiple = 16
    hidden_size = 768
    state_size = 8
    num_hidden_layers = 24
    expand = 3
    conv_kernel = 3
    time_step_rank = 48
    use_bias = true
    use_conv_bias = false
    tie_word_embeddings = false
    layer_norm_epsilon = 1e-6
    initializer_range = 0.01
    rescale_prenorm_residual = false
    time_step_min = 0.002
    time_step_max = 0.2
    time_step_floor = 1e-3
    time_step_scale = 2      # an integer where a float is expected
    time_step_init_scheme = "constant"
    scan_checkpoint_interval = 32
    architecture = "mamba2"
    head_dim = 32
    n_groups = 2
    chunk_size = 128
    mixer = "lti"
    gate = false

    [data]
    train = ["pile/train/00.jsonl.zst", "pile/train/01.jsonl.zst"]
    validation = ["pile/val.jsonl.zst"]
    validation_fraction = 0.05
    tokenizer = "tokenizers/neox/tokenizer.json"
    sequence_length = 2048
    text_field = "content"
    source_field = "meta.redpajama_set_name"
    format = "prompt_completion"
    prompt_field = "input"
    completion_field = "output"
    bad_records = "skip"
    cache_dir = "scratch/token-cache"
    source = "files"         # the default: a synthetic source refuses train and validation files
    task_vocab_size = 12
    copy_tokens = 3
    copy_answer_inputs = "previous"
    induction_queries = 2
    induction_mixed_queries = true

    [optimizer]
    learning_rate = 3e-4
    beta1 = 0.8
    beta2 = 0.99
    epsilon = 1e-6
    weight_decay = 0.01
    no_decay = ["*.D"]
    gradient_clip = 0.5

    [schedule]
    kind = "wsd"
    warmup_steps = 50
    min_learning_rate = 1e-5
    decay_fraction = 0.25

    [train]
    run_dir = "runs/big"
    batch_size = 4
    gradient_accumulation = 64
    max_steps = 4800
    max_tokens = 2_500_000_000
    seed = 1234
    threads = 2
    frozen = ["backbone.embeddings.*", "*.A_log"]
    max_bad_steps = 2

    [eval]
    interval = 250
    batches = 5
    sample_prompt = "She said \\"hi\\"\\n\\tthen — left"
    sample_tokens = 32
    sample_temperature = 0
    sample_top_k = 0

    [checkpoint]
    interval = 1000
    keep_last = 2
    keep_every = 5000
    interval_minutes = 45.5

    [log]
    interval = 1
    tensorboard = false

    [lora]
    rank = 16
    alpha = 32.0
    dropout = 0.05
    target_modules = ["in_proj", "x_proj", "dt_proj"]
    modules_to_save = ["norm_f"]
    use_rslora = true
    """

/// The smallest valid file: every key but the training input at its default.
private let minimalText = """
    [data]
    train = ["datasets/tokens/sample"]
    """

/// The message of the error `body` throws, or a note that it threw none.
private func errorMessage(_ body: () throws(TrainConfigError) -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch {
        return error.description
    }
}

/// The error message of parsing `text` as `test.toml` with `overrides`.
private func parseError(_ text: String, overrides: [String] = []) -> String {
    errorMessage { () throws(TrainConfigError) in
        _ = try TrainConfig.parse(toml: text, source: "test.toml", overrides: overrides)
    }
}

/// A fresh empty directory under the temporary directory.
private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("TrainConfigTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct TrainConfigTests {
    @Test func defaults() {
        let config = TrainConfig()
        #expect(config.model.initFrom == "" && config.model.configFile == "")
        #expect(config.model.vocabularySize == 0 && config.model.padVocabularySizeMultiple == 8)
        #expect(config.model.hiddenSize == 256 && config.model.stateSize == 16 && config.model.layerCount == 4)
        #expect(config.model.expand == 2 && config.model.convolutionKernel == 4 && config.model.timeStepRank == nil)
        #expect(!config.model.useBias && config.model.useConvolutionBias && config.model.tieWordEmbeddings)
        #expect(config.model.layerNormEpsilon == 1e-5 && config.model.initializerRange == 0.02)
        #expect(config.model.rescalePrenormResidual)
        #expect(config.model.timeStepMin == 0.001 && config.model.timeStepMax == 0.1)
        #expect(config.model.timeStepFloor == 1e-4 && config.model.timeStepScale == 1.0)
        #expect(config.model.timeStepInitScheme == .random && config.model.scanCheckpointInterval == 64)
        #expect(config.data.train == [] && config.data.validation == [] && config.data.validationFraction == 0.01)
        #expect(config.data.tokenizer == "" && config.data.sequenceLength == 256)
        #expect(config.data.textField == "text" && config.data.sourceField == "meta.pile_set_name")
        #expect(config.data.badRecords == .fail && config.data.cacheDirectory == "")
        #expect(config.optimizer.learningRate == 6e-4 && config.optimizer.beta1 == 0.9 && config.optimizer.beta2 == 0.95)
        #expect(config.optimizer.epsilon == 1e-8 && config.optimizer.weightDecay == 0.1)
        #expect(config.optimizer.noDecay == ["*.A_log", "*.D", "*bias", "*norm*"])
        #expect(config.optimizer.gradientClip == 1.0)
        #expect(config.schedule.kind == .cosine && config.schedule.warmupSteps == 100)
        #expect(config.schedule.minimumLearningRate == 6e-5 && config.schedule.decayFraction == 0.2)
        #expect(config.training.runDirectory == "runs/default" && config.training.batchSize == 8)
        #expect(config.training.gradientAccumulation == 1 && config.training.maxSteps == 1000)
        #expect(config.training.maxTokens == 0 && config.training.seed == 0 && config.training.threads == 0)
        #expect(config.training.frozen == [] && config.training.maxBadSteps == 5)
        #expect(config.evaluation.interval == 100 && config.evaluation.batches == 20)
        #expect(config.evaluation.samplePrompt == "" && config.evaluation.sampleTokens == 64)
        #expect(config.evaluation.sampleTemperature == 0.8 && config.evaluation.sampleTopK == 40)
        #expect(config.checkpoint.interval == 500 && config.checkpoint.keepLast == 3 && config.checkpoint.keepEvery == 0)
        #expect(config.logging.interval == 10 && config.logging.tensorboard)
    }

    @Test func minimalFileGivesTheDefaults() throws {
        var expected = TrainConfig()
        expected.data.train = ["datasets/tokens/sample"]
        #expect(try TrainConfig.parse(toml: minimalText, source: "test.toml") == expected)
    }

    @Test func schemaCoversEveryKeyOnce() {
        let names = ConfigSchema.fields.map(\.name)
        #expect(names.count == 84)
        #expect(Set(names).count == names.count)
        #expect(Set(ConfigSchema.fields.map(\.section)) == Set(ConfigSchema.sections.map(\.name)))
        #expect(ConfigSchema.fields.allSatisfy { !$0.doc.isEmpty && !$0.doc.contains("\n") })
    }

    @Test func fullFile() throws {
        let config = try TrainConfig.parse(toml: everyKeyText, source: "full.toml")
        #expect(config.model.initFrom == "runs/base/checkpoints/step-00001000")
        #expect(config.model.vocabularySize == 50280 && config.model.padVocabularySizeMultiple == 16)
        #expect(config.model.hiddenSize == 768 && config.model.stateSize == 8 && config.model.layerCount == 24)
        #expect(config.model.expand == 3 && config.model.convolutionKernel == 3 && config.model.timeStepRank == 48)
        #expect(config.model.useBias && !config.model.useConvolutionBias && !config.model.tieWordEmbeddings)
        #expect(config.model.layerNormEpsilon == 1e-6 && config.model.initializerRange == 0.01)
        #expect(!config.model.rescalePrenormResidual)
        #expect(config.model.timeStepMin == 0.002 && config.model.timeStepMax == 0.2)
        #expect(config.model.timeStepFloor == 1e-3 && config.model.timeStepScale == 2.0)
        #expect(config.model.timeStepInitScheme == .constant && config.model.scanCheckpointInterval == 32)
        #expect(config.model.architecture == .mamba2 && config.model.headSize == 32)
        #expect(config.model.groupCount == 2 && config.model.chunkSize == 128)
        #expect(config.model.mixer == .lti && !config.model.gate)
        #expect(config.data.source == .files && config.data.taskVocabularySize == 12 && config.data.copyTokens == 3 && config.data.inductionQueries == 2)
        #expect(config.data.copyAnswerInputs == .previous && TrainConfig().data.copyAnswerInputs == .blank)
        #expect(config.data.inductionMixedQueries && config.syntheticTask == nil)
        #expect(config.data.train == ["pile/train/00.jsonl.zst", "pile/train/01.jsonl.zst"])
        #expect(config.data.validation == ["pile/val.jsonl.zst"] && config.data.validationFraction == 0.05)
        #expect(config.data.tokenizer == "tokenizers/neox/tokenizer.json" && config.data.sequenceLength == 2048)
        #expect(config.data.textField == "content" && config.data.sourceField == "meta.redpajama_set_name")
        #expect(config.data.badRecords == .skip && config.data.cacheDirectory == "scratch/token-cache")
        #expect(config.data.format == .promptCompletion && config.data.promptField == "input" && config.data.completionField == "output")
        #expect(config.optimizer.learningRate == 3e-4 && config.optimizer.beta1 == 0.8 && config.optimizer.beta2 == 0.99)
        #expect(config.optimizer.epsilon == 1e-6 && config.optimizer.weightDecay == 0.01)
        #expect(config.optimizer.noDecay == ["*.D"] && config.optimizer.gradientClip == 0.5)
        #expect(config.schedule.kind == .wsd && config.schedule.warmupSteps == 50)
        #expect(config.schedule.minimumLearningRate == 1e-5 && config.schedule.decayFraction == 0.25)
        #expect(config.training.runDirectory == "runs/big" && config.training.batchSize == 4)
        #expect(config.training.gradientAccumulation == 64 && config.training.maxSteps == 4800)
        #expect(config.training.maxTokens == 2_500_000_000 && config.training.seed == 1234 && config.training.threads == 2)
        #expect(config.training.frozen == ["backbone.embeddings.*", "*.A_log"] && config.training.maxBadSteps == 2)
        #expect(config.evaluation.interval == 250 && config.evaluation.batches == 5)
        #expect(config.evaluation.samplePrompt == "She said \"hi\"\n\tthen — left")
        #expect(config.evaluation.sampleTokens == 32 && config.evaluation.sampleTemperature == 0)
        #expect(config.evaluation.sampleTopK == 0)
        #expect(config.checkpoint.interval == 1000 && config.checkpoint.keepLast == 2 && config.checkpoint.keepEvery == 5000)
        #expect(config.checkpoint.intervalMinutes == 45.5)
        #expect(config.logging.interval == 1 && !config.logging.tensorboard)
        #expect(config.lora.rank == 16 && config.lora.alpha == 32 && config.lora.dropout == 0.05 && config.lora.useRSLoRA)
        #expect(config.lora.targetModules == ["in_proj", "x_proj", "dt_proj"] && config.lora.modulesToSave == ["norm_f"])
        // Every key was set away from its default but config and data.source.
        #expect(config.differences(from: TrainConfig()).count == ConfigSchema.fields.count - 2)
    }

    @Test func loadReadsAFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("run.toml").path
        try everyKeyText.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try TrainConfig.load(path: path) == TrainConfig.parse(toml: everyKeyText, source: "x"))
        let missing = directory.appendingPathComponent("missing.toml").path
        #expect(errorMessage { () throws(TrainConfigError) in _ = try TrainConfig.load(path: missing) }
                == "\(missing): no such file")
        #expect(errorMessage { () throws(TrainConfigError) in _ = try TrainConfig.load(path: directory.path) }
                == "\(directory.path): is a directory, not a TOML file")
    }

    @Test func overrides() throws {
        let config = try TrainConfig.parse(
            toml: everyKeyText, source: "full.toml",
            overrides: [
                "data.tokenizer=byte", "train.batch_size=16", "optimizer.learning_rate=1e-3",
                "data.train=[\"a.jsonl\", \"b.jsonl\"]", "model.time_step_rank=auto", "model.init_from=",
                "schedule.min_learning_rate=0", "eval.sample_prompt=\"quoted text\"", "log.tensorboard=true",
                "train.batch_size=32", "model.vocab_size = 1024",
            ])
        #expect(config.data.tokenizer == "byte")
        #expect(config.training.batchSize == 32)
        #expect(config.optimizer.learningRate == 1e-3)
        #expect(config.data.train == ["a.jsonl", "b.jsonl"])
        #expect(config.model.timeStepRank == nil)
        #expect(config.model.initFrom == "")
        #expect(config.schedule.minimumLearningRate == 0)
        #expect(config.evaluation.samplePrompt == "quoted text")
        #expect(config.logging.tensorboard)
        #expect(config.model.vocabularySize == 1024)
        // A value followed by another TOML line is one string, not two keys.
        let injected = try TrainConfig.parse(toml: minimalText, source: "x", overrides: ["eval.sample_prompt=1\nseed = 2"])
        #expect(injected.evaluation.samplePrompt == "1\nseed = 2")
    }

    @Test func unknownKeysAndSections() {
        #expect(parseError("[train]\nbatchsize = 8\n") == "test.toml:2: unknown key train.batchsize; did you mean train.batch_size?")
        #expect(parseError("[train]\nlearning_rate = 1e-3\n")
                == "test.toml:2: unknown key train.learning_rate; did you mean optimizer.learning_rate?")
        #expect(parseError("[train]\nwibble_wobble_flip = 1\n")
                == "test.toml:2: unknown key train.wibble_wobble_flip; known: train.run_dir, train.batch_size, "
                + "train.gradient_accumulation, train.max_steps, train.max_tokens, train.seed, train.threads, "
                + "train.frozen, train.max_bad_steps")
        #expect(parseError("[data]\ntrain = [\"a\"]\n\n[optimiser]\nbeta1 = 0.9\n")
                == "test.toml:4: unknown section [optimiser]; did you mean [optimizer]?")
        #expect(parseError("batch_size = 8\n") == "test.toml:1: key batch_size is not inside a [section]; did you mean train.batch_size?")
        #expect(parseError("[train.extra]\nx = 1\n")
                == "test.toml: unknown key train.extra; did you mean train.seed?")
        // Problems are reported in file order.
        #expect(parseError("[train]\nseed = 1\nbatchsiz = 2\n\n[eval]\nbatchs = 3\n")
                == "test.toml:3: unknown key train.batchsiz; did you mean train.batch_size?")
    }

    @Test func wrongTypes() {
        let prefix = "[data]\ntrain = [\"a\"]\n"
        #expect(parseError(prefix + "[train]\nbatch_size = \"eight\"\n")
                == "test.toml:4: train.batch_size: expected an integer, got \"eight\" (string)")
        #expect(parseError(prefix + "[train]\nbatch_size = 8.0\n")
                == "test.toml:4: train.batch_size: expected an integer, got 8.0 (float)")
        #expect(parseError(prefix + "[optimizer]\nlearning_rate = \"fast\"\n")
                == "test.toml:4: optimizer.learning_rate: expected a number, got \"fast\" (string)")
        #expect(parseError(prefix + "[log]\ntensorboard = 1\n")
                == "test.toml:4: log.tensorboard: expected a boolean (true or false), got 1 (integer)")
        #expect(parseError(prefix + "[schedule]\nkind = \"linear\"\n")
                == "test.toml:4: schedule.kind: expected one of \"cosine\", \"constant\", \"wsd\", got \"linear\" (string)")
        #expect(parseError("[data]\ntrain = [\"a\"]\nbad_records = \"ignore\"\n")
                == "test.toml:3: data.bad_records: expected one of \"fail\", \"skip\", got \"ignore\" (string)")
        #expect(parseError("[data]\ntrain = [\"a\"]\nformat = \"chat\"\n")
                == "test.toml:3: data.format: expected one of \"text\", \"prompt_completion\", got \"chat\" (string)")
        #expect(parseError("[data]\ntrain = [\"a\"]\ncopy_answer_inputs = \"teacher\"\n")
                == "test.toml:3: data.copy_answer_inputs: expected one of \"blank\", \"previous\", got \"teacher\" (string)")
        #expect(parseError("[data]\ntrain = [\"a\"]\ncompletion_field = \"\"\n") == "test.toml:3: data.completion_field: must not be an empty string")
        #expect(parseError("[data]\ntrain = [\"a\", 2]\n")
                == "test.toml:2: data.train: expected an array of strings, got [\"a\", 2] (array)")
        #expect(parseError("[data]\ntrain = \"a.jsonl\"\n")
                == "test.toml:2: data.train: expected an array of strings, got \"a.jsonl\" (string)")
        #expect(parseError(prefix + "[model]\ntime_step_rank = \"big\"\n")
                == "test.toml:4: model.time_step_rank: expected \"auto\" or an integer, got \"big\" (string)")
        #expect(parseError(prefix + "[model]\nhidden_size = { width = 3 }\n")
                == "test.toml:4: model.hidden_size: expected an integer, got { width = 3 } (table)")
        #expect(parseError(prefix + "[model]\nhidden_size = 1979-05-27\n")
                == "test.toml:4: model.hidden_size: expected an integer, got 1979-05-27 (date)")
        #expect(parseError("[train]\nbatch_size = 8\n[train]\n").hasPrefix("test.toml:3: invalid TOML"))
        #expect(parseError("[train\n").hasPrefix("test.toml:1: invalid TOML"))
        #expect(parseError(prefix + "[[train]]\nseed = 1\n")
                == "test.toml:3: train must be one table, [train], not [{ seed = 1 }] (array)")
    }

    /// Found by the FuzzTrainConfig target: a table header whose key starts with a character
    /// that is neither a bare-key character nor a quote made TOMLKit's parser abort the process
    /// (a toml++ assertion); such headers are an error naming the line and column.
    @Test func tableHeadersStartingWithAStrayCharacterAreAnError() {
        let expected = "invalid TOML (column %d): a table header's key must start with a letter, digit, '_', '-' or a quote"
        #expect(parseError("# a config\n[\u{FFFD}train]\nsteps = 1\n") == "test.toml:2: " + String(format: expected, 2))
        #expect(parseError("[[ \u{E9}]]\n") == "test.toml:1: " + String(format: expected, 4))
        #expect(parseError("[train]\n  [.a]\n") == "test.toml:2: " + String(format: expected, 4))
        #expect(parseError("[~]\n") == "test.toml:1: " + String(format: expected, 2))
        // Brackets inside values, strings and comments are not headers.
        let values = "[train]\nsteps = 1\n# [~]\n[data]\ntrain = [\n  \"a\",\n]\nsource_field = \"\"\"\n[~]\"\"\"\n"
        #expect(TrainConfig.parserHazard(values) == nil)
        #expect(TrainConfig.parserHazard("x = [\n  [{a = 1}],\n  [~],\n]\ns = '''\n[~]'''\n") == nil)
        #expect(TrainConfig.parserHazard("s = \"\"\"a\"\"\"\"\"\n[~]\n").map { [$0.line, $0.column] } == [2, 2])
    }

    /// Found by the FuzzTrainConfig target (second campaign): a date followed by `T` and then
    /// not by a digit (`1979-05-27Tx07:32:00Z`) made toml++ read a time without checking that
    /// one starts, an assertion that aborted the process. It is an error naming the line and
    /// the column after the `T`; well-formed dates, times and look-alikes in strings, comments
    /// and keys are left to the parser.
    @Test func aDateWithoutATimeAfterItsTIsAnError() {
        let expected = "invalid TOML (column %d): a date followed by 'T' must be followed by a time (HH:MM:SS)"
        #expect(parseError("[train]\nseed = 1979-05-27Tx07:32:00Z\n") == "test.toml:2: " + String(format: expected, 19))
        #expect(parseError("[train]\nseed = [1, 1979-05-27t:]\n") == "test.toml:2: " + String(format: expected, 23))
        #expect(parseError("[train]\nseed = {a = 1979-05-27T-7:32}\n") == "test.toml:2: " + String(format: expected, 24))
        #expect(parseError("[train]\nseed = 1979-05-27T\u{FFFD}\n") == "test.toml:2: " + String(format: expected, 19))
        #expect(parseError("[train]\nseed = 1979-05-27T") == "test.toml:2: " + String(format: expected, 19))
        // The same text given with --set is not TOML, so it is taken as a string.
        #expect(parseError("[train]\n", overrides: ["train.seed=1979-05-27Tx07:32:00Z"])
                == "--set train.seed=1979-05-27Tx07:32:00Z: train.seed: expected an integer, got \"1979-05-27Tx07:32:00Z\" (string)")
        for fine in ["t = 1979-05-27T07:32:00Z\n", "t = 1979-05-27 07:32:00\n", "t = 1979-05-27\n", "t = 07:32:00\n",
                     "s = \"1979-05-27Tx\" # 1979-05-27Tx\n", "x1979-05-27Tx = 1\n", "n = 1.5e-3\n", "n = 0x1979\n"] {
            #expect(TrainConfig.parserHazard(fine) == nil, "\(fine)")
        }
    }

    /// Found by the FuzzTrainConfig target (third campaign): a `}` where an array expects a
    /// value (`[1, }]`, `[\n}]`) tripped a toml++ assertion that aborted the process.
    @Test func aBraceWhereAnArrayExpectsAValueIsAnError() {
        let expected = "invalid TOML (column %d): '}' where an array expects a value or ']'"
        #expect(parseError("[train]\nseed = [1, }]\n") == "test.toml:2: " + String(format: expected, 12))
        #expect(parseError("[train]\nseed = [}]\n") == "test.toml:2: " + String(format: expected, 9))
        #expect(parseError("[train]\nseed = [1, # c\r\n  }]\n") == "test.toml:3: " + String(format: expected, 3))
        #expect(parseError("[train]\nseed = {a = [ }]}\n") == "test.toml:2: " + String(format: expected, 15))
        for fine in ["x = [1, 2,]\n", "x = [{a = 1}, {b = [2]}]\n", "x = {a = [1], b = 2}\n", "x = [1, \"}\"]\n", "x = [1, # }\n 2]\n"] {
            #expect(TrainConfig.parserHazard(fine) == nil, "\(fine)")
        }
    }

    @Test func inconsistentValues() {
        let cases: [(String, String)] = [
            ("[data]\nsequence_length = 0", "test.toml:2: data.sequence_length: must be at least 1 (got 0)"),
            ("[train]\nbatch_size = 0", "test.toml:2: train.batch_size: must be at least 1 (got 0)"),
            ("[train]\nmax_steps = 50", "test.toml: schedule.warmup_steps: 100 is larger than train.max_steps 50"),
            ("[schedule]\nmin_learning_rate = 1e-3",
             "test.toml:2: schedule.min_learning_rate: 0.001 is larger than optimizer.learning_rate 0.0006"),
            ("[optimizer]\nbeta1 = 1.0", "test.toml:2: optimizer.beta1: must be in [0, 1) (got 1.0)"),
            ("[optimizer]\nbeta2 = -0.5", "test.toml:2: optimizer.beta2: must be in [0, 1) (got -0.5)"),
            ("[checkpoint]\nkeep_last = 0", "test.toml:2: checkpoint.keep_last: must be at least 1 (got 0)"),
            ("[model]\ninit_from = \"runs/a/checkpoints/step-00000010\"\nconfig = \"config.json\"",
             "test.toml:3: model.config: cannot be set together with model.init_from, which brings its own architecture"),
            ("[model]\ntime_step_min = 0.5",
             "test.toml:2: model.time_step_min: 0.5 is larger than time_step_max 0.1"),
            ("[model]\nhidden_size = 0", "test.toml:2: model.hidden_size: must be positive (got 0)"),
            ("[optimizer]\nlearning_rate = nan", "test.toml:2: optimizer.learning_rate: must be finite (got nan)"),
            ("[optimizer]\nlearning_rate = 0", "test.toml:2: optimizer.learning_rate: must be positive (got 0.0)"),
            ("[data]\nvalidation_fraction = 1", "test.toml:2: data.validation_fraction: must be in [0, 1) (got 1.0)"),
            ("[optimizer]\nno_decay = [\"\"]", "test.toml:2: optimizer.no_decay: must not be an empty string"),
            ("[schedule]\nkind = \"wsd\"\nwarmup_steps = 900",
             "test.toml:3: schedule.warmup_steps: 900 warmup steps and wsd's 200 decay steps (decay_fraction 0.2) "
             + "do not fit in train.max_steps 1000"),
        ]
        for (text, message) in cases {
            #expect(parseError(text + "\n", overrides: ["data.train=[\"a\"]"]) == message)
        }
        // Benchmark configs name no data; the trainer asks for it (TrainerTests).
        #expect(parseError("[train]\nseed = 1\n") == "no error")
        #expect(parseError("[data]\ntrain = [\"shards/\", \"more/a.jsonl.zst\"]\n")
                == "test.toml: data.tokenizer: needed to tokenise the text input \"more/a.jsonl.zst\" (\"byte\" or a tokenizer.json path)")
    }

    @Test func overrideErrors() {
        #expect(parseError(minimalText, overrides: ["train.batchsize=8"])
                == "--set train.batchsize=8: unknown key train.batchsize; did you mean train.batch_size?")
        #expect(parseError(minimalText, overrides: ["batch_size=8"])
                == "--set batch_size=8: key batch_size is not inside a [section]; did you mean train.batch_size?")
        #expect(parseError(minimalText, overrides: ["trian.seed=8"])
                == "--set trian.seed=8: unknown section [trian]; did you mean [train]?")
        #expect(parseError(minimalText, overrides: ["train.seed"]) == "--set train.seed: expected section.key=value")
        #expect(parseError(minimalText, overrides: ["train.batch_size=eight"])
                == "--set train.batch_size=eight: train.batch_size: expected an integer, got \"eight\" (string)")
        // A value that is wrong only in combination names the override that set it.
        #expect(parseError(minimalText, overrides: ["train.max_steps=10", "schedule.warmup_steps=20"])
                == "--set schedule.warmup_steps=20: schedule.warmup_steps: 20 is larger than train.max_steps 10")
    }

    @Test func resolvedTOMLRoundTrip() throws {
        let config = try TrainConfig.parse(toml: everyKeyText, source: "full.toml")
        let text = config.resolvedTOML()
        #expect(try TrainConfig.parse(toml: text, source: "resolved.toml") == config)
        let lines = text.split(separator: "\n")
        #expect(lines.first == "[model]")
        #expect(lines.contains("learning_rate = 0.0003"))
        #expect(lines.contains("time_step_rank = 48"))
        #expect(lines.contains("no_decay = [\"*.D\"]"))
        #expect(lines.contains("sample_prompt = \"She said \\\"hi\\\"\\n\\tthen — left\""))
        #expect(lines.filter { $0.contains(" = ") }.count == ConfigSchema.fields.count)

        var defaults = TrainConfig()
        defaults.data.train = ["x"]
        let resolvedDefaults = defaults.resolvedTOML()
        #expect(resolvedDefaults.contains("time_step_rank = \"auto\"\n"))
        #expect(resolvedDefaults.contains("min_learning_rate = 6e-05\n"))
        #expect(try TrainConfig.parse(toml: resolvedDefaults, source: "resolved.toml") == defaults)
    }

    @Test func differences() throws {
        let base = try TrainConfig.parse(toml: minimalText, source: "a.toml")
        let changed = try TrainConfig.parse(
            toml: minimalText, source: "b.toml",
            overrides: ["train.max_steps=2000", "eval.interval=50", "optimizer.learning_rate=1e-3",
                        "log.tensorboard=false", "data.sequence_length=512", "train.threads=1"])
        #expect(changed.differences(from: base) == [
            "data.sequence_length", "optimizer.learning_rate", "train.max_steps", "train.threads",
            "eval.interval", "log.tensorboard",
        ])
        #expect(changed.differencesBlockingResume(from: base) == ["data.sequence_length", "optimizer.learning_rate"])
        #expect(base.differences(from: base) == [])
    }

    @Test func mambaConfig() throws {
        var config = TrainConfig()
        let automatic = try config.mambaConfig(vocabularySize: 4093)
        #expect(automatic.vocabSize == 4096)
        #expect(automatic.hiddenSize == 256 && automatic.stateSize == 16 && automatic.layerCount == 4)
        #expect(automatic.timeStepRank == 16 && automatic.intermediateSize == 512)
        #expect(automatic.rescalePrenormResidual && automatic.initializerRange == 0.02)
        #expect(try config.mambaConfig(vocabularySize: 4096).vocabSize == 4096)
        config.model.vocabularySize = 50280
        config.model.timeStepRank = 7
        let explicit = try config.mambaConfig(vocabularySize: 50277)
        #expect(explicit.vocabSize == 50280 && explicit.timeStepRank == 7)
        #expect(errorMessage { () throws(TrainConfigError) in _ = try config.mambaConfig(vocabularySize: 50281) }
                == "model.vocab_size: 50280 is smaller than the tokenizer's vocabulary of 50281 ids")
    }

    @Test func globExpansion() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["train-00001.jsonl.zst", "train-00000.jsonl.zst", "val-00000.jsonl.zst"] {
            try Data().write(to: directory.appendingPathComponent(name))
        }
        var config = TrainConfig()
        config.data.train = [directory.path + "/train-*.jsonl.zst", "plain/dir"]
        config.data.validation = [directory.path + "/val-*"]
        #expect(try config.trainInputs() == [
            directory.path + "/train-00000.jsonl.zst", directory.path + "/train-00001.jsonl.zst", "plain/dir",
        ])
        #expect(try config.validationInputs() == [directory.path + "/val-00000.jsonl.zst"])
        config.data.validation = [directory.path + "/test-*.jsonl"]
        #expect(errorMessage { () throws(TrainConfigError) in _ = try config.validationInputs() }
                == "data.validation: no file matches \"\(directory.path)/test-*.jsonl\"")
    }

    @Test func explain() throws {
        let text = try ConfigSchema.explanation()
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("[") }
        #expect(rows.count == ConfigSchema.fields.count)
        #expect(rows.contains { $0.hasPrefix("train.batch_size ") && $0.contains(" int ") && $0.contains(" 8 ") })
        #expect(rows.contains { $0.hasPrefix("schedule.kind ") && $0.contains(" cosine|constant|wsd ") && $0.contains(" \"cosine\" ") })
        #expect(rows.contains { $0.hasPrefix("optimizer.no_decay ") && $0.contains("[\"*.A_log\", \"*.D\", \"*bias\", \"*norm*\"]") })
        let section = try ConfigSchema.explanation(section: "log")
        #expect(section.split(separator: "\n").count == 3)
        #expect(errorMessage { () throws(TrainConfigError) in _ = try ConfigSchema.explanation(section: "logs") }
                == "unknown section [logs]; did you mean [log]?")
    }

    /// Every file in the repository's configs/ directory parses.
    @Test func configsParse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("configs")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".toml") }.sorted()
        #expect(names == [
            "bench-130m-mamba2.toml", "bench-130m.toml", "bench-small-mamba2.toml", "bench-small.toml", "finetune-lora.toml",
            "finetune.toml", "mamba-130m.toml", "quickstart-mamba2.toml", "quickstart.toml",
        ])
        for name in names {
            let config = try TrainConfig.load(path: directory.appendingPathComponent(name).path)
            // Benchmark configs train on random tokens; the others name their data.
            #expect(config.data.train.isEmpty == name.hasPrefix("bench-"), "\(name)")
        }
        let lora = try TrainConfig.load(path: directory.appendingPathComponent("finetune-lora.toml").path)
        #expect(lora.lora.isEnabled && lora.data.format == .promptCompletion && lora.model.initFrom.hasPrefix("runs/quickstart/"))
        let quickstart = try TrainConfig.load(path: directory.appendingPathComponent("quickstart.toml").path)
        #expect(quickstart.training.runDirectory == "runs/quickstart")
        #expect(try quickstart.mambaConfig(vocabularySize: 4096).vocabSize == 4096)
        let large = try TrainConfig.load(path: directory.appendingPathComponent("mamba-130m.toml").path)
        let architecture = try large.mambaConfig(vocabularySize: 50277)
        #expect(architecture.vocabSize == 50280 && architecture.hiddenSize == 768 && architecture.layerCount == 24)
        // About 0.5M tokens a step.
        #expect(large.training.batchSize * large.training.gradientAccumulation * large.data.sequenceLength == 524_288)
        for name in ["quickstart-mamba2.toml", "bench-small-mamba2.toml", "bench-130m-mamba2.toml"] {
            let config = try TrainConfig.load(path: directory.appendingPathComponent(name).path)
            guard case .mamba2(let mamba2) = try config.modelConfig(vocabularySize: 4096) else {
                Issue.record("\(name) is not a Mamba-2 config")
                continue
            }
            #expect(mamba2.headSize == 64 && mamba2.groupCount == 1 && mamba2.expand == 2, "\(name)")
        }
        let small = try TrainConfig.load(path: directory.appendingPathComponent("bench-small-mamba2.toml").path)
        if case .mamba2(let c) = try small.modelConfig(vocabularySize: 4096) {
            #expect(c.hiddenSize == 256 && c.layerCount == 4 && c.stateSize == 64 && c.chunkSize == 64 && c.convKernel == 4 && c.vocabSize == 4096)
            #expect(small.training.batchSize == 8 && small.data.sequenceLength == 256)
        }
        let mamba2Large = try TrainConfig.load(path: directory.appendingPathComponent("bench-130m-mamba2.toml").path)
        if case .mamba2(let c) = try mamba2Large.modelConfig(vocabularySize: 50277) {
            #expect(c.hiddenSize == 768 && c.layerCount == 24 && c.stateSize == 128 && c.vocabSize == 50280)
        }
        let finetune = try TrainConfig.load(path: directory.appendingPathComponent("finetune.toml").path)
        #expect(!finetune.model.initFrom.isEmpty && finetune.schedule.kind == .constant)
    }
}
