import Foundation
import Testing
import TaipanNN
import TaipanTensor
@testable import TaipanCheckpoint

/// The `pytorch_model.bin` fixtures: what torch.load reads from them (`weight.NAME` in each
/// `expected.safetensors`) and the logits of a float64 PyTorch forward of those weights.
@Suite struct TorchCheckpointFileTests {
    static let models = ["float32", "float16", "bfloat16", "strided"]

    static func expected(_ model: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: "\(torchBinDirectory)/\(model)/expected.safetensors")
    }

    @Test(arguments: models) func everyTensorReadsAsTorchLoadReadsIt(model: String) throws {
        let file = try TorchCheckpointFile(path: "\(torchBinDirectory)/\(model)/pytorch_model.bin")
        let expected = try Self.expected(model)
        let names = expected.names.filter { $0.hasPrefix("weight.") }.map { String($0.dropFirst("weight.".count)) }
        #expect(file.names == names.sorted())
        #expect(file.names.count == 23)
        let dtype: SafeTensorsDType = model == "float16" ? .F16 : model == "bfloat16" ? .BF16 : .F32
        for name in names {
            #expect(try file.info(name).dtype == dtype)
            #expect(try file.info(name).shape == expected.info("weight." + name).shape, "\(name)")
            // Bit for bit: widening is exact and the strided gather moves values unchanged.
            #expect(try file.floats(name) == expected.floats("weight." + name), "\(name)")
        }
    }

    @Test func theTiedHeadAndTheViewsShareStorages() throws {
        let file = try TorchCheckpointFile(path: "\(torchBinDirectory)/strided/pytorch_model.bin")
        #expect(try file.info("lm_head.weight") == file.info("backbone.embedding.weight"))
        // x_proj.weight (9, 32) is stored column-major, both D are views into one storage.
        #expect(try file.info("backbone.layers.0.mixer.x_proj.weight").byteRange == 0..<(9 * 32 * 4))
        #expect(try file.info("backbone.layers.0.mixer.D").byteRange == 0..<128)
        #expect(try file.info("backbone.layers.1.mixer.D").byteRange == 128..<256)
        #expect(throws: CheckpointError.self) { try file.integers("backbone.layers.1.mixer.D") }
        #expect(throws: CheckpointError.missingTensor(path: "\(torchBinDirectory)/strided/pytorch_model.bin", tensor: "nope")) {
            try file.floats("nope")
        }
        var small = [Float](repeating: 0, count: 3)
        #expect(throws: CheckpointError.self) {
            try small.withUnsafeMutableBufferPointer { buffer throws(CheckpointError) in try file.readFloats("backbone.norm_f.weight", into: buffer) }
        }
    }

    @Test(arguments: models) func modelsLoadWithPyTorchsLogits(model: String) throws {
        let network = try MambaLM.load(directory: "\(torchBinDirectory)/\(model)")
        #expect(network.config.vocabSize == 264 && network.config.layerCount == 2 && network.config.tieWordEmbeddings)
        let expected = try Self.expected(model)
        let ids = try expected.integers("input_ids").map { Int32($0) }
        let logits = try network.forward(ids: ids, batch: 2, length: 8).logits.values
        let error = ModelDirectoryTests.relativeError(logits, try expected.floats("logits"))
        #expect(error <= 1e-4, "\(model): relative error \(error)")
    }

    @Test func aBinAndTheSafetensorsOfItsWeightsGiveTheSameLogits() throws {
        let scratch = try ScratchDirectory()
        let fromBin = try MambaLM.load(directory: "\(torchBinDirectory)/strided")
        try fromBin.save(directory: scratch.path)
        let fromSafeTensors = try MambaLM.load(directory: scratch.path)
        let ids = try Self.expected("strided").integers("input_ids").map { Int32($0) }
        #expect(try fromBin.forward(ids: ids, batch: 2, length: 8).logits.values
            == fromSafeTensors.forward(ids: ids, batch: 2, length: 8).logits.values)
    }

    /// Loads `pytorch_model.bin` files that must be refused, each beside the tiny model's
    /// config.json, and checks nothing they ask for ran: the code-running ones would create
    /// `hostile-pickle-ran` in the working directory.
    @Test(arguments: [
        ("os-system.bin", ["archive/data.pkl, byte 2: GLOBAL os.system is refused", "nothing was run"]),
        ("posix-system.bin", ["GLOBAL posix.system is refused"]),
        ("builtins-eval.bin", ["GLOBAL __builtin__.eval is refused"]),
        ("unknown-class.bin", ["GLOBAL argparse.Namespace is refused"]),
        ("truncated.bin", ["truncated zip archive: no end-of-central-directory record"]),
        ("compressed.bin", ["zip entry \"archive/data.pkl\": is compressed (method 8, deflate)"]),
        ("short-storage.bin", ["tensor \"weight\": its storage archive/data/0 holds 16 bytes, fewer than its 6 F32 elements need"]),
        ("tensor-past-storage.bin", ["tensor \"weight\": shape (2, 2), strides (2, 1) and offset 1 reach past the 4 elements of storage archive/data/0"]),
        ("missing-storage.bin", ["tensor \"weight\": its storage archive/data/0 is not in the archive"]),
    ])
    func hostileAndBrokenFilesAreRefusedWithoutRunningAnything(file: String, messages: [String]) throws {
        let scratch = try ScratchDirectory()
        try FileManager.default.copyItem(atPath: "\(torchBinDirectory)/float32/config.json", toPath: scratch.file("config.json"))
        try FileManager.default.copyItem(atPath: "\(torchBinDirectory)/hostile/\(file)", toPath: scratch.file("pytorch_model.bin"))
        let marker = FileManager.default.currentDirectoryPath + "/hostile-pickle-ran"
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect {
            try MambaLM.load(directory: scratch.path)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(scratch.file("pytorch_model.bin") + ": ") && messages.allSatisfy(text.contains)
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(try scratch.contents() == ["config.json", "pytorch_model.bin"])
    }

    /// Every prefix of a real file, and every single corrupted byte of its pickle and zip
    /// records, is refused or read without a crash or an out-of-bounds read.
    @Test func cutAndCorruptedFilesNeverCrash() throws {
        let scratch = try ScratchDirectory()
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(torchBinDirectory)/float16/pytorch_model.bin"))
        for length in stride(from: 0, to: original.count, by: 97) {
            try original.prefix(length).write(to: URL(fileURLWithPath: scratch.file("cut.bin")))
            #expect(throws: CheckpointError.self) { try TorchCheckpointFile(path: scratch.file("cut.bin")) }
        }
        var corrupted = 0
        for position in stride(from: 0, to: original.count, by: 17) {
            var bytes = original
            bytes[position] ^= 0x5A
            try bytes.write(to: URL(fileURLWithPath: scratch.file("corrupt.bin")))
            do {
                let file = try TorchCheckpointFile(path: scratch.file("corrupt.bin"))
                for name in file.names { _ = try file.floats(name) }
            } catch {
                corrupted += 1
            }
        }
        // Flips inside the storages go unnoticed (no checksums are read); the others are caught.
        print("corrupted float16 fixture: \(corrupted) of \(original.count / 17 + 1) single-byte flips refused")
        #expect(corrupted > 100)
    }
}
