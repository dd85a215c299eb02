// ModelWeights.swift — finds the weights of a Hugging Face model directory: a single
// `model.safetensors`, or `model.safetensors.index.json` with its shards.

import Foundation

/// The file name of a single-file model's weights.
public let singleWeightsFileName = "model.safetensors"
/// The file name of a sharded model's index.
public let shardedWeightsIndexName = "model.safetensors.index.json"

/// Opens the weights of the model directory at `directory`: `model.safetensors` when present,
/// otherwise the sharded checkpoint its `model.safetensors.index.json` describes.
public func openModelWeights(directory: String) throws(CheckpointError) -> any SafeTensorsSource {
    let single = (directory as NSString).appendingPathComponent(singleWeightsFileName)
    if FileManager.default.fileExists(atPath: single) { return try SafeTensorsFile(path: single) }
    let index = (directory as NSString).appendingPathComponent(shardedWeightsIndexName)
    if FileManager.default.fileExists(atPath: index) { return try ShardedSafeTensors(indexPath: index) }
    throw CheckpointError.io(
        path: directory, message: "holds neither \(singleWeightsFileName) nor \(shardedWeightsIndexName)")
}
