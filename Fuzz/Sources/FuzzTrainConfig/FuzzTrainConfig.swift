// FuzzTrainConfig.swift — libFuzzer target for the training config loader:
// `TrainConfig.parse(toml:source:)` on the input as text (invalid UTF-8 repaired).

import FuzzSupport
import TaipanTrain

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrainConfig(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = start.map { String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self) } ?? ""
    _ = try? TrainConfig.parse(toml: text, source: "fuzz.toml")
    return 0
}

@_cdecl("FuzzTrainConfig_main")
public func fuzzTrainConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzTrainConfig)
}
