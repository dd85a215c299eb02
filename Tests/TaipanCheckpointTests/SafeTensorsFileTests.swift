import Foundation
import TaipanNN
import Testing

@testable import TaipanCheckpoint

@Suite struct SafeTensorsFileTests {
    let modelPath = mambaTinyDirectory + "/model/model.safetensors"
    let expectedPath = mambaTinyDirectory + "/expected.safetensors"

    @Test func fixtureModelShapesAndValues() throws {
        let file = try SafeTensorsFile(path: modelPath)
        #expect(file.names.count == 22)
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.info("backbone.embeddings.weight") == SafeTensorsInfo(dtype: .F32, shape: [256, 64], byteRange: 0..<65536))
        #expect(try file.info("backbone.layers.0.mixer.conv1d.weight").shape == [128, 1, 4])
        // Values read independently with numpy from the same file.
        let embedding = try file.floats("backbone.embeddings.weight")
        #expect(embedding.count == 256 * 64)
        #expect(embedding[0] == 0.16243103)
        #expect(embedding[1] == -0.17183919)
        #expect(embedding[255 * 64 + 63] == 0.074738964)
        #expect(abs(embedding.reduce(0.0) { $0 + Double($1) } - -8.63816757503082) < 1e-9)
        #expect(try file.floats("backbone.layers.0.mixer.A_log")[0] == 0.02690041)
        #expect(try file.floats("backbone.layers.1.mixer.A_log")[127 * 16 + 15] == 2.6271677)
        #expect(try file.floats("backbone.layers.1.mixer.D")[3] == 1.1088037)
        #expect(try file.floats("backbone.layers.0.mixer.conv1d.weight")[5 * 4 + 2] == 0.14778668)
        #expect(try file.floats("backbone.layers.1.mixer.x_proj.weight")[35 * 128 + 127] == 0.07000612)
        #expect(try file.floats("backbone.norm_f.weight")[0] == 1.0036664)
    }

    @Test func fixtureNamesMatchTheConfigParameterList() throws {
        let file = try SafeTensorsFile(path: modelPath)
        let config = try MambaConfig.read(contentsOf: mambaTinyDirectory + "/model/config.json")
        let expected = config.parameterShapes()
        #expect(expected.map(\.name).sorted() == file.names)
        for parameter in expected {
            #expect(try file.info(parameter.name).shape == parameter.shape, "\(parameter.name)")
        }
    }

    @Test func fixtureExpectedIntegersAndFloats() throws {
        let file = try SafeTensorsFile(path: expectedPath)
        #expect(try file.info("input_ids") == SafeTensorsInfo(dtype: .I64, shape: [2, 32], byteRange: 224..<736))
        let ids = try file.integers("input_ids")
        #expect(Array(ids[0..<8]) == [38, 38, 239, 55, 86, 223, 18, 41])
        #expect(Array(ids[60..<64]) == [20, 178, 112, 133])
        #expect(try file.integers("generate.prompt") == [38, 38, 239, 55, 86, 223, 18, 41])
        #expect(try file.integers("generate.greedy") == [38, 38, 239, 55, 86, 223, 18, 41] + Array(repeating: 41, count: 12))
        let logits = try file.floats("logits")
        #expect(try file.info("logits").shape == [2, 32, 256])
        #expect(logits[0] == 1.0536765)
        #expect(logits[2 * 32 * 256 - 1] == 0.1419615)
        #expect(file.metadata.isEmpty)
    }

    @Test func readsIntoABufferOfTheRightSizeOnly() throws {
        let file = try SafeTensorsFile(path: modelPath)
        var norm = [Float](repeating: 0, count: 64)
        try norm.withUnsafeMutableBufferPointer { try file.readFloats("backbone.norm_f.weight", into: $0) }
        #expect(norm[0] == 1.0036664)
        var tooShort = [Float](repeating: 0, count: 63)
        #expect(throws: CheckpointError.self) {
            try tooShort.withUnsafeMutableBufferPointer { try file.readFloats("backbone.norm_f.weight", into: $0) }
        }
        #expect(throws: CheckpointError.missingTensor(path: modelPath, tensor: "nope")) { try file.floats("nope") }
        #expect(throws: CheckpointError.self) { try file.integers("backbone.norm_f.weight") }
    }

    @Test func convertsHalfBFloatDoubleAndInt32() throws {
        let scratch = try ScratchDirectory()
        let half: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x8000, 0x7C00]
        let brain: [UInt16] = [0x3F80, 0xC040, 0xFF80]
        let double: [UInt64] = [(0.1 as Double).bitPattern, (-1e300 as Double).bitPattern]
        let int32: [Int32] = [-7, 2_000_000_000]
        let header = """
            {"a":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},\
            "b":{"dtype":"BF16","shape":[3],"data_offsets":[10,16]},\
            "c":{"dtype":"F64","shape":[2],"data_offsets":[16,32]},\
            "d":{"dtype":"I32","shape":[2,1],"data_offsets":[32,40]}}
            """
        let path = try scratch.rawSafeTensors(
            "mixed.safetensors", header: header,
            data: littleEndianBytes(half) + littleEndianBytes(brain) + littleEndianBytes(double) + littleEndianBytes(int32))
        let file = try SafeTensorsFile(path: path)
        let a = try file.floats("a")
        #expect(Array(a[0..<3]) == [1, -2, 0x1p-24])
        #expect(a[3] == 0 && a[3].sign == .minus)
        #expect(a[4] == .infinity)
        #expect(try file.floats("b") == [1, -3, -.infinity])
        #expect(try file.floats("c") == [Float(0.1), -.infinity])
        #expect(try file.integers("d") == [-7, 2_000_000_000])
        #expect(throws: CheckpointError.self) { try file.floats("d") }
    }

    @Test func acceptsAnEmptyFileAndZeroSizedTensors() throws {
        let scratch = try ScratchDirectory()
        let empty = try SafeTensorsFile(path: scratch.rawSafeTensors("empty.safetensors", header: "{}      ", data: []))
        #expect(empty.names.isEmpty)
        let header = #"{"z":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#
        let file = try SafeTensorsFile(
            path: scratch.rawSafeTensors("zero.safetensors", header: header, data: littleEndianBytes([Float(2.5).bitPattern])))
        #expect(try file.floats("z").isEmpty)
        #expect(try file.floats("s") == [2.5])
    }

    /// Opens a hand-crafted file that must fail and returns the error.
    func openError(
        header: String, data: [UInt8] = [], declaredLength: UInt64? = nil
    ) throws -> (CheckpointError, String) {
        let scratch = try ScratchDirectory()
        let path = try scratch.rawSafeTensors("bad.safetensors", header: header, data: data, declaredLength: declaredLength)
        do {
            _ = try SafeTensorsFile(path: path)
        } catch {
            return (error, path)
        }
        Issue.record("\(header) was accepted")
        return (CheckpointError.io(path: path, message: "accepted"), path)
    }

    let eightBytes = [UInt8](repeating: 0, count: 8)

    @Test func rejectsBadHeaderLengths() throws {
        let scratch = try ScratchDirectory()
        let short = scratch.file("short.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: short))
        #expect(throws: CheckpointError.invalidHeader(
            path: short, message: "the file is 3 bytes, too short for the 8-byte header length")) {
            try SafeTensorsFile(path: short)
        }
        let (pastEnd, path) = try openError(header: "{}", declaredLength: 1000)
        #expect(pastEnd == .invalidHeader(path: path, message: "header length 1000 runs past the end of the 10-byte file"))
        let (huge, _) = try openError(header: "{}", declaredLength: UInt64.max)
        #expect(huge.description.contains("runs past the end"))
        #expect(throws: CheckpointError.self) { try SafeTensorsFile(path: scratch.file("missing.safetensors")) }
    }

    @Test func rejectsBadJSON() throws {
        let (notJSON, path) = try openError(header: "{\"a\": ")
        guard case .invalidHeader(let errorPath, let message) = notJSON else {
            Issue.record("\(notJSON)")
            return
        }
        #expect(errorPath == path && message.hasPrefix("header is not valid JSON"))
        let (notObject, _) = try openError(header: "[1, 2]  ")
        #expect(notObject.description.hasSuffix("header is an array, not a JSON object"))
        let (duplicate, _) = try openError(
            header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
            data: [0, 0])
        #expect(duplicate.description.contains("duplicate key \"a\""))
        let (badMetadata, _) = try openError(header: #"{"__metadata__":{"format":1}}"#)
        #expect(badMetadata.description.contains("__metadata__ key \"format\" is a number, not a string"))
    }

    @Test func rejectsBadEntriesNamingTheTensor() throws {
        let cases: [(header: String, data: [UInt8], message: String)] = [
            (#"{"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#, eightBytes, "unknown dtype \"F31\""),
            (#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, eightBytes,
             "shape [-2] is not a list of non-negative integers"),
            (#"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, eightBytes,
             "shape [2.5] is not a list of non-negative integers"),
            (#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, eightBytes,
             "data_offsets [0, 8) hold 8 bytes, but shape [3] of F32 needs 12"),
            (#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, eightBytes,
             "data_offsets [0, 16) runs past the 8-byte data section"),
            (#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, eightBytes,
             "data_offsets [8, 0) is not a valid range"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, eightBytes, "data_offsets is not a pair of integers"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, eightBytes, "unknown key \"extra\""),
            (#"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, eightBytes, "missing \"dtype\""),
            (#"{"w":[1]}"#, [], "entry is an array, not an object"),
        ]
        for testCase in cases {
            let (error, path) = try openError(header: testCase.header, data: testCase.data)
            #expect(error == .invalidTensor(path: path, tensor: "w", message: testCase.message), "\(testCase.header)")
        }
    }

    @Test func rejectsOverlapsAndHoles() throws {
        let (overlap, path) = try openError(
            header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            data: Array(repeating: 0, count: 12))
        #expect(overlap == .invalidTensor(path: path, tensor: "b", message: "bytes [4, 12) overlap tensor \"a\""))
        let (hole, holePath) = try openError(
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
            data: Array(repeating: 0, count: 12))
        #expect(hole == .invalidTensor(
            path: holePath, tensor: "b", message: "starts at byte 8, leaving a hole of 4 bytes after tensor \"a\""))
        let (leading, leadingPath) = try openError(
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eightBytes)
        #expect(leading == .invalidTensor(
            path: leadingPath, tensor: "a", message: "starts at byte 4, leaving a hole of 4 bytes at the start of the data section"))
        let (trailing, trailingPath) = try openError(
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: eightBytes)
        #expect(trailing == .invalidHeader(path: trailingPath, message: "the data section holds 4 bytes after the last tensor \"a\""))
    }
}
