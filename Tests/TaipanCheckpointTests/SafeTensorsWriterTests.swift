import Foundation
import Testing

@testable import TaipanCheckpoint

@Suite struct SafeTensorsWriterTests {
    @Test func writesTheExactBytesOfTheFormat() throws {
        let scratch = try ScratchDirectory()
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        writer.add("b", shape: [2], floats: [1, -2])
        writer.add("a", shape: [1], integers: [-1])
        try writer.write(to: scratch.file("tiny.safetensors"))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch.file("tiny.safetensors"))))
        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        let padded = header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        #expect(padded.utf8.count % 8 == 0)
        let expected =
            littleEndianBytes([UInt64(padded.utf8.count)]) + Array(padded.utf8)
            + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  // -1 as I64
            + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]  // 1.0 and -2.0 as F32
        #expect(bytes == expected)
        #expect(try scratch.contents() == ["tiny.safetensors"])
    }

    @Test func roundTripsThroughTheReader() throws {
        let scratch = try ScratchDirectory()
        let weights = (0..<(3 * 5 * 7)).map { Float($0) * 0.37 - 11 }
        var writer = SafeTensorsWriter()
        writer.add("model.weight", shape: [3, 5, 7], floats: weights)
        weights.withUnsafeBufferPointer { writer.add("model.copy", shape: [105], floats: $0) }
        writer.add("ids", shape: [2, 2], integers: [0, 1, Int64.max, Int64.min])
        writer.add("empty", shape: [0], floats: [])
        let path = scratch.file("round.safetensors")
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.names == ["empty", "ids", "model.copy", "model.weight"])
        #expect(try file.floats("model.weight") == weights)
        #expect(try file.floats("model.copy") == weights)
        #expect(try file.info("model.weight").shape == [3, 5, 7])
        #expect(try file.integers("ids") == [0, 1, Int64.max, Int64.min])
        #expect(try file.floats("empty").isEmpty)
        #expect(file.metadata.isEmpty)
    }

    @Test func badEntriesLeaveTheOldFileInPlace() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("model.safetensors")
        var good = SafeTensorsWriter()
        good.add("w", shape: [1], floats: [4])
        try good.write(to: path)

        var mismatch = SafeTensorsWriter()
        mismatch.add("w", shape: [2, 2], floats: [1, 2, 3])
        #expect(throws: CheckpointError.invalidTensor(
            path: path, tensor: "w", message: "shape [2, 2] needs 4 elements, but 3 were given")) {
            try mismatch.write(to: path)
        }
        var twice = SafeTensorsWriter()
        twice.add("w", shape: [1], floats: [1])
        twice.add("w", shape: [1], floats: [2])
        #expect(throws: CheckpointError.invalidTensor(path: path, tensor: "w", message: "added twice")) {
            try twice.write(to: path)
        }
        var reserved = SafeTensorsWriter()
        reserved.add("__metadata__", shape: [1], floats: [1])
        #expect(throws: CheckpointError.self) { try reserved.write(to: path) }

        #expect(try SafeTensorsFile(path: path).floats("w") == [4])
        #expect(try scratch.contents() == ["model.safetensors"])
    }

    @Test func unwritableDirectoryIsAnIOError() throws {
        var writer = SafeTensorsWriter()
        writer.add("w", shape: [1], floats: [1])
        let path = "/nonexistent-taipan-directory/model.safetensors"
        #expect {
            try writer.write(to: path)
        } throws: { error in
            guard case .io(let errorPath, _) = error as? CheckpointError else { return false }
            return errorPath == path
        }
    }
}
