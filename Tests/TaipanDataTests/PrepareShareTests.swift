import Foundation
import TaipanTokenizers
import Testing
@testable import TaipanData

@Suite struct PrepareShareTests {
    let identity = TokenizerIdentity(name: "byte", sha256: "test", vocabularySize: 257, endOfText: 256)

    func line(_ text: String) -> String { "{\"text\": \(TokenizerFile.quote(text)), \"meta\": {\"pile_set_name\": \"S\"}}\n" }

    @Test func sharesGoLargestFirstToTheLeastLoadedRank() {
        let inputs = [10, 50, 30, 30, 5].enumerated().map { index, bytes in
            DataManifest.Input(path: "in\(index)", split: "train", bytes: bytes, modifiedNanoseconds: 0, sha256: "")
        }
        // 50 → rank 0; 30 → 1; 30 → 1 (60); 10 → 0 (60); 5 → 0 (the tie goes to the lower rank).
        #expect(DataPreparation.shares(of: inputs, ranks: 2) == [[0, 1, 4], [2, 3]])
        #expect(DataPreparation.shares(of: inputs, ranks: 1) == [[0, 1, 2, 3, 4]])
        #expect(DataPreparation.shares(of: inputs, ranks: 7) == [[1], [2], [3], [0], [4], [], []])
    }

    func example(_ prompt: String, _ completion: String) -> String {
        "{\"prompt\": \(TokenizerFile.quote(prompt)), \"completion\": \(TokenizerFile.quote(completion))}\n"
    }

    /// The three steps of a shared run, played by three "ranks" in one process, write what
    /// `run()` writes, byte for byte — bad records, empty documents, an empty input, held-out
    /// draws and shard cuts included; for text and for prompt/completion examples.
    @Test(arguments: [DataFormat.text, .promptCompletion])
    func sharedStepsWriteWhatOneRunWrites(format: DataFormat) throws {
        let directory = try makeTemporaryDirectory()
        var paths: [String] = []
        let examples = format == .promptCompletion
        for file in 0..<5 {
            var text = ""
            for index in 0..<(file == 3 ? 0 : 12 + 5 * file) {
                let words = "file \(file) document \(index) " + String(repeating: "ü", count: index % 5)
                text += examples ? example(index % 4 == 0 ? "" : words, "→ \(index)") : line(words)
            }
            if file == 1 { text += "not JSON\n" + (examples ? example("", "") : line("")) + "\n" }
            if file == 2 && examples { text += "{\"messages\": []}\n" }
            try writeFile(directory + "/in\(file).jsonl", Array(text.utf8))
            paths.append(directory + "/in\(file).jsonl")
        }
        func options(_ out: String) -> PrepareOptions {
            var options = PrepareOptions(inputs: paths, outputDirectory: directory + "/" + out)
            options.validationFraction = 0.2
            options.shardTokens = 400
            options.batchBytes = 200
            options.record.policy = .skip
            options.record.format = format
            return options
        }
        let one = DataPreparation(options: options("one"), tokenizer: ByteTokenizer(), tokenizerIdentity: identity)
        let reference = try one.run().manifest
        let shared = DataPreparation(options: options("shared"), tokenizer: ByteTokenizer(), tokenizerIdentity: identity)
        guard case .started(let restarted) = try shared.beginShared() else {
            Issue.record("an empty directory was found prepared")
            return
        }
        for rank in [2, 0, 1] { try shared.tokenizeShare(rank: rank, ranks: 3) }
        let result = try shared.assembleShares(restarted: restarted)
        #expect(result.manifest == reference)
        #expect(reference.skipped.badTotal == (examples ? 2 : 1) && reference.skipped.emptyDocuments == 1 && reference.shards.count > 4)
        let shards = try reference.openShards(split: "train", directory: directory + "/one")
        #expect(reference.format == format && shards.allSatisfy { $0.hasExamples == examples })
        let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/one").sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/shared").sorted() == files)
        for file in files {
            #expect(try readFile(directory + "/one/" + file) == readFile(directory + "/shared/" + file), "\(file)")
        }
        guard case .done = try shared.beginShared() else {
            Issue.record("a finished directory was not recognised")
            return
        }
    }

    @Test func aMissingOrDamagedPartIsAClearError() throws {
        let directory = try makeTemporaryDirectory()
        try writeFile(directory + "/a.jsonl", Array((line("one") + line("two")).utf8))
        try writeFile(directory + "/b.jsonl", Array(line("three").utf8))
        let preparation = DataPreparation(
            options: PrepareOptions(inputs: [directory + "/a.jsonl", directory + "/b.jsonl"], outputDirectory: directory + "/out"),
            tokenizer: ByteTokenizer(), tokenizerIdentity: identity)
        _ = try preparation.beginShared()
        try preparation.tokenizeShare(rank: 0, ranks: 2)
        #expect {
            _ = try preparation.assembleShares(restarted: false)
        } throws: { error in
            "\(error)".contains("part-0000") && "\(error)".contains("a rank did not finish its share")
        }
        try preparation.tokenizeShare(rank: 1, ranks: 2)
        let part = preparation.partPath(input: 0)
        let bytes = try readFile(part)
        try writeFile(part, Array(bytes.dropLast(3)))
        #expect {
            _ = try preparation.assembleShares(restarted: false)
        } throws: { error in
            "\(error)".contains(part) && "\(error)".contains("truncated")
        }
    }
}
