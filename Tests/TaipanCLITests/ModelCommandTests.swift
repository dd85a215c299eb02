import Foundation
import Testing
import TaipanCheckpoint

@Suite struct ModelCommandTests {
    static let model = fixturesDirectory + "/mamba-tiny/model"
    static let expectedPath = fixturesDirectory + "/mamba-tiny/expected.safetensors"

    /// The Mamba and Mamba-2 fixtures, each a model directory and what PyTorch computed for it.
    static let fixtures = ["mamba-tiny", "mamba2-tiny"]

    @Test(arguments: fixtures)
    func forwardWritesWhatPyTorchComputed(fixture: String) throws {
        let scratch = try TemporaryDirectory()
        let expected = try SafeTensorsFile(path: fixturesDirectory + "/\(fixture)/expected.safetensors")
        var input = SafeTensorsWriter()
        input.add("input_ids", shape: [2, 32], integers: try expected.integers("input_ids"))
        try input.write(to: scratch.file("ids.safetensors"))
        let result = try runTaipan([
            "model", "forward", "--model", fixturesDirectory + "/\(fixture)/model", "--input", scratch.file("ids.safetensors"),
            "--output", scratch.file("out.safetensors"), "--grads",
        ])
        #expect(result.status == 0, "\(result.error)")
        let output = try SafeTensorsFile(path: scratch.file("out.safetensors"))
        let compared = expected.names.filter { !$0.hasPrefix("generate.") && $0 != "input_ids" }
        #expect(output.names == compared)
        for name in compared {
            let (a, b) = (try output.floats(name), try expected.floats(name))
            var difference: Float = 0, scale: Float = 0
            for (x, y) in zip(a, b) { difference = max(difference, abs(x - y)); scale = max(scale, abs(y)) }
            #expect(a.count == b.count && difference <= 1e-4 * scale, "\(fixture) \(name): relative error \(difference / scale)")
        }
    }

    @Test(arguments: fixtures)
    func generateContinuesGreedilyAsPyTorchDid(fixture: String) throws {
        let expected = try SafeTensorsFile(path: fixturesDirectory + "/\(fixture)/expected.safetensors")
        let prompt = try expected.integers("generate.prompt"), greedy = try expected.integers("generate.greedy")
        let result = try runTaipan([
            "generate", "--model", fixturesDirectory + "/\(fixture)/model", "--ids", prompt.map(String.init).joined(separator: ","),
            "--max-new-tokens", String(greedy.count - prompt.count), "--stop", "",
        ])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.split(separator: "\n").first.map(String.init) == greedy.map(String.init).joined(separator: ","))
    }

    @Test(arguments: fixtures)
    func generateWithNarrowWeightsGivesTheAskedLength(fixture: String) throws {
        for weights in ["bfloat16", "int8"] {
            let result = try runTaipan(["generate", "--model", fixturesDirectory + "/\(fixture)/model", "--ids", "1,2,3", "--max-new-tokens", "5", "--stop", "", "--weights", weights])
            #expect(result.status == 0, "\(weights): \(result.error)")
            #expect(result.output.split(separator: "\n").first?.split(separator: ",").count == 8, "\(weights)")
        }
        let bad = try runTaipan(["generate", "--model", Self.model, "--ids", "1", "--weights", "float16"])
        #expect(bad.status != 0 && bad.error.contains("--weights") && bad.error.contains("float16"))
    }

    @Test func badInputsFailWithAMessageNamingTheCulprit() throws {
        let missing = try runTaipan(["model", "info", "/nonexistent-model"])
        #expect(missing.status != 0 && missing.error.contains("/nonexistent-model/config.json"))
        let badId = try runTaipan(["generate", "--model", Self.model, "--ids", "1,2,999"])
        #expect(badId.status != 0 && badId.error.contains("999"))
        let scratch = try TemporaryDirectory()
        var input = SafeTensorsWriter()
        input.add("input_ids", shape: [1, 2], integers: [1, 300])
        try input.write(to: scratch.file("ids.safetensors"))
        let outOfVocabulary = try runTaipan([
            "model", "forward", "--model", Self.model, "--input", scratch.file("ids.safetensors"), "--output", scratch.file("o.safetensors"),
        ])
        #expect(outOfVocabulary.status != 0 && outOfVocabulary.error.contains("input_ids") && outOfVocabulary.error.contains("300"))
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o.safetensors")))
    }

    @Test func initWritesAMamba2ModelThatInfoReads() throws {
        let scratch = try TemporaryDirectory()
        let config = fixturesDirectory + "/mamba2-tiny/model/config.json"
        let created = try runTaipan(["model", "init", "--config", config, "--out", scratch.path, "--seed", "3"])
        #expect(created.status == 0, "\(created.error)")
        let info = try runTaipan(["model", "info", scratch.path])
        // 256·64 + 2 · (64 + 328·64 + 192·5 + 3·8 + 128 + 64·128) + 64 parameters.
        #expect(info.status == 0 && info.output.contains("Mamba-2") && info.output.contains("77,168"), "\(info.output)")
    }

    @Test func initWritesAModelThatInfoReads() throws {
        let scratch = try TemporaryDirectory()
        let created = try runTaipan(["model", "init", "--config", Self.model + "/config.json", "--out", scratch.path, "--seed", "3"])
        #expect(created.status == 0, "\(created.error)")
        // The parameter count, however the locale groups its digits.
        let info = try runTaipan(["model", "info", scratch.path], environment: ["LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8"])
        let digits = info.output.filter { !",.'\u{A0}\u{202F}".contains($0) }
        #expect(info.status == 0 && digits.contains("parameters: 81856 "), "\(info.output)")
        let again = try runTaipan(["model", "init", "--config", Self.model + "/config.json", "--out", scratch.path])
        #expect(again.status != 0 && again.error.contains("already holds a model"))
    }

    @Test func originalReleaseDirectoriesRunAndConvertToSafetensors() throws {
        let scratch = try TemporaryDirectory()
        let source = fixturesDirectory + "/torch-bin/float16"  // mamba_ssm config.json + pytorch_model.bin
        let expected = try SafeTensorsFile(path: source + "/expected.safetensors")
        let info = try runTaipan(["model", "info", source])
        #expect(info.status == 0 && info.output.contains("8,688") && info.output.contains("vocabulary 264"), "\(info.error)")

        var input = SafeTensorsWriter()
        input.add("input_ids", shape: [2, 8], integers: try expected.integers("input_ids"))
        try input.write(to: scratch.file("ids.safetensors"))
        let forward = try runTaipan([
            "model", "forward", "--model", source, "--input", scratch.file("ids.safetensors"), "--output", scratch.file("out.safetensors"),
        ])
        #expect(forward.status == 0, "\(forward.error)")
        let (logits, reference) = (try SafeTensorsFile(path: scratch.file("out.safetensors")).floats("logits"), try expected.floats("logits"))
        let scale = reference.map(abs).max() ?? 0
        #expect(logits.count == reference.count && zip(logits, reference).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
        let generated = try runTaipan(["generate", "--model", source, "--ids", "1,2,3", "--max-new-tokens", "4", "--stop", ""])
        #expect(generated.status == 0 && generated.output.split(separator: "\n").first?.split(separator: ",").count == 7, "\(generated.error)")

        let out = scratch.file("converted")
        let converted = try runTaipan(["model", "convert", source, out])
        #expect(converted.status == 0, "\(converted.error)")
        // Hugging Face names and config, float32 values equal to what torch.load reads.
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        #expect(config.contains("\"model_type\": \"mamba\"") && config.contains("\"hidden_size\": 16") && config.contains("\"vocab_size\": 264"))
        let weights = try SafeTensorsFile(path: out + "/model.safetensors")
        #expect(weights.names.count == 22 && weights.names.contains("backbone.embeddings.weight"))
        for name in weights.names {
            let torchName = name.replacingOccurrences(of: "backbone.embeddings.", with: "backbone.embedding.")
            #expect(try weights.info(name).dtype == .F32 && weights.floats(name) == expected.floats("weight." + torchName), "\(name)")
        }
        let again = try runTaipan(["model", "info", out])
        #expect(again.status == 0 && again.output.contains("8,688"))
        let twice = try runTaipan(["model", "convert", source, out])
        #expect(twice.status != 0 && twice.error.contains("already holds config.json"))
    }

    @Test func aHostilePytorchModelBinIsRefused() throws {
        let scratch = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: fixturesDirectory + "/torch-bin/float32/config.json", toPath: scratch.file("config.json"))
        try FileManager.default.copyItem(atPath: fixturesDirectory + "/torch-bin/hostile/os-system.bin", toPath: scratch.file("pytorch_model.bin"))
        let info = try runTaipan(["model", "info", scratch.path])
        #expect(info.status != 0 && info.error.contains(scratch.file("pytorch_model.bin")) && info.error.contains("GLOBAL os.system is refused"))
        let convert = try runTaipan(["model", "convert", scratch.path, scratch.file("out")])
        #expect(convert.status != 0 && !FileManager.default.fileExists(atPath: scratch.file("out")))
    }
}
