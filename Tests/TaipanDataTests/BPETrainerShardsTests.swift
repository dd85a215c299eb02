import Foundation
import Testing
import TaipanTokenizers
@testable import TaipanData

@Suite struct BPETrainerShardsTests {
    @Test func countsTheDocumentsOfShardsAcrossBatches() throws {
        let directory = try makeTemporaryDirectory()
        let records = #"{"text": "a b"}"# + "\n" + #"{"text": "a\nb"}"# + "\n\n" + #"{"text": ""}"# + "\n" + #"{"text": "b"}"# + "\n"
        try writeFile(directory + "/docs.jsonl.zst", zstdFrame(Array(records.utf8)))
        try writeFile(directory + "/lines.txt", Array("a\n  b".utf8))
        var trainer = BPETrainer(vocabularySize: 300)
        let jsonl = try ShardReader(path: directory + "/docs.jsonl.zst", bufferSize: 7)
        let read = try trainer.add(jsonl, threads: 2, batchDocuments: 2)
        #expect(read.documents == 3)
        #expect(read.bytes == 7)
        #expect(jsonl.skipped.emptyDocuments == 1)
        // "a b" → a, Ġb; "a\nb" → a, Ċ, b; "b" → b.
        #expect(trainer.wordCounts == [[0x61]: 2, [0x20, 0x62]: 1, [0x0A]: 1, [0x62]: 2])
        // Lines: "a\n" → a, Ċ; "  b" → Ġ, Ġb (a whole-file document would give a, Ċ·Ġ, Ġb).
        try trainer.add(ShardReader(path: directory + "/lines.txt", options: RecordOptions(plainTextDocuments: .lines)))
        #expect(trainer.wordCounts == [[0x61]: 3, [0x20, 0x62]: 2, [0x0A]: 2, [0x62]: 2, [0x20]: 1])
    }
}
