import Foundation
import Testing

@testable import TaipanCheckpoint

@Suite struct ShardedSafeTensorsTests {
    /// Two shards, `a` and `b` in the first, `c` (integers) in the second, and an index.
    func makeShards(index: String) throws -> ScratchDirectory {
        let scratch = try ScratchDirectory()
        var first = SafeTensorsWriter()
        first.add("a", shape: [2], floats: [1, 2])
        first.add("b", shape: [1, 1], floats: [3])
        try first.write(to: scratch.file("model-00001-of-00002.safetensors"))
        var second = SafeTensorsWriter()
        second.add("c", shape: [3], integers: [7, 8, 9])
        try second.write(to: scratch.file("model-00002-of-00002.safetensors"))
        try Data(index.utf8).write(to: URL(fileURLWithPath: scratch.file("model.safetensors.index.json")))
        return scratch
    }

    let goodIndex = """
        {"metadata": {"total_size": 36}, "weight_map": {
          "a": "model-00001-of-00002.safetensors",
          "b": "model-00001-of-00002.safetensors",
          "c": "model-00002-of-00002.safetensors"}}
        """

    @Test func readsAcrossShards() throws {
        let scratch = try makeShards(index: goodIndex)
        let checkpoint = try ShardedSafeTensors(indexPath: scratch.file("model.safetensors.index.json"))
        #expect(checkpoint.names == ["a", "b", "c"])
        #expect(checkpoint.shardNames == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        #expect(try checkpoint.floats("a") == [1, 2])
        #expect(try checkpoint.info("b").shape == [1, 1])
        #expect(try checkpoint.integers("c") == [7, 8, 9])
        #expect(try checkpoint.shard(of: "c") == "model-00002-of-00002.safetensors")
        #expect(checkpoint.metadata.first?.key == "total_size")
        #expect(throws: CheckpointError.missingTensor(path: checkpoint.indexPath, tensor: "d")) {
            try checkpoint.floats("d")
        }
    }

    func indexError(_ index: String) throws -> (CheckpointError, String) {
        let scratch = try makeShards(index: index)
        let path = scratch.file("model.safetensors.index.json")
        do {
            _ = try ShardedSafeTensors(indexPath: path)
        } catch {
            return (error, path)
        }
        Issue.record("\(index) was accepted")
        return (CheckpointError.io(path: path, message: "accepted"), path)
    }

    @Test func errorsNameTheIndexTheShardAndTheTensor() throws {
        let first = "model-00001-of-00002.safetensors", second = "model-00002-of-00002.safetensors"
        let (missing, path) = try indexError(
            #"{"weight_map": {"a": "\#(first)", "b": "\#(first)", "c": "\#(second)", "d": "\#(second)"}}"#)
        #expect(missing == .invalidIndex(
            path: path, shard: second, tensor: "d", message: "listed in the weight map but not in the shard"))

        let (unlisted, unlistedPath) = try indexError(#"{"weight_map": {"a": "\#(first)", "c": "\#(second)"}}"#)
        #expect(unlisted == .invalidIndex(
            path: unlistedPath, shard: first, tensor: "b", message: "in the shard but not in the weight map"))

        let (absent, _) = try indexError(#"{"weight_map": {"a": "model-00003.safetensors"}}"#)
        guard case .invalidIndex(_, let shard, nil, let message) = absent else {
            Issue.record("\(absent)")
            return
        }
        #expect(shard == "model-00003.safetensors" && message.hasPrefix("cannot open"))

        let (escape, escapePath) = try indexError(#"{"weight_map": {"a": "../model.safetensors"}}"#)
        #expect(escape == .invalidIndex(
            path: escapePath, shard: "../model.safetensors", tensor: "a", message: "not a file name beside the index"))

        let (noMap, noMapPath) = try indexError(#"{"metadata": {}}"#)
        #expect(noMap == .invalidIndex(path: noMapPath, shard: nil, tensor: nil, message: "missing \"weight_map\""))

        let (badJSON, _) = try indexError(#"{"weight_map": "#)
        #expect(badJSON.description.contains("not valid JSON"))

        let (wrongType, wrongTypePath) = try indexError(#"{"weight_map": {"a": 1}}"#)
        #expect(wrongType == .invalidIndex(
            path: wrongTypePath, shard: nil, tensor: "a", message: "shard is a number, not a file name"))
    }
}
