import Testing
@testable import TaipanData

@Suite struct TokenShardTests {
    @Test func widthFollowsTheVocabularySize() {
        #expect(TokenShardFormat.tokenWidth(vocabularySize: 257) == 2)
        #expect(TokenShardFormat.tokenWidth(vocabularySize: 50280) == 2)
        #expect(TokenShardFormat.tokenWidth(vocabularySize: 65536) == 2)
        #expect(TokenShardFormat.tokenWidth(vocabularySize: 65537) == 4)
        #expect(TokenShardFormat.tokenWidth(vocabularySize: 128_256) == 4)
    }

    @Test func uint16ShardBytesMatchTheSpecifiedLayout() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/s.bin"
        let writer = try TokenShardWriter(path: path, vocabularySize: 50280)
        try writer.append(document: [72, 105, 256])
        try writer.append(document: [0x1234, 256])
        try writer.finish()
        let expected: [UInt8] = Array("TAIPANTS".utf8)
            + [1, 0, 0, 0]  // version
            + [2, 0, 0, 0]  // bytes per token
            + [5, 0, 0, 0, 0, 0, 0, 0]  // tokens
            + [2, 0, 0, 0, 0, 0, 0, 0]  // documents
            + [0x68, 0xC4, 0, 0]  // vocabulary size 50280 = 0xC468
            + [UInt8](repeating: 0, count: 28)
            + [72, 0, 105, 0, 0x00, 0x01, 0x34, 0x12, 0x00, 0x01]
        #expect(try readFile(path) == expected)
        let shard = try TokenShard(path: path)
        #expect(shard.tokenCount == 5 && shard.documentCount == 2 && shard.tokenWidth == 2 && shard.vocabularySize == 50280)
        #expect((0..<5).map { shard[$0] } == [72, 105, 256, 0x1234, 256])
    }

    @Test func uint32ShardRoundTripsLargeIds() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/s.bin"
        let writer = try TokenShardWriter(path: path, vocabularySize: 100_000)
        try writer.append(document: [99_999, 65_536, 7])
        try writer.finish()
        let bytes = try readFile(path)
        #expect(Array(bytes[12..<16]) == [4, 0, 0, 0])
        #expect(Array(bytes[64...]) == [0x9F, 0x86, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 7, 0, 0, 0])
        let shard = try TokenShard(path: path)
        var copied = [Int32](repeating: -1, count: 2)
        copied.withUnsafeMutableBufferPointer { shard.copyTokens(from: 1, count: 2, into: $0.baseAddress!) }
        #expect(copied == [65_536, 7])
    }

    @Test func idOutsideTheVocabularyIsRejected() throws {
        let directory = try makeTemporaryDirectory()
        let writer = try TokenShardWriter(path: directory + "/s.bin", vocabularySize: 257)
        #expect(throws: DataError.self) { try writer.append(document: [257]) }
        #expect(throws: DataError.self) { try writer.append(document: [-1]) }
        #expect(writer.tokenCount == 0)
    }

    @Test func unfinishedShardNeverAppearsUnderItsName() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/s.bin"
        let writer = try TokenShardWriter(path: path, vocabularySize: 257)
        try writer.append(document: [Int32](repeating: 1, count: 1 << 20))
        #expect(throws: DataError.self) { _ = try TokenShard(path: path) }
        // A killed writer leaves only the temporary file, whose zero header does not read as a shard.
        #expect(throws: DataError.self) { _ = try TokenShard(path: writer.temporaryPath) }
    }

    @Test func truncatedOrForeignFilesAreRejectedWithTheirPath() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/s.bin"
        let writer = try TokenShardWriter(path: path, vocabularySize: 257)
        try writer.append(document: [1, 2, 3, 4])
        try writer.finish()
        let bytes = try readFile(path)
        let cut = directory + "/cut.bin", foreign = directory + "/foreign.bin", future = directory + "/future.bin"
        try writeFile(cut, Array(bytes.dropLast(2)))
        try writeFile(foreign, Array("GPT2TOKS".utf8) + bytes.dropFirst(8))
        var newer = bytes
        newer[8] = 3
        try writeFile(future, newer)
        for (file, words) in [(cut, "incomplete"), (foreign, "magic"), (future, "version")] {
            #expect {
                _ = try TokenShard(path: file)
            } throws: { error in
                guard case DataError.corrupt(let errorPath, let reason) = error else { return false }
                return errorPath == file && reason.contains(words)
            }
        }
    }

    @Test func exampleShardBytesMatchTheSpecifiedLayout() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/e.bin"
        let writer = try TokenShardWriter(path: path, vocabularySize: 257, examples: true)
        try writer.append(document: [72, 105, 33, 256], promptCount: 2)  // "Hi" → "!" + end-of-text
        try writer.append(document: [65, 256], promptCount: 1)
        #expect(writer.countedCount == 3)
        try writer.finish()
        let expected: [UInt8] = Array("TAIPANTS".utf8)
            + [2, 0, 0, 0]  // version 2: examples
            + [2, 0, 0, 0]  // bytes per token
            + [6, 0, 0, 0, 0, 0, 0, 0]  // tokens
            + [2, 0, 0, 0, 0, 0, 0, 0]  // examples
            + [1, 1, 0, 0]  // vocabulary size 257
            + [UInt8](repeating: 0, count: 28)
            + [72, 0, 105, 0, 33, 0, 0, 1, 65, 0, 0, 1]
            + [0, 0, 0, 0, 0, 0, 0, 0] + [4, 0, 0, 0, 0, 0, 0, 0] + [6, 0, 0, 0, 0, 0, 0, 0]  // starts 0, 4, 6
            + [0b0010_1100]  // counted: ids 2, 3 and 5
        #expect(try readFile(path) == expected)
        let shard = try TokenShard(path: path)
        #expect(shard.hasExamples && shard.documentCount == 2 && shard.tokenCount == 6)
        #expect(shard.exampleRange(0) == 0..<4 && shard.exampleRange(1) == 4..<6)
        #expect((0..<6).map(shard.isCounted) == [false, false, true, true, false, true])
        #expect((0..<6).map { shard[$0] } == [72, 105, 33, 256, 65, 256])
    }

    @Test func damagedExampleStartsAreRefused() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/e.bin"
        let writer = try TokenShardWriter(path: path, vocabularySize: 257, examples: true)
        try writer.append(document: [1, 2, 3], promptCount: 1)
        try writer.append(document: [4, 5], promptCount: 0)
        try writer.finish()
        var bytes = try readFile(path)
        // The starts follow the 5 ids: 64 + 10; the middle one (3) becomes 9, past the end.
        bytes[64 + 10 + 8] = 9
        try writeFile(path, bytes)
        #expect {
            _ = try TokenShard(path: path)
        } throws: { error in
            guard case DataError.corrupt(let errorPath, let reason) = error else { return false }
            return errorPath == path && reason.contains("example 1 starts at 9")
        }
        let plain = try TokenShardWriter(path: directory + "/t.bin", vocabularySize: 257)
        try plain.append(document: [1, 2])
        try plain.finish()
        let text = try TokenShard(path: plain.path)
        #expect(!text.hasExamples && text.isCounted(0) && text.isCounted(1))
    }

    /// Found by the FuzzTokenShard target's review: a 64-byte version 2 header promising
    /// 2⁶⁰ − 1 ids of 4 bytes and 2⁵⁹ − 2 examples overflowed the size check (a trap), and is
    /// now refused as corrupt.
    @Test func headerWhoseSizeOverflowsIsRefused() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/huge.bin"
        try writeFile(path, TokenShardFormat.header(
            tokenWidth: 4, tokenCount: Int.max / 8, documentCount: Int.max / 16 - 1, vocabularySize: 16, examples: true))
        #expect {
            _ = try TokenShard(path: path)
        } throws: { error in
            guard case DataError.corrupt(let errorPath, let reason) = error else { return false }
            return errorPath == path && reason.contains("incomplete or corrupt")
        }
        #expect(TokenShard.size(tokens: 3, width: 2, examples: nil) == 70)
        #expect(TokenShard.size(tokens: 5, width: 2, examples: 2) == 64 + 10 + 24 + 1)
        #expect(TokenShard.size(tokens: UInt64(Int.max / 8), width: 4, examples: UInt64(Int.max / 16 - 1)) == nil)
    }
}
