import Foundation
import Testing
import TaipanNN
import TaipanTensor
@testable import TaipanCheckpoint

/// Parity with `Tests/Fixtures/mamba2-tiny`: a random Hugging Face `Mamba2ForCausalLM` (2 groups,
/// chunk 8) and the outputs transformers computed for it in float64 (see its README.json).
@Suite struct Mamba2ModelDirectoryTests {
    static let modelDirectory = mamba2TinyDirectory + "/model"

    static func expected() throws -> SafeTensorsFile { try SafeTensorsFile(path: mamba2TinyDirectory + "/expected.safetensors") }

    static func relativeError(_ actual: [Float], _ expected: [Float]) -> Double {
        ModelDirectoryTests.relativeError(actual, expected)
    }

    @Test(arguments: [8, 5, 32, 1])
    func logitsHiddenStatesLossAndEveryGradientMatchTransformers(chunkSize: Int) throws {
        // The chunk size changes the order of the sums, never the result: 5 does not divide 32.
        let original = try Mamba2LM.load(directory: Self.modelDirectory)
        var config = original.config
        config.chunkSize = chunkSize
        var generator = SeededGenerator(seed: 0)
        let model = Mamba2LM(config: config, generator: &generator)
        for ((_, source), (_, target)) in zip(original.namedParameters, model.namedParameters) {
            target.pointer.update(from: source.pointer, count: source.count)
        }
        let expected = try Self.expected()
        let ids = try expected.integers("input_ids").map { Int32($0) }
        let (batch, length) = (2, 32)
        let output = try model.forward(ids: ids, batch: batch, length: length, returnHiddenStates: true)
        let logitsError = Self.relativeError(output.logits.values, try expected.floats("logits"))
        #expect(logitsError <= 1e-4, "logits: relative error \(logitsError)")
        #expect(output.hiddenStates.count == config.layerCount + 1)
        for (i, hidden) in output.hiddenStates.enumerated() {
            let error = Self.relativeError(hidden.values, try expected.floats("hidden.\(i)"))
            #expect(error <= 1e-4, "hidden.\(i): relative error \(error)")
        }
        let loss = try crossEntropy(logits: output.logits, targets: Mamba2LM.nextTokenTargets(ids, batch: batch, length: length))
        let referenceLoss = try expected.floats("loss")[0]
        #expect(abs(loss.item - referenceLoss) <= 1e-4 * abs(referenceLoss))
        #expect(abs(referenceLoss - 5.930448) < 1e-5)  // README.json's figure
        loss.backward()
        var worstGradient = 0.0
        for (name, parameter) in model.namedParameters {
            let error = Self.relativeError(parameter.grad?.values ?? [], try expected.floats("grad.\(name)"))
            worstGradient = max(worstGradient, error)
            #expect(error <= 1e-4, "grad.\(name): relative error \(error)")
        }
        print("mamba2-tiny, chunk \(chunkSize): logits \(logitsError), loss \(abs(Double(loss.item - referenceLoss)) / Double(referenceLoss)), worst gradient \(worstGradient)")
    }

    @Test func greedyContinuationMatchesTransformers() throws {
        let model = try loadLanguageModel(directory: Self.modelDirectory)
        let expected = try Self.expected()
        let prompt = try expected.integers("generate.prompt").map { Int32($0) }
        let reference = try expected.integers("generate.greedy").map { Int32($0) }
        var generator = SeededGenerator(seed: 0)
        let generated = try model.generate(
            prompt: prompt, options: SamplingOptions(maxNewTokens: reference.count - prompt.count), generator: &generator)
        #expect(prompt + generated == reference)
    }

    @Test func decodingStepByStepMatchesTransformersLogits() throws {
        let model = try Mamba2LM.load(directory: Self.modelDirectory)
        let expected = try Self.expected()
        let ids = try expected.integers("input_ids").map { Int32($0) }
        let reference = try expected.floats("logits")  // (2, 32, V): rows 0 and 1
        let (length, vocabulary) = (32, model.config.vocabSize)
        for (weights, tolerance) in [(DecodingWeights.float32, 1e-4), (.bfloat16, 2e-2), (.int8, 5e-2)] {
            for row in 0..<2 {
                // Prefill 3 tokens (a chunk of the parallel form), then step through the rest.
                let decoder = Mamba2Decoder(model: model, weights: weights)
                let offset = row * length
                var logits = try decoder.prefill(Array(ids[offset..<offset + 3]))
                var worst = 0.0
                for t in 2..<length {
                    let start = (offset + t) * vocabulary
                    worst = max(worst, Self.relativeError(logits, Array(reference[start..<start + vocabulary])))
                    if t + 1 < length { logits = try decoder.step(ids[offset + t + 1]) }
                }
                print("mamba2-tiny decoded step by step, \(weights) weights, row \(row): relative error \(worst)")
                #expect(worst <= tolerance, "\(weights), row \(row): relative error \(worst)")
            }
        }
    }

    @Test func savedModelLoadsBackIdentically() throws {
        let scratch = try ScratchDirectory()
        let model = try Mamba2LM.load(directory: Self.modelDirectory)
        try model.save(directory: scratch.path)
        #expect(try scratch.contents() == ["config.json", "model.safetensors"])
        let text = try String(contentsOfFile: scratch.file("config.json"), encoding: .utf8)
        #expect(text.contains("\"__float__\": \"Infinity\"") || text.contains("\"__float__\":\"Infinity\""))
        let again = try loadLanguageModel(directory: scratch.path)
        #expect(again.configuration == model.configuration)
        for ((name, a), (otherName, b)) in zip(model.namedParameters, again.namedParameters) {
            #expect(name == otherName && a.values == b.values)
        }
        let saved = try SafeTensorsFile(path: scratch.file("model.safetensors"))
        #expect(saved.names == model.config.parameterShapes().map(\.name).sorted())
        #expect(model.namedParameters.map(\.name) == model.config.parameterShapes().map(\.name))
    }

    @Test func mambaSSMDirectoryLoadsToo() throws {
        let scratch = try ScratchDirectory()
        let source = try SafeTensorsFile(path: Self.modelDirectory + "/model.safetensors")
        var writer = SafeTensorsWriter()
        for name in source.names {
            let renamed = name.replacingOccurrences(of: "backbone.embeddings.", with: "backbone.embedding.")
            writer.add(renamed, shape: try source.info(name).shape, floats: try source.floats(name))
        }
        writer.add("lm_head.weight", shape: [256, 64], floats: try source.floats("backbone.embeddings.weight"))
        try writer.write(to: scratch.file("model.safetensors"))
        let config = """
            {"d_model": 64, "d_intermediate": 0, "n_layer": 2, "vocab_size": 256, "ssm_cfg": {"layer": "Mamba2",
             "d_state": 16, "headdim": 16, "ngroups": 2, "chunk_size": 8, "expand": 2, "d_conv": 4},
             "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": true, "residual_in_fp32": true,
             "fused_add_norm": true, "pad_vocab_size_multiple": 16, "tie_embeddings": true}
            """
        try config.write(toFile: scratch.file("config.json"), atomically: true, encoding: .utf8)
        let model = try loadLanguageModel(directory: scratch.path)
        guard case .mamba2(let loaded) = model.configuration else {
            Issue.record("a mamba_ssm Mamba2 config loaded as \(model.configuration.architecture)")
            return
        }
        #expect(loaded.headSize == 16 && loaded.groupCount == 2 && loaded.stateSize == 16 && loaded.vocabSize == 256)
        let expected = try Self.expected()
        let ids = try expected.integers("input_ids").map { Int32($0) }
        let logits = try withoutGradients { try model.forward(ids: ids, batch: 2, length: 32).logits }
        #expect(Self.relativeError(logits.values, try expected.floats("logits")) <= 1e-4)
    }

    @Test func badConfigsNameTheKey() throws {
        let scratch = try ScratchDirectory()
        let base = try String(contentsOfFile: Self.modelDirectory + "/config.json", encoding: .utf8)
        for (from, to, key) in [
            ("\"head_dim\": 16", "\"head_dim\": 15", "head_dim"),
            ("\"n_groups\": 2", "\"n_groups\": 3", "n_groups"),
            ("\"chunk_size\": 8", "\"chunk_size\": 0", "chunk_size"),
            ("\"Infinity\"", "\"Zero\"", "time_step_limit"),
            ("\"num_heads\": 8", "\"num_heads\": 9", "num_heads"),
            ("\"use_bias\": false", "\"use_bias\": false, \"mystery\": 1", "mystery"),
        ] {
            try base.replacingOccurrences(of: from, with: to).write(toFile: scratch.file("config.json"), atomically: true, encoding: .utf8)
            let message = errorMessage { _ = try LanguageModelConfig.read(contentsOf: scratch.file("config.json")) }
            #expect(message.contains(key) && message.contains("config.json"), "\(key): \(message)")
        }
    }
}
