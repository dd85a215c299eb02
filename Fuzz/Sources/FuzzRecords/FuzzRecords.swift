// FuzzRecords.swift — libFuzzer target for the text-shard readers: the record decoder and its
// JSON field extractor, the line reader and the zstd reader, through `ShardReader`.
// The first byte picks the file name's extension (bits 0–1: .jsonl, .jsonl.zst, .txt,
// .txt.zst), the record options (bit 2: prompt/completion instead of text; bit 3: skip bad
// records instead of failing; bit 4: a plain-text document per line) and the buffer size
// (bits 5–7: 1 to 128 bytes, so records and frames straddle buffer ends); the rest is the file.

import FuzzSupport
import TaipanData

private let names = ["fuzz.jsonl", "fuzz.jsonl.zst", "fuzz.txt", "fuzz.txt.zst"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecords(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzInput(start, count)
    guard let selector = input.first else { return 0 }
    let path = FuzzFile.write(UnsafeRawBufferPointer(rebasing: input.dropFirst()), name: names[Int(selector & 3)])
    let options = RecordOptions(
        policy: selector & 8 != 0 ? .skip : .fail,
        plainTextDocuments: selector & 16 != 0 ? .lines : .file,
        format: selector & 4 != 0 ? .promptCompletion : .text)
    let bufferSize = 1 << Int(selector >> 5)
    guard let reader = try? ShardReader(path: path, options: options, bufferSize: bufferSize) else { return 0 }
    // Each call consumes text or ends it, so a file gives at most one document per byte of its
    // text, plus one. For plain files that is the file's size. A .zst file's text can be far
    // longer than the file (a 4-byte RLE block decodes to 128 KiB: the second campaign's
    // 10-byte frame of 82,360 newlines), so there the harness stops at 2^20 documents without
    // a verdict; the line reader after the decoder is the same code the plain files check.
    let compressed = selector & 1 != 0
    let limit = compressed ? 1 << 20 : count + 1
    var documents = 0
    while documents < limit, let document = try? reader.next() {
        _ = document
        documents += 1
    }
    precondition(compressed || documents < limit, "ShardReader returned more documents than the file has bytes")
    return 0
}

@_cdecl("FuzzRecords_main")
public func fuzzRecordsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzRecords)
}
