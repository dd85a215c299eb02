import Foundation
import Testing
@testable import TaipanData

@Suite struct SampleDatasetTests {
    @Test func buildsPileStyleShardsFromSortedFiles() throws {
        let directory = try makeTemporaryDirectory()
        for (folder, files) in [("a", ["z.py": "print(1)\n", "b.py": "x = \"q\"\t\u{1}\n", "skip.txt": "no"]),
                                ("c", ["one": "licence one", "two": "licence two", "dup": "licence one"])] {
            try makeDirectory(directory + "/" + folder)
            for (name, text) in files { try writeFile(directory + "/\(folder)/\(name)", Array(text.utf8)) }
        }
        try writeFile(directory + "/c/binary", [0x66, 0xFF])
        let sources = [
            SampleSource(name: "Py", roots: [directory + "/a"], suffixes: [".py"], byteLimit: 1000, debianPackage: "python3"),
            SampleSource(name: "Lic", roots: [directory + "/c", directory + "/missing"], suffixes: [""], byteLimit: 1000, debianPackage: "base-files"),
        ]
        let out = directory + "/sample"
        let summary = try SampleDataset.build(directory: out, sources: sources, shardBytes: 20, validationEvery: 2,
                                              minimumBytes: 10, minimumSources: 2)
        #expect(summary.documents == ["Py": 2, "Lic": 2])
        var documents: [Document] = []
        for file in summary.files {
            let reader = try ShardReader(path: file)
            while let document = try reader.next() { documents.append(document) }
        }
        // Interleaved by source, sorted by path; every second document goes to validation.
        #expect(summary.files.map { String($0.split(separator: "/").last!) } == ["train-00000.jsonl.zst", "val-00000.jsonl.zst"])
        #expect(documents == [
            Document(text: "x = \"q\"\t\u{1}\n", source: "Py"), Document(text: "print(1)\n", source: "Py"),
            Document(text: "licence one", source: "Lic"), Document(text: "licence two", source: "Lic"),
        ])
        #expect(summary.unchanged.isEmpty)

        // Building again gives the same bytes, so the files (and their times) are left alone.
        let past = Date(timeIntervalSince1970: 1_000_000_000)
        for file in summary.files { try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: file) }
        let again = try SampleDataset.build(directory: out, sources: sources, shardBytes: 20, validationEvery: 2,
                                            minimumBytes: 10, minimumSources: 2)
        #expect(again.unchanged == summary.files)
        #expect(try again.files.map { try FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date } == [past, past])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["train-00000.jsonl.zst", "val-00000.jsonl.zst"])

        #expect(throws: DataError.self) {
            _ = try SampleDataset.build(directory: out, sources: sources, minimumBytes: 10_000, minimumSources: 2)
        }
    }
}
