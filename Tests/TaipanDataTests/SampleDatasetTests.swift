import Foundation
import Testing
import TaipanTokenizers
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
        for file in summary.files.prefix(2) {
            let reader = try ShardReader(path: file)
            while let document = try reader.next() { documents.append(document) }
        }
        // Interleaved by source, sorted by path; every second document goes to validation.
        let names = ["train-00000.jsonl.zst", "val-00000.jsonl.zst", "finetune-train.jsonl.zst", "finetune-val.jsonl.zst"]
        #expect(summary.files.map { String($0.split(separator: "/").last!) } == names)
        // No function in these Python files: the fine-tuning files are there, empty.
        #expect(summary.examples == ["train": 0, "val": 0])
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
        #expect(try again.files.map { try FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date } == [past, past, past, past])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == (names + ["sample.json"]).sorted())

        #expect(throws: DataError.self) {
            _ = try SampleDataset.build(directory: out, sources: sources, minimumBytes: 10_000, minimumSources: 2)
        }
    }
}

@Suite struct SampleFineTuningTests {
    static let source = """
    import os

    def add(a, b):
        \"\"\"Return a + b.\"\"\"
        return a + b

    class Box:
        async def fetch(self,
                        key: str) -> dict:
            r'''Fetch one key.

            Any value.
            '''
            value = self.get(key)

            return {key: value}

        def undocumented(self):
            return 1

    def empty():
        \"\"\"Only a docstring.\"\"\"

    def last():
    \t\"\"\"Tabs are not followed.\"\"\"
    \treturn 0
    """

    @Test func functionsWithDocstringsBecomeSignatureAndDocstringThenBody() {
        let examples = SampleDataset.functionExamples(python: Self.source, source: "Py", largest: 1000)
        #expect(examples == [
            Example(prompt: "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n", completion: "    return a + b\n", source: "Py"),
            Example(
                prompt: "async def fetch(self,\n                key: str) -> dict:\n    r'''Fetch one key.\n\n    Any value.\n    '''\n",
                completion: "    value = self.get(key)\n\n    return {key: value}\n", source: "Py"),
        ])
        // Longer examples are left out.
        #expect(SampleDataset.functionExamples(python: Self.source, source: "Py", largest: 60).count == 1)
    }

    /// The sample's Python files give the fine-tuning set, every tenth example held out.
    @Test func theSampleWritesItsFineTuningSet() throws {
        let directory = try makeTemporaryDirectory()
        try makeDirectory(directory + "/py")
        try makeDirectory(directory + "/text")
        var python = ""
        for index in 0..<11 { python += "def f\(index)():\n    \"\"\"Return \(index).\"\"\"\n    return \(index)\n\n" }
        try writeFile(directory + "/py/m.py", Array(python.utf8))
        try writeFile(directory + "/text/t", Array("def g():\n    \"\"\"Not Python.\"\"\"\n    pass\n".utf8))
        let sources = [
            SampleSource(name: "Py", roots: [directory + "/py"], suffixes: [".py"], byteLimit: 1000, debianPackage: "python3"),
            SampleSource(name: "Text", roots: [directory + "/text"], suffixes: [""], byteLimit: 1000, debianPackage: "base-files"),
        ]
        let summary = try SampleDataset.build(directory: directory + "/sample", sources: sources, minimumBytes: 10, minimumSources: 2)
        #expect(summary.examples == ["train": 10, "val": 1])
        let options = RecordOptions(format: .promptCompletion), decoder = RecordDecoder(options: options)
        var examples: [String: [Example]] = [:]
        for split in ["train", "val"] {
            let reader = try ShardReader(path: directory + "/sample/finetune-\(split).jsonl.zst", options: options)
            var record: [UInt8] = []
            while try reader.nextRecord(appendingTo: &record) != nil {
                if case .example(let example) = record.withUnsafeBufferPointer({ decoder.decode($0, format: .jsonLines, plainTextSource: "") }) {
                    examples[split, default: []].append(example)
                }
                record.removeAll()
            }
        }
        #expect(examples["val"] == [Example(prompt: "def f9():\n    \"\"\"Return 9.\"\"\"\n", completion: "    return 9\n", source: "Py")])
        #expect(examples["train"]?.map(\.completion) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10].map { "    return \($0)\n" })
    }

    /// The sample takes the files dpkg lists for its packages, so a package installed later
    /// (a file under the same root that no listed package owns) changes nothing.
    @Test func filesComeFromTheNamedPackagesOnly() throws {
        let directory = try makeTemporaryDirectory()
        let info = directory + "/info", root = directory + "/doc"
        for folder in [info, root + "/bash", root + "/tar", root + "/cmake"] { try makeDirectory(folder) }
        for package in ["bash", "tar", "cmake"] { try writeFile(root + "/\(package)/copyright", Array("Copyright \(package)\n".utf8)) }
        try writeFile(info + "/bash.list", Array("/.\n\(root)/bash\n\(root)/bash/copyright\n".utf8))
        try writeFile(info + "/tar:amd64.list", Array("\(root)/tar\n\(root)/tar/copyright\n\(root)/tar/gone/copyright\n".utf8))
        try writeFile(info + "/cmake.list", Array("\(root)/cmake/copyright\n".utf8))
        let source = SampleSource(
            name: "DebianCopyright", roots: [root], suffixes: ["/copyright"], byteLimit: 1000, debianPackage: "base-files",
            packages: ["tar", "bash", "absent"])
        #expect(SampleDataset.files(of: source, dpkgInfo: info) == [root + "/bash/copyright", root + "/tar/copyright"])

        let status = directory + "/status"
        try writeFile(status, Array("""
            Package: bash
            Status: install ok installed
            Essential: yes

            Package: cmake
            Status: install ok installed

            Package: tar
            Status: deinstall ok config-files
            Essential: yes

            Package: dash
            Essential: yes
            Status: install ok installed
            """.utf8))
        #expect(SampleDataset.essentialPackages(status: status) == ["bash", "dash"])
    }

    /// `sample.json` records the records' SHA-256 (the same for the same text, another for
    /// other text) and a rebuild that comes out different reports the earlier one.
    @Test func theSampleRecordsItsHashAndReportsAChange() throws {
        let directory = try makeTemporaryDirectory()
        try makeDirectory(directory + "/t")
        try writeFile(directory + "/t/a", Array("some licence text\n".utf8))
        try writeFile(directory + "/t/b", Array("another licence text\n".utf8))
        let sources = [SampleSource(name: "Lic", roots: [directory + "/t"], suffixes: [""], byteLimit: 1000, debianPackage: "base-files")]
        let out = directory + "/sample"
        let first = try SampleDataset.build(directory: out, sources: sources, validationEvery: 2, minimumBytes: 1, minimumSources: 1)
        // The records hashed by hand: each file's name, then its JSON lines.
        var expected = SHA256()
        for (name, text) in [("train-00000.jsonl.zst", "some licence text\n"), ("val-00000.jsonl.zst", "another licence text\n")] {
            expected.update(Array((name + "\n").utf8))
            expected.update(Array("{\"text\": \(TaipanTokenizers.TokenizerFile.quote(text)), \"meta\": {\"pile_set_name\": \"Lic\"}}\n".utf8))
        }
        #expect(first.sha256 == expected.hexDigest())
        let record = try String(contentsOfFile: out + "/sample.json", encoding: .utf8)
        #expect(record.contains(first.sha256))
        #expect(first.previous == nil)
        let again = try SampleDataset.build(directory: out, sources: sources, validationEvery: 2, minimumBytes: 1, minimumSources: 1)
        #expect(again.sha256 == first.sha256 && again.previous == nil)
        try writeFile(directory + "/t/b", Array("a changed licence text\n".utf8))
        let changed = try SampleDataset.build(directory: out, sources: sources, validationEvery: 2, minimumBytes: 1, minimumSources: 1)
        #expect(changed.sha256 != first.sha256)
        #expect(changed.previous?.sha256 == first.sha256)
    }
}
