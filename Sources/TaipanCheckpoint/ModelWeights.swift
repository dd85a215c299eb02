// ModelWeights.swift — finds the weights of a model directory: a single `model.safetensors`,
// `model.safetensors.index.json` with its shards (Hugging Face), or `pytorch_model.bin` (the
// original mamba_ssm releases, written by `torch.save`).

import Foundation

/// The file name of a single-file model's weights.
public let singleWeightsFileName = "model.safetensors"
/// The file name of a sharded model's index.
public let shardedWeightsIndexName = "model.safetensors.index.json"
/// The file name of a `torch.save` state dict.
public let torchWeightsFileName = "pytorch_model.bin"

/// Opens the weights of the model directory at `directory`: `model.safetensors` when present,
/// otherwise the sharded checkpoint its `model.safetensors.index.json` describes, otherwise its
/// `pytorch_model.bin`.
public func openModelWeights(directory: String) throws(CheckpointError) -> any SafeTensorsSource {
    let single = (directory as NSString).appendingPathComponent(singleWeightsFileName)
    if FileManager.default.fileExists(atPath: single) { return try SafeTensorsFile(path: single) }
    let index = (directory as NSString).appendingPathComponent(shardedWeightsIndexName)
    if FileManager.default.fileExists(atPath: index) { return try ShardedSafeTensors(indexPath: index) }
    let torch = (directory as NSString).appendingPathComponent(torchWeightsFileName)
    if FileManager.default.fileExists(atPath: torch) { return try TorchCheckpointFile(path: torch) }
    throw CheckpointError.io(
        path: directory,
        message: "holds none of \(singleWeightsFileName), \(shardedWeightsIndexName) and \(torchWeightsFileName)")
}
