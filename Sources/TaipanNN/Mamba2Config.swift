// Mamba2Config.swift — the hyperparameters of a Mamba-2 language model (Dao & Gu, "Transformers
// are SSMs", 2024) and the parameter names and shapes they imply, in Hugging Face
// `Mamba2ForCausalLM` naming.
//
// Defaults are those of Hugging Face's `Mamba2Config`, except the sizes, which a caller always
// gives. Reading and writing `config.json` belongs to TaipanCheckpoint.
//
// Dimension letters: D hidden size, E inner size (expand·D), H heads, P head size, G groups,
// N state size, K convolution kernel, V vocabulary size.

/// The hyperparameters of a Mamba-2 language model.
public struct Mamba2Config: Equatable, Sendable {
    /// V: the number of token ids the embedding and the head cover.
    public var vocabSize: Int
    /// D: the width of the residual stream.
    public var hiddenSize: Int
    /// N: the size of each channel's SSM state.
    public var stateSize: Int
    /// The number of Mamba-2 blocks.
    public var layerCount: Int
    /// E / D: how much wider the mixer's inner channels are than the residual stream.
    public var expand: Int
    /// K: the width of the causal depthwise convolution over x, B and C.
    public var convKernel: Int
    /// P: channels per head (`head_dim`); E / P heads.
    public var headSize: Int
    /// G: groups of heads sharing B and C (`n_groups`); also the groups of the gated RMSNorm.
    public var groupCount: Int
    /// Steps per chunk of the SSD scan (`chunk_size`); any positive value gives the same result.
    public var chunkSize: Int
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
    /// The interval every Δ is clamped to (`time_step_limit`); the upper end may be +∞.
    public var timeStepLimit: ClosedRange<Double>
    /// Kept for `config.json` round trips (transformers writes it); Mamba-2 has no Δ projection.
    public var timeStepRank: Int
    /// Whether `out_proj` weights are scaled by 1/√layerCount at initialisation; a saved
    /// `config.json` says false, as for Mamba-1.
    public var rescalePrenormResidual: Bool
    /// The multiple `mamba_ssm` rounds the vocabulary up to; 1 when no rounding was asked for.
    public var padVocabSizeMultiple: Int
    /// Whether the residual stream is kept in float32 under mixed precision.
    public var residualInFP32: Bool
    /// The standard deviation of the normal initialisation of the embedding.
    public var initializerRange: Double
    /// The beginning-of-sequence, end-of-sequence and padding token ids, if the model names them.
    public var bosTokenId: Int?, eosTokenId: Int?, padTokenId: Int?

    /// E: the width of the mixer's inner channels, `expand × hiddenSize`.
    public var intermediateSize: Int { expand * hiddenSize }
    /// H: the number of heads, E / P.
    public var headCount: Int { intermediateSize / headSize }
    /// The channels of the convolution: x, B and C, E + 2·G·N.
    public var convolutionChannels: Int { intermediateSize + 2 * groupCount * stateSize }
    /// The outputs of `in_proj`: z, then x·B·C, then dt (E + E + 2·G·N + H).
    public var inProjectionSize: Int { intermediateSize + convolutionChannels + headCount }

    public init(
        vocabSize: Int = 32768, hiddenSize: Int = 4096, stateSize: Int = 128, layerCount: Int = 64,
        expand: Int = 2, convKernel: Int = 4, headSize: Int = 64, groupCount: Int = 8, chunkSize: Int = 256,
        useBias: Bool = false, useConvBias: Bool = true, layerNormEpsilon: Double = 1e-5,
        tieWordEmbeddings: Bool = true, timeStepMin: Double = 0.001, timeStepMax: Double = 0.1,
        timeStepFloor: Double = 1e-4, timeStepLimit: ClosedRange<Double> = 0...Double.infinity,
        timeStepRank: Int? = nil, rescalePrenormResidual: Bool = false, padVocabSizeMultiple: Int = 1,
        residualInFP32: Bool = true, initializerRange: Double = 0.1,
        bosTokenId: Int? = 0, eosTokenId: Int? = 0, padTokenId: Int? = 0
    ) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.stateSize = stateSize
        self.layerCount = layerCount
        self.expand = expand
        self.convKernel = convKernel
        self.headSize = headSize
        self.groupCount = groupCount
        self.chunkSize = chunkSize
        self.useBias = useBias
        self.useConvBias = useConvBias
        self.layerNormEpsilon = layerNormEpsilon
        self.tieWordEmbeddings = tieWordEmbeddings
        self.timeStepMin = timeStepMin
        self.timeStepMax = timeStepMax
        self.timeStepFloor = timeStepFloor
        self.timeStepLimit = timeStepLimit
        self.timeStepRank = timeStepRank ?? MambaConfig.automaticTimeStepRank(hiddenSize: hiddenSize)
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
            ("head_dim", headSize), ("n_groups", groupCount), ("chunk_size", chunkSize),
            ("time_step_rank", timeStepRank), ("pad_vocab_size_multiple", padVocabSizeMultiple),
        ]
        for (key, value) in sizes where value <= 0 {
            throw MambaConfigError(key: key, message: "must be positive (got \(value))")
        }
        if hiddenSize.multipliedReportingOverflow(by: expand).overflow {
            throw MambaConfigError(key: "expand", message: "expand × hidden_size overflows")
        }
        if intermediateSize % headSize != 0 {
            throw MambaConfigError(
                key: "head_dim", message: "\(headSize) does not divide expand × hidden_size = \(intermediateSize)")
        }
        if headCount % groupCount != 0 {
            throw MambaConfigError(key: "n_groups", message: "\(groupCount) does not divide the \(headCount) heads")
        }
        if !(layerNormEpsilon > 0 && layerNormEpsilon.isFinite) {
            throw MambaConfigError(key: "layer_norm_epsilon", message: "must be positive and finite (got \(layerNormEpsilon))")
        }
        for (key, value) in [("time_step_min", timeStepMin), ("time_step_max", timeStepMax)] where !(value > 0 && value.isFinite) {
            throw MambaConfigError(key: key, message: "must be positive and finite (got \(value))")
        }
        if timeStepMin > timeStepMax {
            throw MambaConfigError(key: "time_step_min", message: "\(timeStepMin) is larger than time_step_max \(timeStepMax)")
        }
        if !(timeStepLimit.lowerBound >= 0 && timeStepLimit.lowerBound.isFinite) {
            throw MambaConfigError(key: "time_step_limit", message: "the lower end must be finite and non-negative (got \(timeStepLimit.lowerBound))")
        }
        for (key, value) in [("time_step_floor", timeStepFloor), ("initializer_range", initializerRange)] where !(value >= 0 && value.isFinite) {
            throw MambaConfigError(key: key, message: "must be non-negative and finite (got \(value))")
        }
        for case let (key, id?) in [("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId), ("pad_token_id", padTokenId)]
        where id < 0 || id >= vocabSize {
            throw MambaConfigError(key: key, message: "\(id) is outside the vocabulary 0..<\(vocabSize)")
        }
    }

    /// Every parameter of the model with its shape, in Hugging Face naming and model order.
    public func parameterShapes() -> [NamedShape] {
        let dModel = hiddenSize, inner = intermediateSize, heads = headCount
        var shapes = [NamedShape(name: "backbone.embeddings.weight", shape: [vocabSize, dModel])]
        for layer in 0..<layerCount {
            let block = "backbone.layers.\(layer).", mixer = block + "mixer."
            shapes.append(NamedShape(name: block + "norm.weight", shape: [dModel]))
            shapes.append(NamedShape(name: mixer + "in_proj.weight", shape: [inProjectionSize, dModel]))
            if useBias { shapes.append(NamedShape(name: mixer + "in_proj.bias", shape: [inProjectionSize])) }
            shapes.append(NamedShape(name: mixer + "conv1d.weight", shape: [convolutionChannels, 1, convKernel]))
            if useConvBias { shapes.append(NamedShape(name: mixer + "conv1d.bias", shape: [convolutionChannels])) }
            shapes.append(NamedShape(name: mixer + "dt_bias", shape: [heads]))
            shapes.append(NamedShape(name: mixer + "A_log", shape: [heads]))
            shapes.append(NamedShape(name: mixer + "D", shape: [heads]))
            shapes.append(NamedShape(name: mixer + "norm.weight", shape: [inner]))
            shapes.append(NamedShape(name: mixer + "out_proj.weight", shape: [dModel, inner]))
            if useBias { shapes.append(NamedShape(name: mixer + "out_proj.bias", shape: [dModel])) }
        }
        shapes.append(NamedShape(name: "backbone.norm_f.weight", shape: [dModel]))
        if !tieWordEmbeddings { shapes.append(NamedShape(name: "lm_head.weight", shape: [vocabSize, dModel])) }
        return shapes
    }

    /// The Hugging Face name of a parameter named the `mamba_ssm` way (`backbone.embedding.`),
    /// or `nil` for the `lm_head.weight` a tied `mamba_ssm` state dict repeats.
    public func huggingFaceName(forMambaSSMName name: String) -> String? {
        let embedding = "backbone.embedding."
        if name.hasPrefix(embedding) { return "backbone.embeddings." + name.dropFirst(embedding.count) }
        if tieWordEmbeddings && name == "lm_head.weight" { return nil }
        return name
    }
}
