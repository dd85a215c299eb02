// FuzzTorchCheckpoint.swift — libFuzzer target for the PyTorch checkpoint reader: the zip
// archive, the restricted unpickler and the tensor layouts, through `TorchCheckpointFile`
// on the input written as `pytorch_model.bin`, every tensor then read.

import FuzzSupport
import TaipanCheckpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorchCheckpoint(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let path = FuzzFile.write(fuzzInput(start, count), name: "pytorch_model.bin")
    guard let file = try? TorchCheckpointFile(path: path) else { return 0 }
    for name in file.names {
        _ = try? file.info(name)
        _ = try? file.floats(name)
        _ = try? file.integers(name)
    }
    return 0
}

@_cdecl("FuzzTorchCheckpoint_main")
public func fuzzTorchCheckpointMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzTorchCheckpoint)
}
