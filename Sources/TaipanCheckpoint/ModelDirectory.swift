// ModelDirectory.swift — a Mamba or Mamba-2 model as a Hugging Face model directory:
// `config.json` plus `model.safetensors` (or a sharded index, or a `pytorch_model.bin`). Loads
// Hugging Face `MambaForCausalLM` / `Mamba2ForCausalLM` directories and `mamba_ssm` ones
// (`backbone.embedding.*`); saves what `transformers` loads with no missing or unexpected weights.

import Foundation
import TaipanNN
import TaipanTensor

/// The file name of a model's configuration.
public let configFileName = "config.json"

/// Loads the model in `directory` (a Hugging Face or `mamba_ssm` model directory), Mamba or
/// Mamba-2 as its `config.json` says.
public func loadLanguageModel(directory: String) throws(CheckpointError) -> any LanguageModel {
    let config = try LanguageModelConfig.read(contentsOf: (directory as NSString).appendingPathComponent(configFileName))
    let weights = try openModelWeights(directory: directory)
    var generator = SeededGenerator(seed: 0)
    let model = config.makeModel(generator: &generator)
    try model.loadParameters(from: weights, path: directory)
    return model
}

extension MambaLM {
    /// Loads the Mamba model in `directory` (a Hugging Face or `mamba_ssm` model directory).
    public static func load(directory: String) throws(CheckpointError) -> MambaLM {
        let config = try MambaConfig.read(contentsOf: (directory as NSString).appendingPathComponent(configFileName))
        let weights = try openModelWeights(directory: directory)
        var generator = SeededGenerator(seed: 0)
        let model = MambaLM(config: config, generator: &generator)
        try model.loadParameters(from: weights, path: directory)
        return model
    }
}

extension Mamba2LM {
    /// Loads the Mamba-2 model in `directory` (a Hugging Face or `mamba_ssm` model directory).
    public static func load(directory: String) throws(CheckpointError) -> Mamba2LM {
        let path = (directory as NSString).appendingPathComponent(configFileName)
        guard case .mamba2(let config) = try LanguageModelConfig.read(contentsOf: path) else {
            throw CheckpointError.invalidConfig(path: path, key: "model_type", message: "is not a Mamba-2 model")
        }
        let weights = try openModelWeights(directory: directory)
        var generator = SeededGenerator(seed: 0)
        let model = Mamba2LM(config: config, generator: &generator)
        try model.loadParameters(from: weights, path: directory)
        return model
    }
}

extension LanguageModel {
    /// Overwrites every parameter with the tensor of the same name in `source` (Hugging Face
    /// or `mamba_ssm` names). Every parameter must be there with its exact shape, and every
    /// tensor in `source` must be a parameter; errors name the tensor and `path`.
    public func loadParameters(from source: any SafeTensorsSource, path: String) throws(CheckpointError) {
        let parameters = Dictionary(uniqueKeysWithValues: namedParameters.map { ($0.name, $0.tensor) })
        var loaded = Set<String>()
        for stored in source.names {
            // A tied head stored next to the embedding repeats it: nothing to load.
            guard let name = configuration.huggingFaceName(forMambaSSMName: stored) else { continue }
            guard let tensor = parameters[name] else {
                throw CheckpointError.invalidTensor(
                    path: path, tensor: stored, message: "is not a parameter of this model (\(configuration.architecture), \(layerCount) layers, tied head: \(headWeight === embeddings.weight))")
            }
            guard loaded.insert(name).inserted else {
                throw CheckpointError.invalidTensor(path: path, tensor: stored, message: "is stored twice (under Hugging Face and mamba_ssm names)")
            }
            try source.read(stored, into: tensor, path: path, shapeFrom: "the model's config.json")
        }
        if let missing = namedParameters.first(where: { !loaded.contains($0.name) }) {
            throw CheckpointError.missingTensor(path: path, tensor: missing.name)
        }
    }

    /// Writes `config.json` and `model.safetensors` (float32) into `directory`, creating it if
    /// needed; each file is written atomically.
    public func save(directory: String) throws(CheckpointError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.io(path: directory, message: "cannot create the directory: \(error.localizedDescription)")
        }
        try configuration.write(to: (directory as NSString).appendingPathComponent(configFileName))
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for (name, tensor) in namedParameters {
            writer.add(name, shape: tensor.shape, floats: UnsafeBufferPointer(start: tensor.pointer, count: tensor.count))
        }
        try writer.write(to: (directory as NSString).appendingPathComponent(singleWeightsFileName))
    }
}

extension SafeTensorsSource {
    /// Reads the tensor `stored` into `tensor`, which must have its shape; a mismatch is an
    /// error naming the tensor, `path`, and what set the expected shape (`shapeFrom`).
    func read(_ stored: String, into tensor: Tensor, path: String, shapeFrom: String) throws(CheckpointError) {
        let info = try info(stored)
        guard info.shape == tensor.shape else {
            throw CheckpointError.invalidTensor(
                path: path, tensor: stored,
                message: "has shape \(describeShape(info.shape)) but \(shapeFrom) needs \(describeShape(tensor.shape))")
        }
        try readFloats(stored, into: UnsafeMutableBufferPointer(start: tensor.pointer, count: tensor.count))
    }
}
