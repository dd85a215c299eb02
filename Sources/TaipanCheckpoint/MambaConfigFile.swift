// MambaConfigFile.swift — reads a Mamba model's `config.json` in either of its two forms and
// writes the Hugging Face form back.
//
// - Hugging Face `MambaConfig` (transformers): `hidden_size`, `state_size`,
//   `num_hidden_layers`, `time_step_rank` (a number or "auto"), …; missing keys take
//   transformers' defaults.
// - `mamba_ssm` (state-spaces/mamba, `MambaConfig` in `models/config_mamba.py`): `d_model`,
//   `n_layer`, `vocab_size`, `ssm_cfg` {d_state, d_conv, expand, dt_rank, …}; the vocabulary
//   is rounded up to `pad_vocab_size_multiple` as `MambaLMHeadModel` does.
//
// Taipan's variants for the Mamba paper's ablations (an LTI mixer, no gate) are not models
// transformers can run: their config.json says `model_type: "taipan_mamba"` (which
// transformers refuses by name instead of loading wrong weights) with `ssm_mixer` and
// `ssm_gate`; a standard model's file never holds those keys.
//
// Keys that do not change the model (token ids aside, which are kept) are accepted and
// ignored; any other unknown key is an error, so a typo never passes silently.

import Foundation
import TaipanNN

extension MambaConfig {
    /// Reads the `config.json` at `path`, in Hugging Face or `mamba_ssm` form (told apart by
    /// the presence of `d_model`), and validates it.
    public static func read(contentsOf path: String) throws(CheckpointError) -> MambaConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CheckpointError.io(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(data)
        } catch {
            throw CheckpointError.invalidHeader(path: path, message: "not valid JSON: \(error)")
        }
        return try parse(json, path: path)
    }

    /// Builds a configuration from a parsed `config.json`; `path` names it in errors.
    public static func parse(_ json: JSONValue, path: String) throws(CheckpointError) -> MambaConfig {
        guard case .object(let members) = json else {
            throw CheckpointError.invalidHeader(path: path, message: "config is \(json.kindDescription), not an object")
        }
        var reader = ConfigKeys(members: members, path: path, prefix: "")
        if json["d_model"] != nil {
            if json["hidden_size"] != nil {
                throw CheckpointError.invalidConfig(
                    path: path, key: "d_model", message: "mixes mamba_ssm (d_model) and Hugging Face (hidden_size) keys")
            }
            return try parseMambaSSM(&reader)
        }
        return try parseHuggingFace(&reader)
    }

    private static func parseHuggingFace(_ reader: inout ConfigKeys) throws(CheckpointError) -> MambaConfig {
        let modelType = try reader.string("model_type")
        if let modelType, modelType != "mamba" && modelType != variantModelType {
            throw reader.fail("model_type", "\"\(modelType)\" is not \"mamba\" (or Taipan's \"\(variantModelType)\")")
        }
        if let activation = try reader.string("hidden_act"), activation != "silu" {
            throw reader.fail("hidden_act", "\"\(activation)\" is not supported, only \"silu\"")
        }
        if let rmsNorm = try reader.bool("rms_norm"), !rmsNorm {
            throw reader.fail("rms_norm", "false (LayerNorm) is not supported; Mamba blocks use RMSNorm")
        }
        try reader.stringArray("architectures")
        var config = MambaConfig()
        config.vocabSize = try reader.integer("vocab_size") ?? config.vocabSize
        config.hiddenSize = try reader.integer("hidden_size") ?? config.hiddenSize
        config.stateSize = try reader.integer("state_size") ?? config.stateSize
        config.layerCount = try reader.integer("num_hidden_layers") ?? config.layerCount
        if let legacyLayerCount = try reader.integer("n_layer"), legacyLayerCount != config.layerCount {
            throw reader.fail("n_layer", "\(legacyLayerCount) differs from num_hidden_layers \(config.layerCount)")
        }
        config.expand = try reader.integer("expand") ?? config.expand
        config.convKernel = try reader.integer("conv_kernel") ?? config.convKernel
        config.timeStepRank =
            try reader.rank("time_step_rank") ?? automaticTimeStepRank(hiddenSize: config.hiddenSize)
        config.useBias = try reader.bool("use_bias") ?? config.useBias
        config.useConvBias = try reader.bool("use_conv_bias") ?? config.useConvBias
        config.layerNormEpsilon = try reader.double("layer_norm_epsilon") ?? config.layerNormEpsilon
        config.tieWordEmbeddings = try reader.bool("tie_word_embeddings") ?? config.tieWordEmbeddings
        config.timeStepMin = try reader.double("time_step_min") ?? config.timeStepMin
        config.timeStepMax = try reader.double("time_step_max") ?? config.timeStepMax
        config.timeStepFloor = try reader.double("time_step_floor") ?? config.timeStepFloor
        config.timeStepScale = try reader.double("time_step_scale") ?? config.timeStepScale
        config.timeStepInitScheme = try reader.scheme("time_step_init_scheme") ?? config.timeStepInitScheme
        config.rescalePrenormResidual = try reader.bool("rescale_prenorm_residual") ?? config.rescalePrenormResidual
        config.padVocabSizeMultiple = try reader.integer("pad_vocab_size_multiple") ?? config.padVocabSizeMultiple
        config.residualInFP32 = try reader.bool("residual_in_fp32") ?? config.residualInFP32
        config.initializerRange = try reader.double("initializer_range") ?? config.initializerRange
        config.bosTokenId = try reader.tokenId("bos_token_id", default: config.bosTokenId)
        config.eosTokenId = try reader.tokenId("eos_token_id", default: config.eosTokenId)
        config.padTokenId = try reader.tokenId("pad_token_id", default: config.padTokenId)
        if let mixer = try reader.string("ssm_mixer") {
            guard let kind = MambaMixerKind(rawValue: mixer) else {
                throw reader.fail("ssm_mixer", "\"\(mixer)\" is not one of \(MambaMixerKind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            config.mixer = kind
        }
        config.gated = try reader.bool("ssm_gate") ?? true
        if modelType == variantModelType && config.isStandardMamba {
            throw reader.fail("model_type", "\"\(variantModelType)\" is for LTI or ungated models, but ssm_mixer and ssm_gate describe a standard Mamba; write \"mamba\"")
        }
        if modelType == "mamba" && !config.isStandardMamba {
            throw reader.fail("model_type", "\"mamba\" cannot hold an LTI or ungated mixer (ssm_mixer/ssm_gate); write \"\(variantModelType)\"")
        }
        if let intermediateSize = try reader.integer("intermediate_size"),
            intermediateSize != config.expand &* config.hiddenSize
        {
            throw reader.fail(
                "intermediate_size",
                "\(intermediateSize) is not expand × hidden_size = \(config.expand) × \(config.hiddenSize)")
        }
        try reader.rejectUnknownKeys(ignoring: ignoredHuggingFaceKeys)
        do {
            try config.validate()
        } catch {
            throw reader.fail(error.key, error.message)
        }
        return config
    }

    private static func parseMambaSSM(_ reader: inout ConfigKeys) throws(CheckpointError) -> MambaConfig {
        if let intermediate = try reader.integer("d_intermediate"), intermediate != 0 {
            throw reader.fail("d_intermediate", "MLP blocks (d_intermediate \(intermediate)) are not supported")
        }
        if let attentionLayers = reader.take("attn_layer_idx"), attentionLayers != .array([]) {
            throw reader.fail("attn_layer_idx", "attention layers are not supported")
        }
        if let attention = reader.take("attn_cfg"), attention != .object([]) {
            throw reader.fail("attn_cfg", "attention layers are not supported")
        }
        if let rmsNorm = try reader.bool("rms_norm"), !rmsNorm {
            throw reader.fail("rms_norm", "false (LayerNorm) is not supported; Mamba blocks use RMSNorm")
        }
        _ = try reader.bool("fused_add_norm")
        // mamba_ssm's own defaults, which differ from transformers' in places
        // (initializer_range 0.02, rescale_prenorm_residual true, vocabulary padded to 8).
        var config = MambaConfig(
            initializerRange: 0.02, bosTokenId: nil, eosTokenId: nil, padTokenId: nil)
        config.rescalePrenormResidual = true
        config.hiddenSize = try reader.integer("d_model") ?? 2560
        config.layerCount = try reader.integer("n_layer") ?? 64
        let vocabSize = try reader.integer("vocab_size") ?? 50277
        config.padVocabSizeMultiple = try reader.integer("pad_vocab_size_multiple") ?? 8
        config.residualInFP32 = try reader.bool("residual_in_fp32") ?? true
        config.tieWordEmbeddings = try reader.bool("tie_embeddings") ?? true

        var ssm = ConfigKeys(members: [], path: reader.path, prefix: "ssm_cfg.")
        if let ssmValue = reader.take("ssm_cfg") {
            guard case .object(let members) = ssmValue else {
                throw reader.fail("ssm_cfg", "is \(ssmValue.kindDescription), not an object")
            }
            ssm = ConfigKeys(members: members, path: reader.path, prefix: "ssm_cfg.")
        }
        if let layer = try ssm.string("layer"), layer != "Mamba1" {
            throw ssm.fail("layer", "\"\(layer)\" is not supported, only \"Mamba1\"")
        }
        config.stateSize = try ssm.integer("d_state") ?? 16
        config.convKernel = try ssm.integer("d_conv") ?? 4
        config.expand = try ssm.integer("expand") ?? 2
        config.timeStepRank = try ssm.rank("dt_rank") ?? automaticTimeStepRank(hiddenSize: config.hiddenSize)
        config.timeStepMin = try ssm.double("dt_min") ?? 0.001
        config.timeStepMax = try ssm.double("dt_max") ?? 0.1
        config.timeStepInitScheme = try ssm.scheme("dt_init") ?? .random
        config.timeStepScale = try ssm.double("dt_scale") ?? 1.0
        config.timeStepFloor = try ssm.double("dt_init_floor") ?? 1e-4
        config.useConvBias = try ssm.bool("conv_bias") ?? true
        config.useBias = try ssm.bool("bias") ?? false
        _ = try ssm.bool("use_fast_path")
        try ssm.rejectUnknownKeys(ignoring: [])
        try reader.rejectUnknownKeys(ignoring: [])

        if config.padVocabSizeMultiple > 0 && vocabSize % config.padVocabSizeMultiple != 0 {
            config.vocabSize = vocabSize + config.padVocabSizeMultiple - vocabSize % config.padVocabSizeMultiple
        } else {
            config.vocabSize = vocabSize
        }
        do {
            try config.validate()
        } catch {
            let key = mambaSSMKeys[error.key] ?? error.key
            throw CheckpointError.invalidConfig(path: reader.path, key: key, message: error.message)
        }
        return config
    }

    /// The `model_type` of Taipan's LTI and ungated models.
    public static let variantModelType = "taipan_mamba"

    /// Hugging Face keys that carry no information about the model this project trains.
    private static let ignoredHuggingFaceKeys: Set<String> = [
        "transformers_version", "use_cache", "dtype", "torch_dtype", "use_mambapy",
        "use_associative_scan", "fused_add_norm", "_name_or_path", "_commit_hash", "output_attentions",
        "output_hidden_states", "return_dict", "tokenizer_class",
    ]

    /// The `mamba_ssm` key for each Hugging Face key `validate()` may name.
    private static let mambaSSMKeys: [String: String] = [
        "vocab_size": "vocab_size", "hidden_size": "d_model", "num_hidden_layers": "n_layer",
        "state_size": "ssm_cfg.d_state", "expand": "ssm_cfg.expand", "conv_kernel": "ssm_cfg.d_conv",
        "time_step_rank": "ssm_cfg.dt_rank", "time_step_min": "ssm_cfg.dt_min",
        "time_step_max": "ssm_cfg.dt_max", "time_step_floor": "ssm_cfg.dt_init_floor",
        "time_step_scale": "ssm_cfg.dt_scale", "pad_vocab_size_multiple": "pad_vocab_size_multiple",
    ]

    /// The Hugging Face `config.json` object for this configuration, keys sorted as
    /// transformers writes them, for a directory whose weights are stored in float32.
    ///
    /// transformers runs its initialisation rules when it loads a directory, and some of them
    /// touch weights that were loaded: with `rescale_prenorm_residual: true`, transformers 5
    /// divides every loaded `out_proj.weight` by √num_hidden_layers (a 21% logit error on a
    /// trained checkpoint). The rescaling belongs to a fresh model and the stored weights
    /// already carry it, so the key is always written false. The other keys transformers reads
    /// at load time (`time_step_*`, `initializer_range`) only initialise weights a checkpoint
    /// lacks, and Taipan always writes every weight; `dtype` says what the file holds, so
    /// `dtype="auto"` loads the weights unconverted.
    public func huggingFaceJSON() -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("architectures", .array([.string("MambaForCausalLM")])),
            ("conv_kernel", .integer(convKernel)),
            ("dtype", .string("float32")),
            ("expand", .integer(expand)),
            ("hidden_act", .string("silu")),
            ("hidden_size", .integer(hiddenSize)),
            ("initializer_range", .double(initializerRange)),
            ("intermediate_size", .integer(intermediateSize)),
            ("layer_norm_epsilon", .double(layerNormEpsilon)),
            ("model_type", .string("mamba")),
            ("num_hidden_layers", .integer(layerCount)),
            ("rescale_prenorm_residual", .bool(false)),
            ("residual_in_fp32", .bool(residualInFP32)),
            ("state_size", .integer(stateSize)),
            ("tie_word_embeddings", .bool(tieWordEmbeddings)),
            ("time_step_floor", .double(timeStepFloor)),
            ("time_step_init_scheme", .string(timeStepInitScheme.rawValue)),
            ("time_step_max", .double(timeStepMax)),
            ("time_step_min", .double(timeStepMin)),
            ("time_step_rank", .integer(timeStepRank)),
            ("time_step_scale", .double(timeStepScale)),
            ("use_bias", .bool(useBias)),
            ("use_conv_bias", .bool(useConvBias)),
            ("vocab_size", .integer(vocabSize)),
        ]
        let tokenIds: [(String, Int?)] = [
            ("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId), ("pad_token_id", padTokenId),
        ]
        for (key, id) in tokenIds { members.append((key, id.map { .integer($0) } ?? .null)) }
        if !isStandardMamba {
            members.removeAll { $0.key == "architectures" || $0.key == "model_type" }
            members.append(("architectures", .array([.string("TaipanMambaForCausalLM")])))
            members.append(("model_type", .string(Self.variantModelType)))
            members.append(("ssm_mixer", .string(mixer.rawValue)))
            members.append(("ssm_gate", .bool(gated)))
        }
        if padVocabSizeMultiple != 1 { members.append(("pad_vocab_size_multiple", .integer(padVocabSizeMultiple))) }
        return .object(members.sorted { $0.key < $1.key })
    }

    /// Validates this configuration and writes it to `path` as a Hugging Face `config.json`,
    /// atomically.
    public func write(to path: String) throws(CheckpointError) {
        do {
            try validate()
        } catch {
            throw CheckpointError.invalidConfig(path: path, key: error.key, message: error.message)
        }
        let text = huggingFaceJSON().serialized(indented: true) + "\n"
        try writeAtomically(path: path) { file throws(CheckpointError) in try file.write(text) }
    }
}

/// The members of one JSON object, read key by key; remembers which keys were read so the
/// rest can be reported as unknown.
struct ConfigKeys {
    var members: [String: JSONValue]
    let path: String
    /// Prepended to keys in error messages, e.g. `ssm_cfg.`.
    let prefix: String

    init(members: [(key: String, value: JSONValue)], path: String, prefix: String) {
        self.members = Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        self.path = path
        self.prefix = prefix
    }

    func fail(_ key: String, _ message: String) -> CheckpointError {
        CheckpointError.invalidConfig(path: path, key: prefix + key, message: message)
    }

    /// Removes and returns the value of `key`; JSON `null` counts as absent.
    mutating func take(_ key: String) -> JSONValue? {
        guard let value = members.removeValue(forKey: key), value != .null else { return nil }
        return value
    }

    mutating func integer(_ key: String) throws(CheckpointError) -> Int? {
        guard let value = take(key) else { return nil }
        guard let integer = value.integerValue else { throw fail(key, "expected an integer, got \(value.serialized())") }
        return integer
    }

    mutating func double(_ key: String) throws(CheckpointError) -> Double? {
        guard let value = take(key) else { return nil }
        guard let number = value.doubleValue else { throw fail(key, "expected a number, got \(value.serialized())") }
        return number
    }

    mutating func bool(_ key: String) throws(CheckpointError) -> Bool? {
        guard let value = take(key) else { return nil }
        guard let flag = value.boolValue else { throw fail(key, "expected true or false, got \(value.serialized())") }
        return flag
    }

    mutating func string(_ key: String) throws(CheckpointError) -> String? {
        guard let value = take(key) else { return nil }
        guard let text = value.stringValue else { throw fail(key, "expected a string, got \(value.serialized())") }
        return text
    }

    /// Reads a list of strings and discards it (`architectures`).
    mutating func stringArray(_ key: String) throws(CheckpointError) {
        guard let value = take(key) else { return }
        guard case .array(let elements) = value, elements.allSatisfy({ $0.stringValue != nil }) else {
            throw fail(key, "expected a list of strings, got \(value.serialized())")
        }
    }

    /// A time-step rank: an integer, or `"auto"` (returned as `nil`).
    mutating func rank(_ key: String) throws(CheckpointError) -> Int? {
        guard let value = take(key) else { return nil }
        if value == .string("auto") { return nil }
        guard let integer = value.integerValue else {
            throw fail(key, "expected an integer or \"auto\", got \(value.serialized())")
        }
        return integer
    }

    mutating func scheme(_ key: String) throws(CheckpointError) -> TimeStepInitScheme? {
        guard let name = try string(key) else { return nil }
        guard let scheme = TimeStepInitScheme(rawValue: name) else {
            let known = TimeStepInitScheme.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw fail(key, "\"\(name)\" is not \(known)")
        }
        return scheme
    }

    /// A token id: an integer, or `null` for none; `fallback` when the key is absent.
    mutating func tokenId(_ key: String, default fallback: Int?) throws(CheckpointError) -> Int? {
        guard let value = members.removeValue(forKey: key) else { return fallback }
        if value == .null { return nil }
        guard let integer = value.integerValue else { throw fail(key, "expected an integer or null, got \(value.serialized())") }
        return integer
    }

    /// Throws for the first (alphabetically) key not read yet and not in `ignored`.
    mutating func rejectUnknownKeys(ignoring ignored: Set<String>) throws(CheckpointError) {
        if let unknown = members.keys.filter({ !ignored.contains($0) }).sorted().first {
            throw fail(unknown, "unknown key")
        }
    }
}
