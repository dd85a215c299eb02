import Testing

@testable import TaipanNN

@Suite struct MambaConfigTests {
    let tiny = MambaConfig(vocabSize: 256, hiddenSize: 64, stateSize: 16, layerCount: 2, timeStepRank: 4)

    @Test func automaticRankIsTheCeilingOfHiddenOverSixteen() {
        #expect(MambaConfig.automaticTimeStepRank(hiddenSize: 768) == 48)
        #expect(MambaConfig.automaticTimeStepRank(hiddenSize: 100) == 7)
        #expect(MambaConfig.automaticTimeStepRank(hiddenSize: 1) == 1)
        #expect(MambaConfig(hiddenSize: 2560).timeStepRank == 160)
        #expect(MambaConfig(hiddenSize: 64).intermediateSize == 128)
    }

    @Test func parameterShapesOfATiedModelWithoutBiases() {
        let shapes = tiny.parameterShapes()
        #expect(shapes.count == 1 + 2 * 10 + 1)
        #expect(shapes.first == NamedShape(name: "backbone.embeddings.weight", shape: [256, 64]))
        #expect(shapes.last == NamedShape(name: "backbone.norm_f.weight", shape: [64]))
        let layer1 = shapes.filter { $0.name.hasPrefix("backbone.layers.1.") }
        #expect(layer1 == [
            NamedShape(name: "backbone.layers.1.norm.weight", shape: [64]),
            NamedShape(name: "backbone.layers.1.mixer.in_proj.weight", shape: [256, 64]),
            NamedShape(name: "backbone.layers.1.mixer.conv1d.weight", shape: [128, 1, 4]),
            NamedShape(name: "backbone.layers.1.mixer.conv1d.bias", shape: [128]),
            NamedShape(name: "backbone.layers.1.mixer.x_proj.weight", shape: [36, 128]),
            NamedShape(name: "backbone.layers.1.mixer.dt_proj.weight", shape: [128, 4]),
            NamedShape(name: "backbone.layers.1.mixer.dt_proj.bias", shape: [128]),
            NamedShape(name: "backbone.layers.1.mixer.A_log", shape: [128, 16]),
            NamedShape(name: "backbone.layers.1.mixer.D", shape: [128]),
            NamedShape(name: "backbone.layers.1.mixer.out_proj.weight", shape: [64, 128]),
        ])
    }

    @Test func biasesAndAnUntiedHeadAddParameters() {
        var config = tiny
        config.useBias = true
        config.useConvBias = false
        config.tieWordEmbeddings = false
        let shapes = config.parameterShapes()
        let names = Set(shapes.map(\.name))
        #expect(shapes.count == 1 + 2 * 11 + 2)
        #expect(names.contains("backbone.layers.0.mixer.in_proj.bias"))
        #expect(names.contains("backbone.layers.0.mixer.out_proj.bias"))
        #expect(!names.contains("backbone.layers.0.mixer.conv1d.bias"))
        #expect(shapes.first { $0.name == "backbone.layers.1.mixer.in_proj.bias" }?.shape == [256])
        #expect(shapes.first { $0.name == "backbone.layers.1.mixer.out_proj.bias" }?.shape == [64])
        #expect(shapes.last == NamedShape(name: "lm_head.weight", shape: [256, 64]))
    }

    @Test func mambaSSMNamesMapToHuggingFaceNames() {
        #expect(tiny.huggingFaceName(forMambaSSMName: "backbone.embedding.weight") == "backbone.embeddings.weight")
        #expect(tiny.huggingFaceName(forMambaSSMName: "backbone.layers.0.mixer.A_log") == "backbone.layers.0.mixer.A_log")
        #expect(tiny.huggingFaceName(forMambaSSMName: "backbone.norm_f.weight") == "backbone.norm_f.weight")
        #expect(tiny.huggingFaceName(forMambaSSMName: "lm_head.weight") == nil)
        var untied = tiny
        untied.tieWordEmbeddings = false
        #expect(untied.huggingFaceName(forMambaSSMName: "lm_head.weight") == "lm_head.weight")
    }

    @Test func validationNamesTheKey() {
        func key(_ change: (inout MambaConfig) -> Void) -> String? {
            var config = tiny
            change(&config)
            do {
                try config.validate()
                return nil
            } catch {
                return error.key
            }
        }
        #expect(key { _ in } == nil)
        #expect(key { $0.hiddenSize = 0 } == "hidden_size")
        #expect(key { $0.stateSize = -3 } == "state_size")
        #expect(key { $0.layerCount = 0 } == "num_hidden_layers")
        #expect(key { $0.timeStepRank = 0 } == "time_step_rank")
        #expect(key { $0.vocabSize = 0 } == "vocab_size")
        #expect(key { $0.layerNormEpsilon = 0 } == "layer_norm_epsilon")
        #expect(key { $0.timeStepMin = 0.2 } == "time_step_min")
        #expect(key { $0.timeStepMax = .nan } == "time_step_max")
        #expect(key { $0.timeStepFloor = -1 } == "time_step_floor")
        #expect(key { $0.initializerRange = .infinity } == "initializer_range")
        #expect(key { $0.padTokenId = 256 } == "pad_token_id")
        #expect(key { $0.expand = Int.max } == "expand")
    }
}
