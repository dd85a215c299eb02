import Foundation
import Testing
import TaipanNN
import TaipanTensor
@testable import TaipanCheckpoint

/// Parity with `Tests/Fixtures/mamba-tiny`: a random Hugging Face `MambaForCausalLM` and the
/// outputs PyTorch computed for it in float64 (see its README.json).
@Suite struct ModelDirectoryTests {
    static let modelDirectory = mambaTinyDirectory + "/model"

    static func expected() throws -> SafeTensorsFile { try SafeTensorsFile(path: mambaTinyDirectory + "/expected.safetensors") }

    /// max |a − b| / max |b|.
    static func relativeError(_ actual: [Float], _ expected: [Float]) -> Double {
        var difference = 0.0, scale = 0.0
        for (a, b) in zip(actual, expected) {
            difference = max(difference, abs(Double(a) - Double(b)))
            scale = max(scale, abs(Double(b)))
        }
        return actual.count == expected.count ? difference / max(scale, 1e-30) : .infinity
    }

    /// The elementwise check beside `relativeError`, as numpy's `allclose`: the largest
    /// |a − b| / (atol + rtol·|b|), at most 1 when every element is within tolerance. `atol` is
    /// taken relative to the tensor's largest value, so that tensors of any scale are held to
    /// the same standard, and entries far below that value still count.
    static func allCloseRatio(_ actual: [Float], _ expected: [Float], rtol: Double, atolOfLargest: Double) -> Double {
        guard actual.count == expected.count else { return .infinity }
        let atol = atolOfLargest * max(expected.map { abs(Double($0)) }.max() ?? 0, 1e-30)
        var worst = 0.0
        for (a, b) in zip(actual, expected) { worst = max(worst, abs(Double(a) - Double(b)) / (atol + rtol * abs(Double(b)))) }
        return worst
    }

    /// Tolerances of the elementwise check: the tightest powers of ten that hold with room to
    /// spare for other CPUs' rounding (the worst ratio this test prints is 0.50 at these values
    /// on a Zen 3 EPYC; rtol 5e-5 would leave none).
    static let (parityRelative, parityAbsoluteOfLargest) = (1e-4, 1e-6)

    @Test func logitsHiddenStatesLossAndEveryGradientMatchPyTorch() throws {
        let model = try MambaLM.load(directory: Self.modelDirectory)
        let expected = try Self.expected()
        let ids = try expected.integers("input_ids").map { Int32($0) }
        let (batch, length) = (2, 32)
        // Odd checkpoint interval: the backward must recompute partial chunks too.
        model.scanCheckpointInterval = 7
        let output = try model.forward(ids: ids, batch: batch, length: length, returnHiddenStates: true)
        var worstElementwise = 0.0
        func elementwise(_ name: String, _ actual: [Float], _ reference: [Float]) {
            let ratio = Self.allCloseRatio(actual, reference, rtol: Self.parityRelative, atolOfLargest: Self.parityAbsoluteOfLargest)
            worstElementwise = max(worstElementwise, ratio)
            #expect(ratio <= 1, "\(name): an element is outside rtol \(Self.parityRelative), atol \(Self.parityAbsoluteOfLargest) × largest (ratio \(ratio))")
        }
        #expect(Self.relativeError(output.logits.values, try expected.floats("logits")) <= 1e-4)
        elementwise("logits", output.logits.values, try expected.floats("logits"))
        #expect(output.hiddenStates.count == model.config.layerCount + 1)
        for (i, hidden) in output.hiddenStates.enumerated() {
            let error = Self.relativeError(hidden.values, try expected.floats("hidden.\(i)"))
            #expect(error <= 1e-4, "hidden.\(i): relative error \(error)")
            elementwise("hidden.\(i)", hidden.values, try expected.floats("hidden.\(i)"))
        }
        let loss = try crossEntropy(logits: output.logits, targets: MambaLM.nextTokenTargets(ids, batch: batch, length: length))
        let referenceLoss = try expected.floats("loss")[0]
        #expect(abs(loss.item - referenceLoss) <= 1e-4 * abs(referenceLoss))
        #expect(abs(referenceLoss - 6.312796) < 1e-5)  // README.json's figure
        loss.backward()
        for (name, parameter) in model.namedParameters {
            let error = Self.relativeError(parameter.grad?.values ?? [], try expected.floats("grad.\(name)"))
            #expect(error <= 1e-4, "grad.\(name): relative error \(error)")
            elementwise("grad.\(name)", parameter.grad?.values ?? [], try expected.floats("grad.\(name)"))
        }
        print("fixture parity, elementwise: worst |a − b| / (atol + rtol·|b|) = \(worstElementwise)")
    }

    @Test func greedyContinuationMatchesPyTorch() throws {
        let model = try MambaLM.load(directory: Self.modelDirectory)
        let expected = try Self.expected()
        let prompt = try expected.integers("generate.prompt").map { Int32($0) }
        let reference = try expected.integers("generate.greedy").map { Int32($0) }
        var generator = SeededGenerator(seed: 0)
        let generated = try model.generate(
            prompt: prompt, options: SamplingOptions(maxNewTokens: reference.count - prompt.count), generator: &generator)
        #expect(prompt + generated == reference)
    }

    @Test func decodingStepByStepMatchesPyTorchsLogits() throws {
        let model = try MambaLM.load(directory: Self.modelDirectory)
        let expected = try Self.expected()
        let ids = try expected.integers("input_ids").map { Int32($0) }
        let reference = try expected.floats("logits")  // (2, 32, V): row 0 here
        let (length, vocabulary) = (32, model.config.vocabSize)
        for (weights, tolerance) in [(DecodingWeights.float32, 1e-4), (.bfloat16, 2e-2), (.int8, 3e-2)] {
            let decoder = Decoder(model: model, weights: weights)
            var logits = try decoder.prefill([ids[0]])
            var worst = 0.0
            for t in 0..<length {
                worst = max(worst, Self.relativeError(logits, Array(reference[(t * vocabulary)..<((t + 1) * vocabulary)])))
                if t + 1 < length { logits = try decoder.step(ids[t + 1]) }
            }
            print("fixture decoded step by step, \(weights) weights: relative error \(worst)")
            #expect(worst <= tolerance, "\(weights): relative error \(worst)")
        }
    }

    @Test func savedModelLoadsBackIdentically() throws {
        let scratch = try ScratchDirectory()
        let model = try MambaLM.load(directory: Self.modelDirectory)
        try model.save(directory: scratch.path)
        #expect(try scratch.contents() == ["config.json", "model.safetensors"])
        let again = try MambaLM.load(directory: scratch.path)
        #expect(again.config == model.config)
        for ((name, a), (otherName, b)) in zip(model.namedParameters, again.namedParameters) {
            #expect(name == otherName && a.values == b.values)
        }
        // The saved file holds exactly the Hugging Face names, no more, no fewer.
        let saved = try SafeTensorsFile(path: scratch.file("model.safetensors"))
        #expect(saved.names == model.config.parameterShapes().map(\.name).sorted())
    }

    @Test func mambaSSMNamesLoadToo() throws {
        let scratch = try ScratchDirectory()
        let source = try SafeTensorsFile(path: Self.modelDirectory + "/model.safetensors")
        var writer = SafeTensorsWriter()
        for name in source.names {
            let renamed = name.replacingOccurrences(of: "backbone.embeddings.", with: "backbone.embedding.")
            writer.add(renamed, shape: try source.info(name).shape, floats: try source.floats(name))
        }
        // mamba_ssm repeats the tied head in its state dict.
        writer.add("lm_head.weight", shape: [256, 64], floats: try source.floats("backbone.embeddings.weight"))
        try writer.write(to: scratch.file("model.safetensors"))
        try FileManager.default.copyItem(atPath: Self.modelDirectory + "/config.json", toPath: scratch.file("config.json"))
        let model = try MambaLM.load(directory: scratch.path)
        #expect(model.embeddings.weight.values == (try source.floats("backbone.embeddings.weight")))
    }

    @Test func mismatchesNameTheTensor() throws {
        let scratch = try ScratchDirectory()
        let source = try SafeTensorsFile(path: Self.modelDirectory + "/model.safetensors")
        try FileManager.default.copyItem(atPath: Self.modelDirectory + "/config.json", toPath: scratch.file("config.json"))
        func write(_ edit: (String, [Int]) -> (String, [Int], [Float])?) throws {
            var writer = SafeTensorsWriter()
            for name in source.names {
                if let (newName, shape, values) = edit(name, try source.info(name).shape) { writer.add(newName, shape: shape, floats: values) }
            }
            try writer.write(to: scratch.file("model.safetensors"))
        }
        try write { name, shape in name == "backbone.norm_f.weight" ? nil : (name, shape, try! source.floats(name)) }
        #expect(throws: CheckpointError.missingTensor(path: scratch.path, tensor: "backbone.norm_f.weight")) {
            try MambaLM.load(directory: scratch.path)
        }
        try write { name, shape in
            name == "backbone.layers.1.mixer.D" ? (name, [64], [Float](repeating: 1, count: 64)) : (name, shape, try! source.floats(name))
        }
        #expect {
            try MambaLM.load(directory: scratch.path)
        } throws: { error in
            "\(error)".contains("backbone.layers.1.mixer.D") && "\(error)".contains("(64,)") && "\(error)".contains("(128,)")
        }
        try write { name, shape in (name == "backbone.norm_f.weight" ? "backbone.norm_g.weight" : name, shape, try! source.floats(name)) }
        #expect {
            try MambaLM.load(directory: scratch.path)
        } throws: { error in "\(error)".contains("backbone.norm_g.weight") }
    }
}
