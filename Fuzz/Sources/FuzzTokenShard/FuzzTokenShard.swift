// FuzzTokenShard.swift — libFuzzer target for the token-shard and manifest readers. The first
// byte picks what the rest is: a token shard (even), mapped and read whole, or a
// `manifest.json` (odd), loaded and its "train" and "val" shards opened, beside fixed valid
// shards `train-0000.bin` (version 1, 2-byte ids) and `val-0000.bin` (version 2, examples).

import FuzzSupport
import TaipanData

private let shardsWritten: Bool = {
    // Text shard: 3 ids of a 16-id vocabulary, 1 document.
    FuzzFile.write(
        TokenShardFormat.header(tokenWidth: 2, tokenCount: 3, documentCount: 1, vocabularySize: 16) + [1, 0, 2, 0, 3, 0],
        name: "train-0000.bin")
    // Example shard: ids 1 2 3 4 as two examples (starts 0 2 4), ids 1 and 3 counted.
    var example = TokenShardFormat.header(tokenWidth: 2, tokenCount: 4, documentCount: 2, vocabularySize: 16, examples: true)
    example += [1, 0, 2, 0, 3, 0, 4, 0]
    for start: UInt64 in [0, 2, 4] { withUnsafeBytes(of: start.littleEndian) { example += $0 } }
    example += [0b1010]
    FuzzFile.write(example, name: "val-0000.bin")
    return true
}()

/// Reads every id, example range and loss-mask bit of `shard`.
private func readAll(_ shard: TokenShard) {
    let count = min(shard.tokenCount, 1 << 20)
    if count > 0 {
        let ids = UnsafeMutablePointer<Int32>.allocate(capacity: count)
        defer { ids.deallocate() }
        shard.copyTokens(from: 0, count: count, into: ids)
    }
    if shard.hasExamples {
        for example in 0..<min(shard.documentCount, 1 << 16) { _ = shard.exampleRange(example) }
        for index in 0..<count { _ = shard.isCounted(index) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenShard(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzInput(start, count)
    guard let selector = input.first else { return 0 }
    let rest = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    if selector & 1 == 0 {
        let path = FuzzFile.write(rest, name: "fuzz.bin")
        if let shard = try? TokenShard(path: path) { readAll(shard) }
    } else {
        _ = shardsWritten
        FuzzFile.write(rest, name: "manifest.json")
        if let manifest = try? DataManifest.load(directory: FuzzFile.directory) {
            _ = manifest.contentSHA256
            for split in ["train", "val"] {
                for shard in (try? manifest.openShards(split: split, directory: FuzzFile.directory)) ?? [] { readAll(shard) }
            }
        }
    }
    return 0
}

@_cdecl("FuzzTokenShard_main")
public func fuzzTokenShardMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzTokenShard)
}
