import Foundation
import TaipanNN
import TaipanTensor
import Testing

@testable import TaipanCheckpoint

@Suite struct LoRAAdapterFileTests {
    let fixture = URL(fileURLWithPath: mambaTinyDirectory).deletingLastPathComponent().appendingPathComponent("peft-lora").path

    func relativeError(_ ours: [Float], _ reference: [Double]) -> Double {
        let scale = reference.map(abs).max() ?? 1
        return zip(ours, reference).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? .infinity
    }

    /// An adapter PEFT made (r 4, α 6, in_proj and x_proj, norm_f saved in full) gives PEFT's
    /// float64 logits, applied as adapters and merged.
    @Test func aPEFTAdapterGivesPEFTsLogits() throws {
        let expected = try SafeTensorsFile(path: fixture + "/expected.safetensors")
        let ids = try expected.integers("input_ids").map { Int32($0) }
        let reference = try expected.floats("logits").map(Double.init)
        let model = try MambaLM.load(directory: mambaTinyDirectory + "/model")
        let base = try model.forward(ids: ids, batch: 2, length: 9).logits.values
        #expect(relativeError(base, reference) > 1e-2, "the adapter must matter")
        let settings = try model.loadAdapter(directory: fixture + "/adapter")
        #expect(settings == LoRASettings(rank: 4, alpha: 6, targetModules: ["in_proj", "x_proj"], modulesToSave: ["norm_f"]))
        #expect(model.adapters.count == 4)
        model.setAdapterMode(training: false)
        #expect(relativeError(try model.forward(ids: ids, batch: 2, length: 9).logits.values, reference) < 1e-4)
        model.mergeAdapters()
        #expect(relativeError(try model.forward(ids: ids, batch: 2, length: 9).logits.values, reference) < 1e-4)
    }

    /// What Taipan writes reads back into the same adapters, and its config holds PEFT's keys.
    @Test func savedAdaptersReadBack() throws {
        let scratch = try ScratchDirectory()
        var generator = SeededGenerator(seed: 3)
        let model = try MambaLM.load(directory: mambaTinyDirectory + "/model")
        let settings = LoRASettings(rank: 2, alpha: 5, dropout: 0.1, targetModules: ["in_proj", "dt_proj"], modulesToSave: ["norm_f"], useRSLoRA: true)
        model.attachAdapters(settings, generator: &generator)
        for adapter in model.adapters { for i in 0..<adapter.b.count { adapter.b.pointer[i] = Float(i % 5) - 2 } }
        try model.saveAdapter(settings: settings, directory: scratch.path, baseModel: "base")
        #expect(try scratch.contents() == ["adapter_config.json", "adapter_model.safetensors"])
        let text = try String(contentsOfFile: scratch.file("adapter_config.json"), encoding: .utf8)
        for pair in ["\"peft_type\": \"LORA\"", "\"r\": 2", "\"lora_alpha\": 5.0", "\"use_rslora\": true", "\"task_type\": \"CAUSAL_LM\"", "\"base_model_name_or_path\": \"base\""] {
            #expect(text.contains(pair), "\(pair)")
        }
        let names = try SafeTensorsFile(path: scratch.file("adapter_model.safetensors")).names
        #expect(names.count == 9 && names.contains("base_model.model.backbone.layers.1.mixer.dt_proj.lora_B.weight")
            && names.contains("base_model.model.backbone.norm_f.weight"))
        let other = try MambaLM.load(directory: mambaTinyDirectory + "/model")
        #expect(try other.loadAdapter(directory: scratch.path) == settings)
        for ((name, a), (_, b)) in zip(model.adapterParameters, other.adapterParameters) { #expect(a.values == b.values, "\(name)") }
    }

    /// The message of an `invalidConfig` error (so that a comparison checks the path and key).
    static func message(of error: any Error) -> String {
        guard case .invalidConfig(_, _, let message)? = error as? CheckpointError else { return "" }
        return message
    }

    @Test func unsupportedOrBrokenAdaptersAreRefusedByKey() throws {
        let scratch = try ScratchDirectory()
        let config = try String(contentsOfFile: fixture + "/adapter/adapter_config.json", encoding: .utf8)
        try FileManager.default.copyItem(atPath: fixture + "/adapter/adapter_model.safetensors", toPath: scratch.file("adapter_model.safetensors"))
        let cases: [(String, String, String)] = [
            ("\"use_dora\": false", "\"use_dora\": true", "use_dora"),
            ("\"bias\": \"none\"", "\"bias\": \"all\"", "bias"),
            ("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"", "peft_type"),
            ("\"r\": 4", "\"r\": 0", "r"),
            ("\"rank_pattern\": {}", "\"rank_pattern\": {\"in_proj\": 8}", "rank_pattern"),
            ("\"target_modules\": [\n    \"in_proj\",\n    \"x_proj\"\n  ]", "\"target_modules\": \".*proj\"", "target_modules"),
            ("\"target_modules\": [\n    \"in_proj\",\n    \"x_proj\"\n  ]", "\"target_modules\": [\"conv1d\"]", "target_modules"),
        ]
        for (original, replacement, key) in cases {
            #expect(config.contains(original), "\(original)")
            try config.replacingOccurrences(of: original, with: replacement).write(toFile: scratch.file("adapter_config.json"), atomically: true, encoding: .utf8)
            let model = try MambaLM.load(directory: mambaTinyDirectory + "/model")
            let expectedPath = scratch.file("adapter_config.json")
            #expect("\(key)") {
                try model.loadAdapter(directory: scratch.path)
            } throws: { error in
                error as? CheckpointError == .invalidConfig(path: expectedPath, key: key, message: Self.message(of: error))
            }
        }
        // r 8 in the config, rank-4 tensors in the file: the shape is named.
        try config.replacingOccurrences(of: "\"r\": 4", with: "\"r\": 8").write(toFile: scratch.file("adapter_config.json"), atomically: true, encoding: .utf8)
        let model = try MambaLM.load(directory: mambaTinyDirectory + "/model")
        #expect {
            try model.loadAdapter(directory: scratch.path)
        } throws: { error in
            "\(error)".contains("lora_A.weight") && "\(error)".contains("has shape")
        }
    }
}
