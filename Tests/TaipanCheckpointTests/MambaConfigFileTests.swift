import Foundation
import TaipanNN
import Testing

@testable import TaipanCheckpoint

@Suite struct MambaConfigFileTests {
    func parse(_ text: String) throws -> MambaConfig {
        try MambaConfig.parse(try JSONValue.parse(Data(text.utf8)), path: "config.json")
    }

    func configError(_ text: String) -> CheckpointError? {
        do {
            _ = try parse(text)
            Issue.record("\(text) was accepted")
        } catch let error as CheckpointError {
            return error
        } catch {
            Issue.record("\(error)")
        }
        return nil
    }

    @Test func readsTheFixtureConfig() throws {
        let config = try MambaConfig.read(contentsOf: mambaTinyDirectory + "/model/config.json")
        #expect(config == MambaConfig(
            vocabSize: 256, hiddenSize: 64, stateSize: 16, layerCount: 2, expand: 2, convKernel: 4,
            timeStepRank: 4, useBias: false, useConvBias: true, layerNormEpsilon: 1e-5,
            tieWordEmbeddings: true, timeStepMin: 0.001, timeStepMax: 0.1, timeStepFloor: 1e-4,
            timeStepScale: 1, timeStepInitScheme: .random, rescalePrenormResidual: false,
            padVocabSizeMultiple: 1, residualInFP32: true, initializerRange: 0.1,
            bosTokenId: 0, eosTokenId: 0, padTokenId: 0))
        #expect(config.intermediateSize == 128)
    }

    @Test func huggingFaceDefaultsAndAutoRank() throws {
        let config = try parse(#"{"hidden_size": 100, "time_step_rank": "auto", "num_hidden_layers": 3}"#)
        #expect(config.timeStepRank == 7)  // ⌈100 / 16⌉
        #expect(config.vocabSize == 50280 && config.stateSize == 16 && config.expand == 2 && config.convKernel == 4)
        #expect(config.layerCount == 3 && config.initializerRange == 0.1 && !config.rescalePrenormResidual)
        #expect(try parse(#"{"hidden_size": 768}"#).timeStepRank == 48)
        #expect(try parse(#"{"hidden_size": 768, "time_step_rank": 5}"#).timeStepRank == 5)
    }

    @Test func readsTheLegacyConvertedHuggingFaceForm() throws {
        // The keys state-spaces/mamba-130m-hf carries, legacy mamba_ssm names included.
        let config = try parse("""
            {"_name_or_path": "./mamba-130m", "architectures": ["MambaForCausalLM"], "bos_token_id": 0,
             "conv_kernel": 4, "eos_token_id": 0, "expand": 2, "fused_add_norm": true, "hidden_act": "silu",
             "hidden_size": 768, "initializer_range": 0.1, "intermediate_size": 1536, "layer_norm_epsilon": 1e-05,
             "model_type": "mamba", "n_layer": 24, "num_hidden_layers": 24, "pad_token_id": 0,
             "pad_vocab_size_multiple": 8, "rescale_prenorm_residual": false, "residual_in_fp32": true,
             "rms_norm": true, "state_size": 16, "time_step_floor": 0.0001, "time_step_init_scheme": "random",
             "time_step_max": 0.1, "time_step_min": 0.001, "time_step_rank": 48, "time_step_scale": 1.0,
             "torch_dtype": "float32", "transformers_version": "4.39.0.dev0", "use_bias": false,
             "use_cache": true, "use_conv_bias": true, "vocab_size": 50280}
            """)
        #expect(config.layerCount == 24 && config.hiddenSize == 768 && config.vocabSize == 50280)
        #expect(config.padVocabSizeMultiple == 8 && config.timeStepRank == 48)
    }

    @Test func readsTheMambaSSMForm() throws {
        // state-spaces/mamba-130m's config.json.
        let config = try parse("""
            {"d_model": 768, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {}, "rms_norm": true,
             "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 8}
            """)
        #expect(config.vocabSize == 50280)  // 50277 rounded up to a multiple of 8
        #expect(config.hiddenSize == 768 && config.layerCount == 24 && config.intermediateSize == 1536)
        #expect(config.timeStepRank == 48 && config.stateSize == 16 && config.convKernel == 4)
        #expect(config.tieWordEmbeddings && config.useConvBias && !config.useBias)
        #expect(config.initializerRange == 0.02 && config.rescalePrenormResidual)
        #expect(config.bosTokenId == nil)

        let custom = try parse("""
            {"d_model": 64, "n_layer": 2, "vocab_size": 256, "tie_embeddings": false, "d_intermediate": 0,
             "attn_layer_idx": [], "attn_cfg": {}, "pad_vocab_size_multiple": 16,
             "ssm_cfg": {"layer": "Mamba1", "d_state": 8, "d_conv": 3, "expand": 3, "dt_rank": 6, "dt_min": 0.01,
                         "dt_max": 0.2, "dt_init": "constant", "dt_scale": 2.0, "dt_init_floor": 0.001,
                         "conv_bias": false, "bias": true, "use_fast_path": true}}
            """)
        #expect(custom == MambaConfig(
            vocabSize: 256, hiddenSize: 64, stateSize: 8, layerCount: 2, expand: 3, convKernel: 3,
            timeStepRank: 6, useBias: true, useConvBias: false, tieWordEmbeddings: false,
            timeStepMin: 0.01, timeStepMax: 0.2, timeStepFloor: 0.001, timeStepScale: 2,
            timeStepInitScheme: .constant, rescalePrenormResidual: true, padVocabSizeMultiple: 16,
            initializerRange: 0.02, bosTokenId: nil, eosTokenId: nil, padTokenId: nil))
        #expect(try parse(#"{"d_model": 64, "vocab_size": 250, "pad_vocab_size_multiple": 1}"#).vocabSize == 250)
        #expect(try parse(#"{"d_model": 64, "vocab_size": 250, "pad_vocab_size_multiple": 100}"#).vocabSize == 300)
    }

    @Test func huggingFaceErrorsNameTheirKey() {
        let cases: [(String, String)] = [
            (#"{"hidden_size": 64, "intermediate_size": 100}"#, "intermediate_size"),
            (#"{"hidden_size": 0}"#, "hidden_size"),
            (#"{"state_size": -1}"#, "state_size"),
            (#"{"num_hidden_layers": 0}"#, "num_hidden_layers"),
            (#"{"vocab_size": 0}"#, "vocab_size"),
            (#"{"conv_kernel": 0}"#, "conv_kernel"),
            (#"{"expand": 1.5}"#, "expand"),
            (#"{"hidden_act": "gelu"}"#, "hidden_act"),
            (#"{"time_step_min": 0.5, "time_step_max": 0.1}"#, "time_step_min"),
            (#"{"time_step_min": 0}"#, "time_step_min"),
            (#"{"time_step_rank": "big"}"#, "time_step_rank"),
            (#"{"time_step_rank": 0}"#, "time_step_rank"),
            (#"{"time_step_init_scheme": "xavier"}"#, "time_step_init_scheme"),
            (#"{"layer_norm_epsilon": -1}"#, "layer_norm_epsilon"),
            (#"{"use_bias": "no"}"#, "use_bias"),
            (#"{"model_type": "mamba2"}"#, "model_type"),
            (#"{"rms_norm": false}"#, "rms_norm"),
            (#"{"n_layer": 3, "num_hidden_layers": 4}"#, "n_layer"),
            (#"{"architectures": "MambaForCausalLM"}"#, "architectures"),
            (#"{"eos_token_id": 50280}"#, "eos_token_id"),
            (#"{"hidden_sise": 64}"#, "hidden_sise"),
            (#"{"d_model": 64, "hidden_size": 64}"#, "d_model"),
        ]
        for (text, key) in cases {
            guard case .invalidConfig(let path, let errorKey, _)? = configError(text) else {
                Issue.record("\(text): wrong error kind")
                continue
            }
            #expect(path == "config.json" && errorKey == key, "\(text)")
        }
        #expect(configError(#"{"hidden_size": 64, "intermediate_size": 100}"#)?.description
            == #"config.json: key "intermediate_size": 100 is not expand × hidden_size = 2 × 64"#)
        #expect(configError(#"{"hidden_sise": 64}"#)?.description == #"config.json: key "hidden_sise": unknown key"#)
    }

    @Test func mambaSSMErrorsNameTheirKey() {
        let cases: [(String, String)] = [
            (#"{"d_model": 0}"#, "d_model"),
            (#"{"d_model": 64, "n_layer": -2}"#, "n_layer"),
            (#"{"d_model": 64, "ssm_cfg": {"d_state": 0}}"#, "ssm_cfg.d_state"),
            (#"{"d_model": 64, "ssm_cfg": {"dt_min": 0.5}}"#, "ssm_cfg.dt_min"),
            (#"{"d_model": 64, "ssm_cfg": {"dt_rank": "none"}}"#, "ssm_cfg.dt_rank"),
            (#"{"d_model": 64, "ssm_cfg": {"layer": "Mamba2"}}"#, "ssm_cfg.layer"),
            (#"{"d_model": 64, "ssm_cfg": {"d_sate": 4}}"#, "ssm_cfg.d_sate"),
            (#"{"d_model": 64, "ssm_cfg": []}"#, "ssm_cfg"),
            (#"{"d_model": 64, "d_intermediate": 128}"#, "d_intermediate"),
            (#"{"d_model": 64, "attn_layer_idx": [1]}"#, "attn_layer_idx"),
            (#"{"d_model": 64, "rms_norm": false}"#, "rms_norm"),
            (#"{"d_model": 64, "pad_vocab_size_multiple": 0}"#, "pad_vocab_size_multiple"),
            (#"{"d_model": 64, "num_hidden_layers": 2}"#, "num_hidden_layers"),
        ]
        for (text, key) in cases {
            guard case .invalidConfig(_, let errorKey, _)? = configError(text) else {
                Issue.record("\(text): wrong error kind")
                continue
            }
            #expect(errorKey == key, "\(text)")
        }
    }

    @Test func writesHuggingFaceConfigThatReadsBack() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("config.json")
        let config = MambaConfig(
            vocabSize: 300, hiddenSize: 48, stateSize: 8, layerCount: 3, timeStepRank: nil, useBias: true,
            tieWordEmbeddings: false, timeStepInitScheme: .constant, padVocabSizeMultiple: 4, eosTokenId: nil)
        try config.write(to: path)
        #expect(try MambaConfig.read(contentsOf: path) == config)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("{\n  \"architectures\": [\n    \"MambaForCausalLM\"\n  ],\n  \"bos_token_id\": 0,\n"))
        #expect(text.contains("\n  \"intermediate_size\": 96,\n"))
        #expect(text.contains("\n  \"layer_norm_epsilon\": 1e-05,\n"))
        #expect(text.contains("\n  \"model_type\": \"mamba\",\n"))
        #expect(text.contains("\n  \"time_step_rank\": 3,\n"))
        #expect(text.contains("\n  \"eos_token_id\": null,\n"))
        #expect(text.hasSuffix("\n  \"vocab_size\": 300\n}\n"))

        let fixture = try MambaConfig.read(contentsOf: mambaTinyDirectory + "/model/config.json")
        try fixture.write(to: path)
        #expect(try MambaConfig.read(contentsOf: path) == fixture)
    }

    /// transformers applies `rescale_prenorm_residual` to the weights it loads, so a saved
    /// config must say false whatever the model was initialised with; every key transformers
    /// reads is pinned here.
    @Test func savedConfigKeysKeepTheStoredWeightsAsTheyAre() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("config.json")
        let config = MambaConfig(
            vocabSize: 4096, hiddenSize: 256, stateSize: 16, layerCount: 4, timeStepRank: nil,
            rescalePrenormResidual: true, padVocabSizeMultiple: 8, initializerRange: 0.02)
        try config.write(to: path)
        let expected = """
            {
              "architectures": [
                "MambaForCausalLM"
              ],
              "bos_token_id": 0,
              "conv_kernel": 4,
              "dtype": "float32",
              "eos_token_id": 0,
              "expand": 2,
              "hidden_act": "silu",
              "hidden_size": 256,
              "initializer_range": 0.02,
              "intermediate_size": 512,
              "layer_norm_epsilon": 1e-05,
              "model_type": "mamba",
              "num_hidden_layers": 4,
              "pad_token_id": 0,
              "pad_vocab_size_multiple": 8,
              "rescale_prenorm_residual": false,
              "residual_in_fp32": true,
              "state_size": 16,
              "tie_word_embeddings": true,
              "time_step_floor": 0.0001,
              "time_step_init_scheme": "random",
              "time_step_max": 0.1,
              "time_step_min": 0.001,
              "time_step_rank": 16,
              "time_step_scale": 1.0,
              "use_bias": false,
              "use_conv_bias": true,
              "vocab_size": 4096
            }

            """
        #expect(try String(contentsOfFile: path, encoding: .utf8) == expected)
        var readBack = config
        readBack.rescalePrenormResidual = false
        #expect(try MambaConfig.read(contentsOf: path) == readBack)
    }

    @Test func writingAnInvalidConfigKeepsTheOldFile() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("config.json")
        try MambaConfig(hiddenSize: 32).write(to: path)
        var bad = MambaConfig(hiddenSize: 32)
        bad.timeStepMax = 0.0001
        #expect(throws: CheckpointError.invalidConfig(
            path: path, key: "time_step_min", message: "0.001 is larger than time_step_max 0.0001")) {
            try bad.write(to: path)
        }
        #expect(try MambaConfig.read(contentsOf: path) == MambaConfig(hiddenSize: 32))
        #expect(try scratch.contents() == ["config.json"])
    }

    @Test func unreadableFilesAreErrors() throws {
        let scratch = try ScratchDirectory()
        #expect(throws: CheckpointError.self) { try MambaConfig.read(contentsOf: scratch.file("missing.json")) }
        try Data("{\"hidden_size\": }".utf8).write(to: URL(fileURLWithPath: scratch.file("broken.json")))
        #expect(throws: CheckpointError.self) { try MambaConfig.read(contentsOf: scratch.file("broken.json")) }
    }

    @Test func ltiAndUngatedModelsAreTaipanModelsThatTransformersRefusesByName() throws {
        var config = MambaConfig(vocabSize: 16, hiddenSize: 8, stateSize: 4, layerCount: 2)
        config.mixer = .lti
        config.gated = false
        let json = config.huggingFaceJSON()
        #expect(json["model_type"] == .string("taipan_mamba") && json["ssm_mixer"] == .string("lti") && json["ssm_gate"] == .bool(false))
        #expect(json["architectures"] == .array([.string("TaipanMambaForCausalLM")]))
        #expect(try MambaConfig.parse(json, path: "config.json") == config)
        // A standard model's file has none of the variant keys.
        let standard = MambaConfig(vocabSize: 16, hiddenSize: 8, stateSize: 4, layerCount: 2).huggingFaceJSON()
        #expect(standard["model_type"] == .string("mamba") && standard["ssm_mixer"] == nil && standard["ssm_gate"] == nil)
        #expect(configError(#"{"model_type": "mamba", "ssm_mixer": "lti"}"#)?.description.contains("model_type") == true)
        #expect(configError(#"{"model_type": "taipan_mamba"}"#)?.description.contains("model_type") == true)
        #expect(configError(#"{"model_type": "taipan_mamba", "ssm_mixer": "s4"}"#)?.description.contains("ssm_mixer") == true)
        #expect(try parse(#"{"model_type": "taipan_mamba", "ssm_gate": false}"#).gated == false)
    }
}
