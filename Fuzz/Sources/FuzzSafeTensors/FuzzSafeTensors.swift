// FuzzSafeTensors.swift — libFuzzer target for the safetensors reader: the first byte picks
// what the rest is, a `.safetensors` file (even) or a `model.safetensors.index.json` (odd)
// beside two fixed, valid shards, `model-00001-of-00002.safetensors` (tensor "a": F32 [2]) and
// `model-00002-of-00002.safetensors` (tensor "b": I64 [1]).

import FuzzSupport
import TaipanCheckpoint

/// A safetensors file holding one tensor `name` of `dtype` and `shape` with `data`.
private func safetensors(name: String, dtype: String, shape: [Int], data: [UInt8]) -> [UInt8] {
    let header = Array("{\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[0,\(data.count)]}}".utf8)
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
    return bytes + header + data
}

private let shardsWritten: Bool = {
    FuzzFile.write(
        safetensors(name: "a", dtype: "F32", shape: [2], data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]),
        name: "model-00001-of-00002.safetensors")
    FuzzFile.write(
        safetensors(name: "b", dtype: "I64", shape: [1], data: [7, 0, 0, 0, 0, 0, 0, 0]),
        name: "model-00002-of-00002.safetensors")
    return true
}()

/// Reads every tensor of `source` both ways; errors are the expected outcome for most inputs.
private func readAll(_ source: some SafeTensorsSource) {
    for name in source.names {
        _ = try? source.info(name)
        _ = try? source.floats(name)
        _ = try? source.integers(name)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzInput(start, count)
    guard let selector = input.first else { return 0 }
    let rest = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    if selector & 1 == 0 {
        let path = FuzzFile.write(rest, name: "fuzz.safetensors")
        if let file = try? SafeTensorsFile(path: path) { readAll(file) }
    } else {
        _ = shardsWritten
        let path = FuzzFile.write(rest, name: "model.safetensors.index.json")
        if let sharded = try? ShardedSafeTensors(indexPath: path) { readAll(sharded) }
    }
    return 0
}

@_cdecl("FuzzSafeTensors_main")
public func fuzzSafeTensorsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzSafeTensors)
}
