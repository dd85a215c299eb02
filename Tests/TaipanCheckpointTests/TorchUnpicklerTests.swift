import Foundation
import Testing

@testable import TaipanCheckpoint

/// Pickles written byte by byte (opcodes as in CPython's Lib/pickletools.py), and the pickle
/// torch.save wrote for the float32 fixture.
@Suite struct TorchUnpicklerTests {
    static func unicode(_ text: String) -> [UInt8] { [0x58] + littleEndianBytes([UInt32(text.utf8.count)]) + Array(text.utf8) }
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static let mark: [UInt8] = [0x28], tuple: [UInt8] = [0x74], reduce: [UInt8] = [0x52], stop: [UInt8] = [0x2E]
    static let emptyTuple: [UInt8] = [0x29], emptyDict: [UInt8] = [0x7D], setItems: [UInt8] = [0x75]
    static func binInt1(_ value: UInt8) -> [UInt8] { [0x4B, value] }
    static let orderedDict = global("collections", "OrderedDict") + emptyTuple + reduce

    /// `_rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', count), offset, shape, strides, False, OrderedDict())`.
    static func tensor(key: String = "0", count: [UInt8] = binInt1(6), offset: [UInt8] = binInt1(0), shape: [UInt8], strides: [UInt8], hooks: [UInt8] = orderedDict) -> [UInt8] {
        global("torch._utils", "_rebuild_tensor_v2") + mark
            + mark + unicode("storage") + global("torch", "FloatStorage") + unicode(key) + unicode("cpu") + count + tuple + [0x51]
            + offset + shape + strides + [0x89] + hooks + tuple + reduce
    }

    static func stateDict(_ entries: [(String, [UInt8])]) -> [UInt8] {
        [0x80, 0x02] + orderedDict + mark + entries.flatMap { unicode($0.0) + $0.1 } + setItems + stop
    }

    static func read(_ bytes: [UInt8]) throws(CheckpointError) -> [(name: String, layout: TorchTensorLayout)] {
        var failure: CheckpointError?
        let result = bytes.withUnsafeBytes { raw in
            do throws(CheckpointError) {
                return try TorchUnpickler.stateDict(from: raw, path: "m.bin", entry: "archive/data.pkl")
            } catch {
                failure = error
                return []
            }
        }
        if let failure { throw failure }
        return result
    }

    /// The message of the error reading `bytes`, or "" when it reads.
    static func refusal(_ bytes: [UInt8]) -> String { errorMessage { _ = try read(bytes) } }

    @Test func readsTheStateDictTorchSaveWrote() throws {
        let archive = try ZipArchive(file: MappedFile(path: "\(torchBinDirectory)/float32/pytorch_model.bin"))
        let pickle = try #require(archive.contents("pytorch_model/data.pkl"))
        let tensors = try TorchUnpickler.stateDict(from: pickle, path: "m.bin", entry: "data.pkl")
        #expect(tensors.count == 23)
        // As pickletools.dis shows them: the first entry and the tied head at the end.
        #expect(tensors.first?.name == "backbone.embedding.weight")
        #expect(tensors.first?.layout == TorchTensorLayout(storageKey: "0", dtype: .F32, storageElementCount: 4224, offset: 0, shape: [264, 16], strides: [16, 1]))
        #expect(tensors.last?.name == "lm_head.weight")
        #expect(tensors.last?.layout == tensors.first?.layout)
        #expect(tensors.contains { $0.name == "backbone.layers.1.mixer.conv1d.weight" && $0.layout.shape == [32, 1, 4] && $0.layout.strides == [4, 4, 1] })
    }

    @Test func readsEveryOpcodeAStateDictNeeds() throws {
        // Protocol 4 spellings (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL), BININT, BININT2,
        // LONG1, memo round trips, a BUILD state with a list, _rebuild_tensor_v2's metadata.
        let shortName: [UInt8] = [0x8C, 1] + Array("w".utf8) + [0x94]
        let stackGlobal: [UInt8] = [0x8C, 11] + Array("collections".utf8) + [0x8C, 11] + Array("OrderedDict".utf8) + [0x93]
        let storage = Self.mark + Self.unicode("storage") + Self.global("torch", "HalfStorage") + [0x94] + Self.unicode("7") + Self.unicode("cuda:0")
            + [0x8A, 2, 0x2C, 0x01] + Self.tuple + [0x51]  // numel 300 as LONG1
        let first = Self.global("torch._utils", "_rebuild_tensor_v2") + [0x71, 9] + Self.mark + storage
            + [0x4A] + littleEndianBytes([Int32(256)]) + [0x4D, 0x02, 0x00, 0x4B, 5, 0x86] + [0x4B, 1, 0x4B, 2, 0x86]
            + [0x88] + stackGlobal + Self.emptyTuple + Self.reduce + Self.emptyDict + Self.tuple + Self.reduce + [0x72] + littleEndianBytes([UInt32(70000)])
        let state = Self.emptyDict + Self.unicode("_metadata") + [0x5D, 0x4E, 0x61, 0x28, 0x4B, 1, 0x4B, 2, 0x65] + [0x73, 0x62]  // {'_metadata': [None, 1, 2]}; BUILD
        let pickle: [UInt8] = [0x80, 0x04, 0x95] + littleEndianBytes([UInt64(0)]) + Self.orderedDict + Self.mark
            + shortName + first + Self.unicode("again") + [0x6A] + littleEndianBytes([UInt32(70000)]) + Self.setItems + state + Self.stop
        let tensors = try Self.read(pickle)
        let layout = TorchTensorLayout(storageKey: "7", dtype: .F16, storageElementCount: 300, offset: 256, shape: [2, 5], strides: [1, 2])
        #expect(tensors.map(\.name) == ["w", "again"])
        #expect(tensors.allSatisfy { $0.layout == layout })
    }

    @Test func refusesWhatAStateDictDoesNotHold() {
        let weight = Self.tensor(shape: Self.binInt1(6) + [0x85], strides: Self.binInt1(1) + [0x85])
        #expect(Self.refusal(Self.stateDict([("w", weight)])) == "")
        let cases: [(pickle: [UInt8], message: String)] = [
            ([0x80, 0x02] + Self.global("builtins", "eval") + Self.unicode("1") + [0x85] + Self.reduce + Self.stop,
             "m.bin: archive/data.pkl, byte 2: GLOBAL builtins.eval is refused"),
            ([0x80, 0x02, 0x8C, 2] + Array("os".utf8) + [0x8C, 6] + Array("system".utf8) + [0x93] + Self.stop,
             "byte 14: GLOBAL os.system is refused"),
            (Self.stateDict([("w", Self.global("torch", "LongStorage"))]), "GLOBAL torch.LongStorage is refused"),
            ([0x80, 0x02, 0x49] + Array("42\n".utf8) + Self.stop, "byte 2: opcode 0x49 is not one a torch state dict uses"),
            ([0x80, 0x01, 0x4E, 0x2E], "pickle protocol 1"),
            ([0x80, 0x02] + Self.global("torch", "FloatStorage") + Self.emptyTuple + Self.reduce + Self.stop,
             "REDUCE calls torch.FloatStorage with 0 arguments"),
            ([0x80, 0x02, 0x68, 3, 0x2E], "memo entry 3 was never stored"),
            ([0x80, 0x02, 0x58, 0xFF, 0xFF, 0, 0, 0x41], "a 65535-byte argument runs past the end"),
            ([0x80, 0x02, 0x4A, 1], "the pickle ends in the middle of an opcode"),
            ([0x80, 0x02, 0x8A, 9] + Array(repeating: 1, count: 9) + Self.stop, "a 9-byte integer"),
            ([0x80, 0x02, 0x2E], "pops an empty stack"),
            ([0x80, 0x02, 0x75], "needs a MARK"),
            ([0x80, 0x02, 0x4E, 0x2E], "the pickle holds None, not a state dict"),
            (Self.stateDict([("step", Self.binInt1(5))]), "state dict entry \"step\" is the integer 5, not a tensor"),
            (Self.stateDict([("w", Self.tensor(shape: Self.binInt1(6) + [0x85], strides: [0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x85]))]),
             "_rebuild_tensor_v2 takes (storage, offset, size, stride, requires_grad, no backward hooks)"),
            (Self.stateDict([("w", Self.tensor(shape: Self.binInt1(6) + [0x85], strides: Self.binInt1(1) + Self.binInt1(1) + [0x86]))]),
             "_rebuild_tensor_v2 takes"),
            (Self.stateDict([("w", Self.tensor(shape: Self.binInt1(6) + [0x85], strides: Self.binInt1(1) + [0x85],
                                               hooks: Self.emptyDict + Self.binInt1(1) + Self.binInt1(2) + [0x73]))]),
             "no backward hooks"),
            ([0x80, 0x02] + Self.mark + Self.unicode("storage") + Self.global("torch", "FloatStorage") + Self.tuple + [0x51],
             "persistent id a tuple of 2 is not ('storage'"),
            ([0x80, 0x02] + Self.unicode("x") + Self.unicode("y") + [0x62], "BUILD applies state to the string \"x\""),
        ]
        let huge = [UInt8](repeating: 0x4E, count: TorchUnpickler.maximumSize + 1)
        for (pickle, message) in cases + [(huge, "archive/data.pkl holds 16777217 bytes, more than a state dict's pickle needs")] {
            let refusal = Self.refusal(pickle)
            #expect(refusal.contains(message), "expected \"\(message)\", got \"\(refusal)\"")
        }
    }
}
