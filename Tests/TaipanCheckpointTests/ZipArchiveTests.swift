import Foundation
import Testing

@testable import TaipanCheckpoint

@Suite struct ZipArchiveTests {
    static func archive(_ bytes: [UInt8]) throws -> ZipArchive {
        let scratch = try ScratchDirectory()
        try Data(bytes).write(to: URL(fileURLWithPath: scratch.file("a.zip")))
        return try ZipArchive(file: MappedFile(path: scratch.file("a.zip")))
    }

    /// The message of the error opening `bytes` as an archive, or "" when it opens.
    static func refusal(_ bytes: [UInt8]) -> String { errorMessage { _ = try archive(bytes) } }

    @Test func readsWhatTorchSaveWrote() throws {
        let path = "\(torchBinDirectory)/float32/pytorch_model.bin"
        let archive = try ZipArchive(file: MappedFile(path: path))
        // The entries Python's zipfile lists for this file, in its order.
        #expect(archive.names.first == "pytorch_model/data.pkl")
        #expect(archive.names.contains("pytorch_model/data/0") && archive.names.contains("pytorch_model/version"))
        #expect(archive.names.filter { $0.hasPrefix("pytorch_model/data/") }.count == 22)  // 23 tensors, the head tied
        let order = try #require(archive.contents("pytorch_model/byteorder"))
        #expect(String(decoding: order, as: UTF8.self) == "little")
        let pickle = try #require(archive.contents("pytorch_model/data.pkl"))
        #expect(pickle.first == 0x80 && pickle.last == 0x2E)  // PROTO … STOP
        // torch.save aligns every storage to 64 bytes: the data offsets found are the right ones.
        let embedding = try #require(archive.contents("pytorch_model/data/0"))
        #expect(embedding.count == 264 * 16 * 4)
        let base = try #require(archive.file.bytes.baseAddress)
        let offset = try #require(embedding.baseAddress) - base
        #expect(offset > 0 && offset % 64 == 0)
        #expect(archive.contents("pytorch_model/data/99") == nil)
    }

    @Test(arguments: [false, true]) func readsStoredEntriesWithAndWithoutZip64(zip64: Bool) throws {
        let entries: [(name: String, data: [UInt8])] = [("a/data.pkl", [1, 2, 3]), ("a/data/0", []), ("a/data/1", Array(0..<200))]
        let archive = try Self.archive(storedZip(entries, zip64: zip64, comment: "a comment"))
        #expect(archive.names == entries.map(\.name))
        for (name, data) in entries { #expect(archive.contents(name).map(Array.init) == data) }
    }

    @Test func brokenArchivesAreRefusedWithTheirFault() throws {
        let good = storedZip([("a/data.pkl", [1, 2, 3]), ("a/data/0", [4, 5, 6, 7])])
        #expect(Self.refusal([]).contains("not a zip archive"))
        #expect(Self.refusal([0x80, 0x02, 0x8A, 0x0A]).contains("not a zip archive"))
        #expect(Self.refusal(Array(good.dropLast(30))).contains("truncated zip archive"))
        // The end record says the central directory starts beyond where it does.
        var shifted = good
        shifted[shifted.count - 6] &+= 40
        #expect(Self.refusal(shifted).contains("central directory"))
        #expect(Self.refusal(storedZip([("x", [1]), ("x", [2])])).contains("zip entry \"x\": appears twice"))
        #expect(Self.refusal(storedZip([("a/data/0", [1])], localNames: ["a/data/1"])).contains("names another entry"))
        // An entry claiming more bytes than lie before the central directory.
        var long = storedZip([("a/data/0", [1, 2])])
        let directory = long.count - 22 - 54  // a 46-byte header and an 8-byte name
        long[directory + 20] = 200
        long[directory + 24] = 200
        #expect(Self.refusal(long).contains("run into the central directory"))
        // A zip64 extra field without room for the saturated sizes.
        var shortExtra = storedZip([("a", [1])], zip64: true)
        let extraLength = shortExtra.count - 22 - 20 - 56 - 28 + 2
        shortExtra[extraLength] = 8
        #expect(Self.refusal(shortExtra).contains("zip64 extra field is shorter"))
    }
}
