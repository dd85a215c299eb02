// Mamba2ConfigFile.swift — reads a Mamba-2 model's `config.json` in either of its two forms and
// writes the Hugging Face form back.
//
// - Hugging Face `Mamba2Config` (transformers, `model_type: "mamba2"`): `hidden_size`,
//   `state_size`, `head_dim`, `n_groups`, `chunk_size`, `time_step_limit` (whose infinite end
//   transformers 5 writes as `{"__float__": "Infinity"}`), …; missing keys take transformers'
//   defaults.
// - `mamba_ssm` (`MambaConfig` with `ssm_cfg.layer = "Mamba2"`): `d_model`, `n_layer`,
//   `vocab_size`, `ssm_cfg` {d_state, d_conv, expand, headdim, ngroups, chunk_size, dt_limit, …},
//   with `mamba_ssm`'s `Mamba2` defaults; the vocabulary is rounded up to
//   `pad_vocab_size_multiple` as `MambaLMHeadModel` does.
//
// As for Mamba-1, keys that do not change the model are accepted and ignored and any other
// unknown key is an error naming it.

import Foundation
import TaipanNN

extension Mamba2Config {
    /// Builds a configuration from a parsed `config.json` in Hugging Face or `mamba_ssm` form
    /// (told apart by `d_model`); `path` names it in errors.
    public static func parse(_ json: JSONValue, path: String) throws(CheckpointError) -> Mamba2Config {
        guard case .object(let members) = json else {
            throw CheckpointError.invalidHeader(path: path, message: "config is \(json.kindDescription), not an object")
        }
        var reader = ConfigKeys(members: members, path: path, prefix: "")
        return json["d_model"] != nil ? try parseMambaSSM(&reader) : try parseHuggingFace(&reader)
    }

    private static func parseHuggingFace(_ reader: inout ConfigKeys) throws(CheckpointError) -> Mamba2Config {
        if let modelType = try reader.string("model_type"), modelType != "mamba2" {
            throw reader.fail("model_type", "\"\(modelType)\" is not \"mamba2\"")
        }
        if let activation = try reader.string("hidden_act"), activation != "silu" {
            throw reader.fail("hidden_act", "\"\(activation)\" is not supported, only \"silu\"")
        }
        if let normBeforeGate = try reader.bool("norm_before_gate"), normBeforeGate {
            throw reader.fail("norm_before_gate", "true is not supported; Mamba2ForCausalLM gates before the norm")
        }
        if let rmsNorm = try reader.bool("rms_norm"), !rmsNorm {
            throw reader.fail("rms_norm", "false is not supported; Mamba-2 blocks use RMSNorm")
        }
        try reader.stringArray("architectures")
        var config = Mamba2Config()
        config.vocabSize = try reader.integer("vocab_size") ?? config.vocabSize
        config.hiddenSize = try reader.integer("hidden_size") ?? config.hiddenSize
        config.stateSize = try reader.integer("state_size") ?? config.stateSize
        config.layerCount = try reader.integer("num_hidden_layers") ?? config.layerCount
        config.expand = try reader.integer("expand") ?? config.expand
        config.convKernel = try reader.integer("conv_kernel") ?? config.convKernel
        config.headSize = try reader.integer("head_dim") ?? config.headSize
        config.groupCount = try reader.integer("n_groups") ?? config.groupCount
        config.chunkSize = try reader.integer("chunk_size") ?? config.chunkSize
        config.timeStepRank = try reader.rank("time_step_rank") ?? MambaConfig.automaticTimeStepRank(hiddenSize: config.hiddenSize)
        config.useBias = try reader.bool("use_bias") ?? config.useBias
        config.useConvBias = try reader.bool("use_conv_bias") ?? config.useConvBias
        config.layerNormEpsilon = try reader.double("layer_norm_epsilon") ?? config.layerNormEpsilon
        config.tieWordEmbeddings = try reader.bool("tie_word_embeddings") ?? config.tieWordEmbeddings
        config.timeStepMin = try reader.double("time_step_min") ?? config.timeStepMin
        config.timeStepMax = try reader.double("time_step_max") ?? config.timeStepMax
        config.timeStepFloor = try reader.double("time_step_floor") ?? config.timeStepFloor
        config.timeStepLimit = try reader.limit("time_step_limit") ?? config.timeStepLimit
        config.rescalePrenormResidual = try reader.bool("rescale_prenorm_residual") ?? config.rescalePrenormResidual
        config.padVocabSizeMultiple = try reader.integer("pad_vocab_size_multiple") ?? config.padVocabSizeMultiple
        config.residualInFP32 = try reader.bool("residual_in_fp32") ?? config.residualInFP32
        config.initializerRange = try reader.double("initializer_range") ?? config.initializerRange
        config.bosTokenId = try reader.tokenId("bos_token_id", default: config.bosTokenId)
        config.eosTokenId = try reader.tokenId("eos_token_id", default: config.eosTokenId)
        config.padTokenId = try reader.tokenId("pad_token_id", default: config.padTokenId)
        if let heads = try reader.integer("num_heads"), config.headSize > 0, heads * config.headSize != config.intermediateSize {
            throw reader.fail("num_heads", "\(heads) heads of head_dim \(config.headSize) are not expand × hidden_size = \(config.intermediateSize)")
        }
        try reader.rejectUnknownKeys(ignoring: ignoredKeys)
        do {
            try config.validate()
        } catch {
            throw reader.fail(error.key, error.message)
        }
        return config
    }

    private static func parseMambaSSM(_ reader: inout ConfigKeys) throws(CheckpointError) -> Mamba2Config {
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
            throw reader.fail("rms_norm", "false (LayerNorm) is not supported; Mamba-2 blocks use RMSNorm")
        }
        _ = try reader.bool("fused_add_norm")
        var config = Mamba2Config(initializerRange: 0.02, bosTokenId: nil, eosTokenId: nil, padTokenId: nil)
        config.rescalePrenormResidual = true
        config.hiddenSize = try reader.integer("d_model") ?? 2560
        config.layerCount = try reader.integer("n_layer") ?? 64
        let vocabSize = try reader.integer("vocab_size") ?? 50277
        config.padVocabSizeMultiple = try reader.integer("pad_vocab_size_multiple") ?? 8
        config.residualInFP32 = try reader.bool("residual_in_fp32") ?? true
        config.tieWordEmbeddings = try reader.bool("tie_embeddings") ?? true

        var ssm = ConfigKeys(members: [], path: reader.path, prefix: "ssm_cfg.")
        if let ssmValue = reader.take("ssm_cfg") {
            guard case .object(let members) = ssmValue else { throw reader.fail("ssm_cfg", "is \(ssmValue.kindDescription), not an object") }
            ssm = ConfigKeys(members: members, path: reader.path, prefix: "ssm_cfg.")
        }
        if let layer = try ssm.string("layer"), layer != "Mamba2" {
            throw ssm.fail("layer", "\"\(layer)\" is not \"Mamba2\"")
        }
        config.stateSize = try ssm.integer("d_state") ?? 128
        config.convKernel = try ssm.integer("d_conv") ?? 4
        config.expand = try ssm.integer("expand") ?? 2
        config.headSize = try ssm.integer("headdim") ?? 64
        config.groupCount = try ssm.integer("ngroups") ?? 1
        config.chunkSize = try ssm.integer("chunk_size") ?? 256
        config.timeStepMin = try ssm.double("dt_min") ?? 0.001
        config.timeStepMax = try ssm.double("dt_max") ?? 0.1
        config.timeStepFloor = try ssm.double("dt_init_floor") ?? 1e-4
        config.timeStepLimit = try ssm.limit("dt_limit") ?? 0...Double.infinity
        config.useConvBias = try ssm.bool("conv_bias") ?? true
        config.useBias = try ssm.bool("bias") ?? false
        if let dSSM = try ssm.integer("d_ssm"), dSSM != config.expand &* config.hiddenSize {
            throw ssm.fail("d_ssm", "\(dSSM) is not expand × d_model (a partial SSM with an MLP part is not supported)")
        }
        if let perChannelD = try ssm.bool("D_has_hdim"), perChannelD {
            throw ssm.fail("D_has_hdim", "true (D per channel) is not supported; D is per head")
        }
        if let rmsNorm = try ssm.bool("rmsnorm"), !rmsNorm {
            throw ssm.fail("rmsnorm", "false is not supported; the gated RMSNorm is part of the mixer")
        }
        if let normBeforeGate = try ssm.bool("norm_before_gate"), normBeforeGate {
            throw ssm.fail("norm_before_gate", "true is not supported")
        }
        _ = ssm.take("A_init_range")
        _ = try ssm.bool("use_mem_eff_path")
        try ssm.rejectUnknownKeys(ignoring: [])
        try reader.rejectUnknownKeys(ignoring: [])
        let multiple = config.padVocabSizeMultiple
        config.vocabSize = multiple > 0 && vocabSize % multiple != 0 ? vocabSize + multiple - vocabSize % multiple : vocabSize
        do {
            try config.validate()
        } catch {
            let keys = [
                "hidden_size": "d_model", "num_hidden_layers": "n_layer", "state_size": "ssm_cfg.d_state",
                "expand": "ssm_cfg.expand", "conv_kernel": "ssm_cfg.d_conv", "head_dim": "ssm_cfg.headdim",
                "n_groups": "ssm_cfg.ngroups", "chunk_size": "ssm_cfg.chunk_size", "time_step_min": "ssm_cfg.dt_min",
                "time_step_max": "ssm_cfg.dt_max", "time_step_floor": "ssm_cfg.dt_init_floor",
                "time_step_limit": "ssm_cfg.dt_limit",
            ]
            throw CheckpointError.invalidConfig(path: reader.path, key: keys[error.key] ?? error.key, message: error.message)
        }
        return config
    }

    /// Hugging Face keys that carry no information about the model this project trains.
    private static let ignoredKeys: Set<String> = [
        "transformers_version", "use_cache", "dtype", "torch_dtype", "_name_or_path", "_commit_hash",
        "output_attentions", "output_hidden_states", "return_dict", "tokenizer_class", "fused_add_norm",
    ]

    /// The Hugging Face `config.json` object for this configuration, keys sorted as transformers
    /// writes them; `rescale_prenorm_residual` is always false, as for Mamba-1 (the stored
    /// weights carry the rescaling already).
    public func huggingFaceJSON() -> JSONValue {
        func number(_ value: Double) -> JSONValue {
            value.isFinite ? .double(value) : .object([("__float__", .string(value > 0 ? "Infinity" : "-Infinity"))])
        }
        var members: [(key: String, value: JSONValue)] = [
            ("architectures", .array([.string("Mamba2ForCausalLM")])),
            ("chunk_size", .integer(chunkSize)),
            ("conv_kernel", .integer(convKernel)),
            ("dtype", .string("float32")),
            ("expand", .integer(expand)),
            ("head_dim", .integer(headSize)),
            ("hidden_act", .string("silu")),
            ("hidden_size", .integer(hiddenSize)),
            ("initializer_range", .double(initializerRange)),
            ("layer_norm_epsilon", .double(layerNormEpsilon)),
            ("model_type", .string("mamba2")),
            ("n_groups", .integer(groupCount)),
            ("num_heads", .integer(headCount)),
            ("num_hidden_layers", .integer(layerCount)),
            ("rescale_prenorm_residual", .bool(false)),
            ("residual_in_fp32", .bool(residualInFP32)),
            ("state_size", .integer(stateSize)),
            ("tie_word_embeddings", .bool(tieWordEmbeddings)),
            ("time_step_floor", .double(timeStepFloor)),
            ("time_step_limit", .array([number(timeStepLimit.lowerBound), number(timeStepLimit.upperBound)])),
            ("time_step_max", .double(timeStepMax)),
            ("time_step_min", .double(timeStepMin)),
            ("time_step_rank", .integer(timeStepRank)),
            ("use_bias", .bool(useBias)),
            ("use_conv_bias", .bool(useConvBias)),
            ("vocab_size", .integer(vocabSize)),
        ]
        for (key, id) in [("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId), ("pad_token_id", padTokenId)] {
            members.append((key, id.map { .integer($0) } ?? .null))
        }
        if padVocabSizeMultiple != 1 { members.append(("pad_vocab_size_multiple", .integer(padVocabSizeMultiple))) }
        return .object(members.sorted { $0.key < $1.key })
    }
}

extension ConfigKeys {
    /// A time-step limit: a list of two numbers, either of which may be transformers'
    /// `{"__float__": "Infinity"}` (or "-Infinity"), lower ≤ upper.
    mutating func limit(_ key: String) throws(CheckpointError) -> ClosedRange<Double>? {
        guard let value = take(key) else { return nil }
        func number(_ element: JSONValue) -> Double? {
            if let number = element.doubleValue { return number }
            guard case .object(let members) = element, members.count == 1, members[0].key == "__float__",
                  let text = members[0].value.stringValue else { return nil }
            switch text {
            case "Infinity", "inf": return .infinity
            case "-Infinity", "-inf": return -.infinity
            default: return nil
            }
        }
        guard case .array(let elements) = value, elements.count == 2,
              let lower = number(elements[0]), let upper = number(elements[1]) else {
            throw fail(key, "expected [lower, upper] (numbers or {\"__float__\": \"Infinity\"}), got \(value.serialized())")
        }
        guard lower <= upper else { throw fail(key, "lower end \(lower) is above the upper end \(upper)") }
        return lower...upper
    }
}

extension LanguageModelConfig {
    /// Reads the `config.json` at `path` — Mamba or Mamba-2, Hugging Face or `mamba_ssm` form
    /// (`model_type: "mamba2"` or `ssm_cfg.layer: "Mamba2"` make it Mamba-2) — and validates it.
    public static func read(contentsOf path: String) throws(CheckpointError) -> LanguageModelConfig {
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

    /// Builds a configuration of either architecture from a parsed `config.json`.
    public static func parse(_ json: JSONValue, path: String) throws(CheckpointError) -> LanguageModelConfig {
        let isMamba2 = json["model_type"] == .string("mamba2") || json["ssm_cfg"]?["layer"] == .string("Mamba2")
        return isMamba2 ? .mamba2(try Mamba2Config.parse(json, path: path)) : .mamba(try MambaConfig.parse(json, path: path))
    }

    /// The Hugging Face `config.json` object.
    public func huggingFaceJSON() -> JSONValue {
        switch self {
        case .mamba(let config): config.huggingFaceJSON()
        case .mamba2(let config): config.huggingFaceJSON()
        }
    }

    /// Validates this configuration and writes it to `path` as a Hugging Face `config.json`, atomically.
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
