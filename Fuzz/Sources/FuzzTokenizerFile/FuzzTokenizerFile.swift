// FuzzTokenizerFile.swift — libFuzzer target for the `tokenizer.json` loader: parses the
// input as a tokenizer file, builds the BPE tokenizer from it, and encodes and decodes a
// short text with it.

import Foundation
import FuzzSupport
import TaipanTokenizers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerFile(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    guard let file = try? TokenizerFile(json: data, path: "tokenizer.json"),
          let tokenizer = try? BPETokenizer(file) else { return 0 }
    let ids = tokenizer.encode("Hello, world! ünïcödé 123\n\ttabs  spaces")
    _ = try? tokenizer.decode(ids)
    _ = file.json()
    return 0
}

@_cdecl("FuzzTokenizerFile_main")
public func fuzzTokenizerFileMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzTokenizerFile)
}
