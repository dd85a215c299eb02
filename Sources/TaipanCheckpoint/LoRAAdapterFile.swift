// LoRAAdapterFile.swift — LoRA adapters in PEFT's directory format (PEFT 0.21):
// `adapter_config.json` (a `LoraConfig`: peft_type "LORA", r, lora_alpha, lora_dropout,
// target_modules, modules_to_save, use_rslora, …) and `adapter_model.safetensors`, whose
// tensors are named `base_model.model.<module>.lora_A.weight` (r, in) and `….lora_B.weight`
// (out, r), and `base_model.model.<parameter>` for the modules trained in full. What Taipan
// writes, `peft.PeftModel.from_pretrained` loads on transformers' model of the same base; what
// PEFT writes for Linear targets, Taipan loads. PEFT options Taipan does not implement (DoRA,
// trained biases, per-layer ranks, …) are refused by key rather than ignored.

import Foundation
import TaipanNN
import TaipanTensor

/// The file names of a PEFT adapter directory.
public let adapterConfigFileName = "adapter_config.json"
public let adapterWeightsFileName = "adapter_model.safetensors"

/// PEFT's prefix of every tensor name in `adapter_model.safetensors`.
let peftTensorPrefix = "base_model.model."

extension LoRASettings {
    /// Reads `adapter_config.json` at `path`, refusing PEFT options Taipan does not implement.
    public static func read(contentsOf path: String) throws(CheckpointError) -> LoRASettings {
        let json: JSONValue
        do {
            json = try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError.io(path: path, message: "cannot read the adapter config: \(error.localizedDescription)")
        }
        guard case .object = json else { throw CheckpointError.invalidHeader(path: path, message: "not a JSON object") }
        func fail(_ key: String, _ message: String) -> CheckpointError { .invalidConfig(path: path, key: key, message: message) }
        guard json["peft_type"]?.stringValue == "LORA" else {
            throw fail("peft_type", "\(json["peft_type"]?.serialized() ?? "missing"): only \"LORA\" adapters are supported")
        }
        guard let rank = json["r"]?.integerValue, rank >= 1 else { throw fail("r", "expected a positive integer") }
        guard let alpha = json["lora_alpha"]?.doubleValue else { throw fail("lora_alpha", "expected a number") }
        let dropout = json["lora_dropout"]?.doubleValue ?? 0
        let targets: [String]
        switch json["target_modules"] {
        case .array(let items)? where items.allSatisfy({ $0.stringValue != nil }) && !items.isEmpty:
            targets = items.compactMap(\.stringValue)
        case .string(let pattern)?:
            throw fail("target_modules", "a regular expression (\"\(pattern)\") is not supported; list the module names")
        default:
            throw fail("target_modules", "expected a non-empty list of module names")
        }
        var saved: [String] = []
        switch json["modules_to_save"] {
        case nil, .null?: break
        case .array(let items)? where items.allSatisfy({ $0.stringValue != nil }): saved = items.compactMap(\.stringValue)
        default: throw fail("modules_to_save", "expected a list of module names or null")
        }
        // Options that change what the tensors mean: refused unless at their neutral value.
        let neutral: [(String, (JSONValue) -> Bool)] = [
            ("use_dora", { $0 == .bool(false) }), ("fan_in_fan_out", { $0 == .bool(false) }),
            ("bias", { $0 == .string("none") }), ("lora_bias", { $0 == .bool(false) }),
            ("rank_pattern", { $0 == .object([]) }), ("alpha_pattern", { $0 == .object([]) }),
            ("layers_to_transform", { $0 == .null }), ("layer_replication", { $0 == .null }),
            ("target_parameters", { $0 == .null }), ("trainable_token_indices", { $0 == .null }),
            ("exclude_modules", { $0 == .null || $0 == .array([]) }),
        ]
        for (key, isNeutral) in neutral {
            if let value = json[key], !isNeutral(value) {
                throw fail(key, "\(value.serialized()) is not supported by Taipan's LoRA")
            }
        }
        let useRSLoRA = json["use_rslora"]?.boolValue ?? false
        return LoRASettings(
            rank: rank, alpha: alpha, dropout: dropout, targetModules: targets, modulesToSave: saved, useRSLoRA: useRSLoRA)
    }

    /// PEFT's `adapter_config.json` for these settings.
    public func peftJSON(baseModel: String?) -> JSONValue {
        .object([
            ("alpha_pattern", .object([])),
            ("base_model_name_or_path", baseModel.map { .string($0) } ?? .null),
            ("bias", .string("none")),
            ("fan_in_fan_out", .bool(false)),
            ("inference_mode", .bool(true)),
            ("init_lora_weights", .bool(true)),
            ("layers_to_transform", .null),
            ("lora_alpha", .double(alpha)),
            ("lora_dropout", .double(dropout)),
            ("modules_to_save", modulesToSave.isEmpty ? .null : .array(modulesToSave.map { .string($0) })),
            ("peft_type", .string("LORA")),
            ("r", .integer(rank)),
            ("rank_pattern", .object([])),
            ("target_modules", .array(targetModules.map { .string($0) })),
            ("task_type", .string("CAUSAL_LM")),
            ("use_dora", .bool(false)),
            ("use_rslora", .bool(useRSLoRA)),
        ])
    }
}

extension LanguageModel {
    /// Writes the adapters and the `modules_to_save` parameters into `directory` in PEFT's
    /// format (each file atomically); `baseModel` is recorded as the base's path.
    public func saveAdapter(settings: LoRASettings, directory: String, baseModel: String?) throws(CheckpointError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.io(path: directory, message: "cannot create the directory: \(error.localizedDescription)")
        }
        let text = settings.peftJSON(baseModel: baseModel).serialized(indented: true) + "\n"
        try writeAtomically(path: (directory as NSString).appendingPathComponent(adapterConfigFileName)) { file throws(CheckpointError) in
            try file.write(text)
        }
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for (name, tensor) in adapterParameters + parameters(ofModules: settings.modulesToSave) {
            writer.add(peftTensorPrefix + name, shape: tensor.shape, floats: UnsafeBufferPointer(start: tensor.pointer, count: tensor.count))
        }
        try writer.write(to: (directory as NSString).appendingPathComponent(adapterWeightsFileName))
    }

    /// Reads the PEFT adapter in `directory`: gives the layers it targets adapters holding its
    /// matrices, and overwrites the parameters of its `modules_to_save` with its copies. Every
    /// tensor must match a parameter of this model with its exact shape, and every adapter the
    /// config implies must be there. Returns the settings.
    @discardableResult
    public func loadAdapter(directory: String) throws(CheckpointError) -> LoRASettings {
        let configPath = (directory as NSString).appendingPathComponent(adapterConfigFileName)
        let settings = try LoRASettings.read(contentsOf: configPath)
        var generator = SeededGenerator(seed: 0)
        let targeted = attachAdapters(settings, generator: &generator)
        guard !targeted.isEmpty else {
            throw CheckpointError.invalidConfig(
                path: configPath, key: "target_modules",
                message: "\(settings.targetModules) names no Linear layer of this model (\(Set(namedLinearLayers.map { $0.name.split(separator: ".").last.map(String.init) ?? $0.name }).sorted().joined(separator: ", ")))")
        }
        try loadAdapterTensors(directory: directory, settings: settings)
        return settings
    }

    /// Overwrites the attached adapters and the `modules_to_save` parameters with the tensors
    /// of `directory/adapter_model.safetensors`.
    public func loadAdapterTensors(directory: String, settings: LoRASettings) throws(CheckpointError) {
        let path = (directory as NSString).appendingPathComponent(adapterWeightsFileName)
        let file = try SafeTensorsFile(path: path)
        var expected: [String: Tensor] = [:]
        for (name, tensor) in adapterParameters + parameters(ofModules: settings.modulesToSave) { expected[peftTensorPrefix + name] = tensor }
        var loaded = Set<String>()
        for stored in file.names {
            guard let tensor = expected[stored] else {
                let hint = stored.contains("lora_embedding") ? " (LoRA on the embedding is not supported)" : ""
                throw CheckpointError.invalidTensor(path: path, tensor: stored, message: "is not an adapter or saved module of this model\(hint)")
            }
            try file.read(stored, into: tensor, path: path, shapeFrom: "the model and adapter_config.json")
            loaded.insert(stored)
        }
        if let missing = expected.keys.sorted().first(where: { !loaded.contains($0) }) {
            throw CheckpointError.missingTensor(path: path, tensor: missing)
        }
    }
}
