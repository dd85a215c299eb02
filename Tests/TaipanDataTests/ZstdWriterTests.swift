import CZstd
import Testing
@testable import TaipanData

@Suite struct ZstdWriterTests {
    @Test func writesAFrameLibzstdDecodes() throws {
        let directory = try makeTemporaryDirectory()
        let text = pseudoText(count: 500_000, seed: 9)
        let path = directory + "/out.zst"
        let writer = try ZstdWriter(path: path)
        try text.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[..<123])) }
        try text.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[123...])) }
        try writer.finish()
        let compressed = try readFile(path)
        var decoded = [UInt8](repeating: 0, count: text.count + 1)
        let size = decoded.withUnsafeMutableBytes { out in
            compressed.withUnsafeBytes { ZSTD_decompress(out.baseAddress, out.count, $0.baseAddress, $0.count) }
        }
        #expect(ZSTD_isError(size) == 0)
        #expect(Array(decoded[..<size]) == text)
    }
}
