import Testing
@testable import TaipanData

@Suite struct ShardReaderTests {
    /// A JSON Lines shard with one good record and every kind of bad record, by line:
    /// 1 good, 2 invalid JSON, 3 missing text, 4 non-string text, 5 invalid UTF-8,
    /// 6 empty text, 7 blank, 8 good without a source.
    func mixedShard() -> [UInt8] {
        var bytes = Array(#"{"text": "hello", "meta": {"pile_set_name": "Books"}}"#.utf8) + [0x0A]
        bytes += Array(#"{"text": "oops""#.utf8) + [0x0A]
        bytes += Array(#"{"meta": {"pile_set_name": "Books"}}"#.utf8) + [0x0A]
        bytes += Array(#"{"text": ["not", "a", "string"]}"#.utf8) + [0x0A]
        bytes += Array(#"{"text": "bad "#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8) + [0x0A]
        bytes += Array(#"{"text": ""}"#.utf8) + [0x0A]
        bytes += Array("   ".utf8) + [0x0A]
        bytes += Array(#"{"text": "world"}"#.utf8)
        return bytes
    }

    func documents(_ reader: ShardReader) throws -> [Document] {
        var result: [Document] = []
        while let document = try reader.next() { result.append(document) }
        return result
    }

    @Test func skipPolicyCountsEveryBadRecordKind() throws {
        let directory = try makeTemporaryDirectory()
        for (name, bytes) in [("mixed.jsonl", mixedShard()), ("mixed.jsonl.zst", zstdFrame(mixedShard()))] {
            let path = directory + "/" + name
            try writeFile(path, bytes)
            let reader = try ShardReader(path: path, options: RecordOptions(policy: .skip), bufferSize: 7)
            #expect(try documents(reader) == [Document(text: "hello", source: "Books"), Document(text: "world", source: "unknown")])
            #expect(reader.skipped.bad == ["invalidJSON": 1, "missingText": 1, "textNotString": 1, "invalidUTF8": 1])
            #expect(reader.skipped.emptyDocuments == 1)
        }
    }

    @Test func failPolicyNamesFileAndLineOfEachBadRecordKind() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/mixed.jsonl"
        let lines = mixedShard().split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        let expected: [(Int, String)] = [(2, "invalidJSON"), (3, "missingText"), (4, "textNotString"), (5, "invalidUTF8")]
        for (badLine, category) in expected {
            // The good first line, good filler, then the bad record at its original line number.
            var padded: [UInt8] = lines[0] + [0x0A]
            for _ in 2..<badLine { padded += Array(#"{"text": "fill"}"#.utf8) + [0x0A] }
            padded += lines[badLine - 1] + [0x0A]
            try writeFile(path, padded)
            let reader = try ShardReader(path: path, options: RecordOptions(policy: .fail))
            #expect {
                _ = try documents(reader)
            } throws: { error in
                guard case DataError.badRecord(let errorPath, let line, let reason) = error else { return false }
                return errorPath == path && line == badLine && reason.category == category
                    && "\(error)".hasPrefix("\(path):\(badLine): ")
            }
        }
    }

    @Test func configurableFieldNames() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/slim.jsonl"
        try writeFile(path, Array(#"{"content": "x", "meta": {"redpajama_set_name": "RedPajamaGithub"}}"#.utf8))
        let options = RecordOptions(textField: "content", sourceField: "meta.redpajama_set_name")
        #expect(try documents(ShardReader(path: path, options: options)) == [Document(text: "x", source: "RedPajamaGithub")])
    }

    @Test func plainTextFileIsOneDocumentNamedAfterItsDirectory() throws {
        let directory = try makeTemporaryDirectory()
        try makeDirectory(directory + "/novels")
        let text = "Chapter 1\r\n\r\nIt was a dark night.\n"
        try writeFile(directory + "/novels/a.txt", Array(text.utf8))
        try writeFile(directory + "/novels/b.txt.zst", zstdFrame(Array(text.utf8)))
        try writeFile(directory + "/novels/empty.txt", [])
        try writeFile(directory + "/novels/bad.txt", [0x61, 0xC3])
        for name in ["a.txt", "b.txt.zst"] {
            #expect(try documents(ShardReader(path: directory + "/novels/" + name, bufferSize: 5)) == [Document(text: text, source: "novels")])
        }
        let empty = try ShardReader(path: directory + "/novels/empty.txt")
        #expect(try documents(empty) == [])
        #expect(empty.skipped.emptyDocuments == 1)
        #expect(throws: DataError.badRecord(path: directory + "/novels/bad.txt", line: 1, reason: .invalidUTF8)) {
            _ = try documents(ShardReader(path: directory + "/novels/bad.txt"))
        }
    }

    @Test func plainTextLinesAreDocumentsWithTheirLineEndings() throws {
        let directory = try makeTemporaryDirectory()
        let text = "Chapter 1\r\n\nIt was a dark night.\nno newline"
        try writeFile(directory + "/a.txt", Array(text.utf8))
        try writeFile(directory + "/b.txt.zst", zstdFrame(Array(text.utf8)))
        try writeFile(directory + "/bad.txt", Array("fine\n".utf8) + [0x61, 0xC3, 0x0A] + Array("fine\n".utf8))
        let options = RecordOptions(plainTextDocuments: .lines)
        for name in ["a.txt", "b.txt.zst"] {
            let reader = try ShardReader(path: directory + "/" + name, options: options, bufferSize: 4)
            #expect(try documents(reader).map(\.text) == ["Chapter 1\r\n", "\n", "It was a dark night.\n", "no newline"])
        }
        #expect(throws: DataError.badRecord(path: directory + "/bad.txt", line: 2, reason: .invalidUTF8)) {
            _ = try documents(ShardReader(path: directory + "/bad.txt", options: options))
        }
        let skipping = try ShardReader(path: directory + "/bad.txt", options: RecordOptions(policy: .skip, plainTextDocuments: .lines))
        #expect(try documents(skipping).map(\.text) == ["fine\n", "fine\n"])
        #expect(skipping.skipped.bad == ["invalidUTF8": 1])
    }

    @Test func unknownExtensionIsAnError() throws {
        #expect(throws: DataError.self) { _ = try ShardReader(path: "data.parquet") }
    }
}
