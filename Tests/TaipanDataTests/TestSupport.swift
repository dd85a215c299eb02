// TestSupport.swift — helpers shared by the TaipanData tests: temporary directories,
// in-memory byte sources, and zstd compression straight through libzstd (independent of
// the code under test).

import CZstd
import Foundation
@testable import TaipanData

/// A fresh empty directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "taipan-data-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func makeDirectory(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func readFile(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// One zstd frame holding `bytes`, made with libzstd's one-shot compressor.
func zstdFrame(_ bytes: [UInt8], level: Int32 = 3, checksum: Bool = true) -> [UInt8] {
    let context = ZSTD_createCCtx()
    defer { ZSTD_freeCCtx(context) }
    ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
    ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0)
    var output = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
    let size = output.withUnsafeMutableBytes { out in
        bytes.withUnsafeBytes { ZSTD_compress2(context, out.baseAddress, out.count, $0.baseAddress, $0.count) }
    }
    precondition(ZSTD_isError(size) == 0, "test compression failed")
    return Array(output[..<size])
}

/// A byte source over memory that hands out at most `piece` bytes per read.
final class MemorySource: ByteSource {
    let path = "memory"
    let bytes: [UInt8]
    let piece: Int
    var offset = 0

    init(_ bytes: [UInt8], piece: Int) {
        self.bytes = bytes
        self.piece = piece
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(piece, buffer.count, bytes.count - offset)
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        offset += count
        return count
    }
}

/// Pseudo-random text of `count` bytes: lowercase words, spaces and newlines (deterministic).
func pseudoText(count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in
        let draw = generator.next() % 32
        return draw < 26 ? UInt8(ascii: "a") + UInt8(draw) : (draw < 31 ? UInt8(ascii: " ") : UInt8(ascii: "\n"))
    }
}
