// ShardedSafeTensors.swift — a checkpoint split over several safetensors files, as Hugging
// Face writes large models: `model.safetensors.index.json` holds `{"metadata": {...},
// "weight_map": {tensor name: shard file name}}` and the shards sit beside it.

import Foundation

/// The tensors of a sharded checkpoint, read through its index.
public final class ShardedSafeTensors: SafeTensorsSource, @unchecked Sendable {
    /// The index file's path, used in error messages.
    public let indexPath: String
    /// Every tensor name, sorted.
    public let names: [String]
    /// The shard file names, sorted.
    public let shardNames: [String]
    /// The index's `metadata` object (e.g. `total_size`); empty when absent.
    public let metadata: [(key: String, value: JSONValue)]

    // Immutable after init; each shard is itself safe to share.
    private let shards: [String: SafeTensorsFile]
    private let shardOfTensor: [String: String]

    /// Opens the index at `indexPath` and every shard it names, checking that each tensor of
    /// the weight map is in its shard and each shard holds only tensors mapped to it.
    public init(indexPath: String) throws(CheckpointError) {
        func fail(_ message: String, shard: String? = nil, tensor: String? = nil) -> CheckpointError {
            CheckpointError.invalidIndex(path: indexPath, shard: shard, tensor: tensor, message: message)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: indexPath))
        } catch {
            throw CheckpointError.io(path: indexPath, message: "cannot read: \(error.localizedDescription)")
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(data)
        } catch {
            throw fail("not valid JSON: \(error)")
        }
        guard case .object(let members) = json else { throw fail("the index is \(json.kindDescription), not an object") }
        for (key, _) in members where key != "metadata" && key != "weight_map" {
            throw fail("unknown key \"\(key)\"")
        }
        var metadata: [(key: String, value: JSONValue)] = []
        if let value = json["metadata"] {
            guard case .object(let entries) = value else { throw fail("metadata is \(value.kindDescription), not an object") }
            metadata = entries
        }
        guard let weightMapValue = json["weight_map"] else { throw fail("missing \"weight_map\"") }
        guard case .object(let weightMap) = weightMapValue else {
            throw fail("weight_map is \(weightMapValue.kindDescription), not an object")
        }

        let directory = (indexPath as NSString).deletingLastPathComponent
        var shardOfTensor: [String: String] = [:]
        var shards: [String: SafeTensorsFile] = [:]
        for (tensor, shardValue) in weightMap {
            guard let shard = shardValue.stringValue else {
                throw fail("shard is \(shardValue.kindDescription), not a file name", tensor: tensor)
            }
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw fail("not a file name beside the index", shard: shard, tensor: tensor)
            }
            if shards[shard] == nil {
                do {
                    shards[shard] = try SafeTensorsFile(path: (directory as NSString).appendingPathComponent(shard))
                } catch {
                    throw fail("cannot open: \(error)", shard: shard)
                }
            }
            guard shards[shard]?.contains(tensor) == true else {
                throw fail("listed in the weight map but not in the shard", shard: shard, tensor: tensor)
            }
            shardOfTensor[tensor] = shard
        }
        for (shard, file) in shards {
            for tensor in file.names where shardOfTensor[tensor] != shard {
                throw fail(
                    shardOfTensor[tensor].map { "the weight map places it in shard \"\($0)\"" }
                        ?? "in the shard but not in the weight map",
                    shard: shard, tensor: tensor)
            }
        }
        self.indexPath = indexPath
        self.names = shardOfTensor.keys.sorted()
        self.shardNames = shards.keys.sorted()
        self.metadata = metadata
        self.shards = shards
        self.shardOfTensor = shardOfTensor
    }

    /// Whether a tensor named `name` exists in some shard.
    public func contains(_ name: String) -> Bool { shardOfTensor[name] != nil }

    /// The shard file name holding `name`.
    public func shard(of name: String) throws(CheckpointError) -> String {
        guard let shard = shardOfTensor[name] else { throw CheckpointError.missingTensor(path: indexPath, tensor: name) }
        return shard
    }

    private func file(of name: String) throws(CheckpointError) -> SafeTensorsFile {
        guard let file = shards[try shard(of: name)] else {
            throw CheckpointError.missingTensor(path: indexPath, tensor: name)
        }
        return file
    }

    /// The dtype, shape and location (within its shard) of the tensor `name`.
    public func info(_ name: String) throws(CheckpointError) -> SafeTensorsInfo {
        try file(of: name).info(name)
    }

    /// Writes the tensor `name`, converted to Float32, into `destination`.
    public func readFloats(
        _ name: String, into destination: UnsafeMutableBufferPointer<Float>
    ) throws(CheckpointError) {
        try file(of: name).readFloats(name, into: destination)
    }

    /// The tensor `name` (I64 or I32) as 64-bit integers.
    public func integers(_ name: String) throws(CheckpointError) -> [Int64] {
        try file(of: name).integers(name)
    }
}
