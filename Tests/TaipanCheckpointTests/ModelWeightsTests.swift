import Foundation
import Testing

@testable import TaipanCheckpoint

@Suite struct ModelWeightsTests {
    @Test func opensSingleFileAndShardedDirectories() throws {
        let single = try openModelWeights(directory: mambaTinyDirectory + "/model")
        #expect(single is SafeTensorsFile)
        #expect(try single.floats("backbone.norm_f.weight")[0] == 1.0036664)

        let scratch = try ScratchDirectory()
        var shard = SafeTensorsWriter()
        shard.add("w", shape: [2], floats: [5, 6])
        try shard.write(to: scratch.file("model-00001-of-00001.safetensors"))
        try Data(#"{"weight_map": {"w": "model-00001-of-00001.safetensors"}}"#.utf8)
            .write(to: URL(fileURLWithPath: scratch.file("model.safetensors.index.json")))
        let sharded = try openModelWeights(directory: scratch.path)
        #expect(sharded is ShardedSafeTensors)
        #expect(try sharded.floats("w") == [5, 6])

        let torch = try openModelWeights(directory: torchBinDirectory + "/float32")
        #expect(torch is TorchCheckpointFile)
        #expect(torch.names.contains("backbone.embedding.weight"))
    }

    @Test func anEmptyDirectoryIsAnError() throws {
        let scratch = try ScratchDirectory()
        #expect(throws: CheckpointError.io(
            path: scratch.path, message: "holds none of model.safetensors, model.safetensors.index.json and pytorch_model.bin")) {
            try openModelWeights(directory: scratch.path)
        }
    }
}
