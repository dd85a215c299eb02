// MambaConfig.swift — the hyperparameters of a Mamba language model (Gu & Dao, "Mamba:
// Linear-Time Sequence Modeling with Selective State Spaces", 2023) and the parameter names
// and shapes they imply, in Hugging Face `MambaForCausalLM` naming.
//
// Defaults are those of Hugging Face's `MambaConfig`. Reading and writing `config.json`
// belongs to TaipanCheckpoint; this file knows nothing of files.
//
// Dimension letters: D hidden size, E intermediate (inner) size, N state size,
// K convolution kernel, R time-step rank, V vocabulary size.

/// How the time-step projection's bias is initialised (`time_step_init_scheme`).
public enum TimeStepInitScheme: String, Codable, Sendable, CaseIterable {
    /// Weights of `dt_proj` uniform in ±R^-1/2 · scale.
    case random
    /// Weights of `dt_proj` all equal to R^-1/2 · scale.
    case constant
}

/// Which state-space layer the mixers run (`ssm_mixer` in `config.json`).
public enum MambaMixerKind: String, Codable, Sendable, CaseIterable {
    /// Mamba's selective SSM (S6): Δ, B and C computed from the input at every position.
    case s6
    /// A linear time-invariant SSM: Δ (one per channel, through softplus), B and C (N each) are
    /// learned parameters, the same at every position whatever the input; the rest of the
    /// mixer is unchanged (the Mamba paper's S4-style baseline, §4.1).
    case lti
}

/// An inconsistent or out-of-range hyperparameter; `key` is the Hugging Face `config.json` key.
public struct MambaConfigError: Error, Equatable, CustomStringConvertible {
    /// The Hugging Face `config.json` key at fault, e.g. `time_step_min`.
    public let key: String
    /// What is wrong with it.
    public let message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}

/// A parameter's Hugging Face name and its shape.
public struct NamedShape: Equatable, Sendable, CustomStringConvertible {
    /// The parameter name, e.g. `backbone.layers.0.mixer.in_proj.weight`.
    public let name: String
    /// The shape, outermost dimension first.
    public let shape: [Int]

    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }

    public var description: String { "\(name) \(shape)" }
}

/// The hyperparameters of a Mamba language model.
public struct MambaConfig: Codable, Equatable, Sendable {
    /// V: the number of token ids the embedding and the head cover.
    public var vocabSize: Int
    /// D: the width of the residual stream.
    public var hiddenSize: Int
    /// N: the size of each channel's SSM state.
    public var stateSize: Int
    /// The number of Mamba blocks.
    public var layerCount: Int
    /// E / D: how much wider the mixer's inner channels are than the residual stream.
    public var expand: Int
    /// K: the width of the causal depthwise convolution.
    public var convKernel: Int
    /// R: the rank of the low-rank projection that produces the time step Δ.
    public var timeStepRank: Int
    /// Whether `in_proj` and `out_proj` carry biases.
    public var useBias: Bool
    /// Whether the depthwise convolution carries a bias.
    public var useConvBias: Bool
    /// The ε added to the mean square in every RMSNorm.
    public var layerNormEpsilon: Double
    /// Whether the LM head shares its weight with the token embedding.
    public var tieWordEmbeddings: Bool
    /// The smallest initial time step Δ.
    public var timeStepMin: Double
    /// The largest initial time step Δ.
    public var timeStepMax: Double
    /// The floor initial time steps are clamped to.
    public var timeStepFloor: Double
    /// The scale of the `dt_proj` weight initialisation.
    public var timeStepScale: Double
    /// How `dt_proj`'s weight is initialised.
    public var timeStepInitScheme: TimeStepInitScheme
    /// Whether `out_proj` weights are scaled by 1/√layerCount at initialisation (GPT-2 style).
    /// A rule for fresh weights only: a saved `config.json` says false, since its weights
    /// carry the scaling already and transformers would apply it again on loading.
    public var rescalePrenormResidual: Bool
    /// The multiple `mamba_ssm` rounds the vocabulary up to; 1 when no rounding was asked for.
    public var padVocabSizeMultiple: Int
    /// Whether the residual stream is kept in float32 under mixed precision.
    public var residualInFP32: Bool
    /// The standard deviation of the normal initialisation of the embedding.
    public var initializerRange: Double
    /// The beginning-of-sequence token id, if the model names one.
    public var bosTokenId: Int?
    /// The end-of-sequence token id, if the model names one.
    public var eosTokenId: Int?
    /// The padding token id, if the model names one.
    public var padTokenId: Int?
    /// The SSM of every mixer: selective (Mamba's, the default) or time-invariant.
    public var mixer: MambaMixerKind = .s6
    /// Whether the SSM's output is multiplied by silu(z) (Mamba's gate); false for the paper's
    /// "no gate" ablations.
    public var gated = true

    /// Whether this is Hugging Face's `MambaForCausalLM` (S6 with the gate), which
    /// `transformers` and `mamba_ssm` can load; LTI and ungated models are Taipan's alone.
    public var isStandardMamba: Bool { mixer == .s6 && gated }

    /// E: the width of the mixer's inner channels, `expand × hiddenSize`.
    public var intermediateSize: Int { expand * hiddenSize }

    /// The time-step rank `"auto"` stands for: ⌈D / 16⌉, as in `mamba_ssm` and Hugging Face.
    public static func automaticTimeStepRank(hiddenSize: Int) -> Int { (hiddenSize + 15) / 16 }

    /// Creates a configuration; every argument defaults to Hugging Face's `MambaConfig`
    /// default, and a `nil` `timeStepRank` means `"auto"`.
    public init(
        vocabSize: Int = 50280, hiddenSize: Int = 768, stateSize: Int = 16, layerCount: Int = 32,
        expand: Int = 2, convKernel: Int = 4, timeStepRank: Int? = nil, useBias: Bool = false,
        useConvBias: Bool = true, layerNormEpsilon: Double = 1e-5, tieWordEmbeddings: Bool = true,
        timeStepMin: Double = 0.001, timeStepMax: Double = 0.1, timeStepFloor: Double = 1e-4,
        timeStepScale: Double = 1.0, timeStepInitScheme: TimeStepInitScheme = .random,
        rescalePrenormResidual: Bool = false, padVocabSizeMultiple: Int = 1,
        residualInFP32: Bool = true, initializerRange: Double = 0.1,
        bosTokenId: Int? = 0, eosTokenId: Int? = 0, padTokenId: Int? = 0
    ) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.stateSize = stateSize
        self.layerCount = layerCount
        self.expand = expand
        self.convKernel = convKernel
        self.timeStepRank = timeStepRank ?? Self.automaticTimeStepRank(hiddenSize: hiddenSize)
        self.useBias = useBias
        self.useConvBias = useConvBias
        self.layerNormEpsilon = layerNormEpsilon
        self.tieWordEmbeddings = tieWordEmbeddings
        self.timeStepMin = timeStepMin
        self.timeStepMax = timeStepMax
        self.timeStepFloor = timeStepFloor
        self.timeStepScale = timeStepScale
        self.timeStepInitScheme = timeStepInitScheme
        self.rescalePrenormResidual = rescalePrenormResidual
        self.padVocabSizeMultiple = padVocabSizeMultiple
        self.residualInFP32 = residualInFP32
        self.initializerRange = initializerRange
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
    }

    /// Checks that every size is positive and the values fit together; the error names the
    /// Hugging Face key at fault.
    public func validate() throws(MambaConfigError) {
        let sizes: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("state_size", stateSize),
            ("num_hidden_layers", layerCount), ("expand", expand), ("conv_kernel", convKernel),
            ("time_step_rank", timeStepRank), ("pad_vocab_size_multiple", padVocabSizeMultiple),
        ]
        for (key, value) in sizes where value <= 0 {
            throw MambaConfigError(key: key, message: "must be positive (got \(value))")
        }
        if hiddenSize.multipliedReportingOverflow(by: expand).overflow {
            throw MambaConfigError(key: "expand", message: "expand × hidden_size overflows")
        }
        if !(layerNormEpsilon > 0 && layerNormEpsilon.isFinite) {
            throw MambaConfigError(
                key: "layer_norm_epsilon", message: "must be positive and finite (got \(layerNormEpsilon))")
        }
        let positive: [(String, Double)] = [("time_step_min", timeStepMin), ("time_step_max", timeStepMax)]
        for (key, value) in positive where !(value > 0 && value.isFinite) {
            throw MambaConfigError(key: key, message: "must be positive and finite (got \(value))")
        }
        if timeStepMin > timeStepMax {
            throw MambaConfigError(
                key: "time_step_min",
                message: "\(timeStepMin) is larger than time_step_max \(timeStepMax)")
        }
        let nonNegative: [(String, Double)] = [
            ("time_step_floor", timeStepFloor), ("time_step_scale", timeStepScale),
            ("initializer_range", initializerRange),
        ]
        for (key, value) in nonNegative where !(value >= 0 && value.isFinite) {
            throw MambaConfigError(key: key, message: "must be non-negative and finite (got \(value))")
        }
        let tokenIds: [(String, Int?)] = [
            ("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId), ("pad_token_id", padTokenId),
        ]
        for case let (key, id?) in tokenIds where id < 0 || id >= vocabSize {
            throw MambaConfigError(key: key, message: "\(id) is outside the vocabulary 0..<\(vocabSize)")
        }
    }

    /// Every parameter of the model with its shape, in Hugging Face naming and model order:
    /// the embedding, each block's norm and mixer, the final norm, and the head when untied.
    public func parameterShapes() -> [NamedShape] {
        let dModel = hiddenSize, inner = intermediateSize
        var shapes = [NamedShape(name: "backbone.embeddings.weight", shape: [vocabSize, dModel])]
        for layer in 0..<layerCount {
            let block = "backbone.layers.\(layer)."
            let mixer = block + "mixer."
            shapes.append(NamedShape(name: block + "norm.weight", shape: [dModel]))
            // x and the gate z; x alone without the gate.
            let projected = (gated ? 2 : 1) * inner
            shapes.append(NamedShape(name: mixer + "in_proj.weight", shape: [projected, dModel]))
            if useBias { shapes.append(NamedShape(name: mixer + "in_proj.bias", shape: [projected])) }
            shapes.append(NamedShape(name: mixer + "conv1d.weight", shape: [inner, 1, convKernel]))
            if useConvBias { shapes.append(NamedShape(name: mixer + "conv1d.bias", shape: [inner])) }
            if self.mixer == .s6 {
                shapes.append(
                    NamedShape(name: mixer + "x_proj.weight", shape: [timeStepRank + 2 * stateSize, inner]))
                shapes.append(NamedShape(name: mixer + "dt_proj.weight", shape: [inner, timeStepRank]))
                shapes.append(NamedShape(name: mixer + "dt_proj.bias", shape: [inner]))
            } else {
                shapes.append(NamedShape(name: mixer + "dt_bias", shape: [inner]))
                shapes.append(NamedShape(name: mixer + "B", shape: [stateSize]))
                shapes.append(NamedShape(name: mixer + "C", shape: [stateSize]))
            }
            shapes.append(NamedShape(name: mixer + "A_log", shape: [inner, stateSize]))
            shapes.append(NamedShape(name: mixer + "D", shape: [inner]))
            shapes.append(NamedShape(name: mixer + "out_proj.weight", shape: [dModel, inner]))
            if useBias { shapes.append(NamedShape(name: mixer + "out_proj.bias", shape: [dModel])) }
        }
        shapes.append(NamedShape(name: "backbone.norm_f.weight", shape: [dModel]))
        if !tieWordEmbeddings { shapes.append(NamedShape(name: "lm_head.weight", shape: [vocabSize, dModel])) }
        return shapes
    }

    /// The Hugging Face name of a parameter named the `mamba_ssm` way, or `nil` for the
    /// `lm_head.weight` a tied `mamba_ssm` state dict repeats from the embedding.
    ///
    /// `mamba_ssm`'s `MambaLMHeadModel` calls the embedding `backbone.embedding`; every other
    /// name is the same in both.
    public func huggingFaceName(forMambaSSMName name: String) -> String? {
        let embedding = "backbone.embedding."
        if name.hasPrefix(embedding) { return "backbone.embeddings." + name.dropFirst(embedding.count) }
        if tieWordEmbeddings && name == "lm_head.weight" { return nil }
        return name
    }
}
