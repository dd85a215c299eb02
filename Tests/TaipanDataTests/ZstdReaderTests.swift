import Testing
@testable import TaipanData

@Suite struct ZstdReaderTests {
    func readAll(_ path: String, bufferSize: Int, readSize: Int) throws -> [UInt8] {
        let reader = ZstdReader(file: try FileReader(path: path), bufferSize: bufferSize)
        var output: [UInt8] = []
        var piece = [UInt8](repeating: 0, count: readSize)
        while true {
            let count = try piece.withUnsafeMutableBytes { try reader.read(into: $0) }
            if count == 0 { return output }
            output += piece[..<count]
        }
    }

    @Test func streamsAFileMuchLargerThanItsBuffers() throws {
        let directory = try makeTemporaryDirectory()
        let text = pseudoText(count: 3_000_000, seed: 1)
        let compressed = zstdFrame(text)
        let path = directory + "/big.zst"
        try writeFile(path, compressed)
        #expect(compressed.count > 4096 * 10)
        #expect(try readAll(path, bufferSize: 4096, readSize: 1000) == text)
        #expect(try readAll(path, bufferSize: 1 << 20, readSize: 1 << 16) == text)
    }

    @Test func concatenatedFramesDecodeAsOneStream() throws {
        let directory = try makeTemporaryDirectory()
        let first = Array("first frame\n".utf8), second = pseudoText(count: 100_000, seed: 2)
        let path = directory + "/frames.zst"
        try writeFile(path, zstdFrame(first) + zstdFrame(second) + zstdFrame([]))
        #expect(try readAll(path, bufferSize: 100, readSize: 777) == first + second)
    }

    @Test func truncatedFileIsAnErrorNamingTheFile() throws {
        let directory = try makeTemporaryDirectory()
        let compressed = zstdFrame(pseudoText(count: 200_000, seed: 3))
        let path = directory + "/cut.zst"
        try writeFile(path, Array(compressed[..<(compressed.count / 2)]))
        #expect {
            _ = try readAll(path, bufferSize: 4096, readSize: 4096)
        } throws: { error in
            guard case DataError.corrupt(let errorPath, let reason) = error else { return false }
            return errorPath == path && reason.contains("truncated")
        }
    }

    @Test func corruptFilesAreErrorsNamingTheFile() throws {
        let directory = try makeTemporaryDirectory()
        var compressed = zstdFrame(pseudoText(count: 200_000, seed: 4))
        let badMagic = directory + "/magic.zst"
        compressed[0] ^= 0xFF
        try writeFile(badMagic, compressed)
        compressed[0] ^= 0xFF
        // Damaged content is caught by the frame's checksum (or by the block decoder).
        let badBody = directory + "/body.zst"
        for index in stride(from: compressed.count / 3, to: compressed.count / 3 + 64, by: 1) { compressed[index] ^= 0x5A }
        try writeFile(badBody, compressed)
        let notZstd = directory + "/text.zst"
        try writeFile(notZstd, Array("this is plain text, not zstd\n".utf8))
        for path in [badMagic, badBody, notZstd] {
            #expect {
                _ = try readAll(path, bufferSize: 4096, readSize: 4096)
            } throws: { error in
                guard case DataError.corrupt(let errorPath, _) = error else { return false }
                return errorPath == path
            }
        }
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: DataError.self) { _ = try FileReader(path: "/nonexistent/taipan/file.zst") }
    }
}
