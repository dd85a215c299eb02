import Foundation
import Testing

@Suite struct DataCommandTests {
    /// `mpirun -np 2 taipan data prepare` splits the inputs across the ranks and writes the
    /// shards and manifest of a one-process run byte for byte; a bad record, a held-out
    /// fraction and several shards per split make the order matter.
    /// (Also for prompt/completion examples, whose shards hold their loss masks.)
    @Test(arguments: ["text", "prompt_completion"])
    func twoRanksPrepareWhatOneProcessPrepares(format: String) throws {
        let directory = try TemporaryDirectory()
        let examples = format == "prompt_completion"
        let name = examples ? "examples" : "corpus"
        if examples { try writeExampleCorpus(into: directory.path, files: 5) } else { try writeSourceCorpus(into: directory.path, files: 5) }
        try "not JSON\n{\"text\": \"\", \"prompt\": \"\", \"completion\": \"\"}\n".write(toFile: directory.file("\(name)-5.jsonl"), atomically: true, encoding: .utf8)
        let inputs = (0...5).map { directory.file("\(name)-\($0).jsonl") }
        func prepare(_ out: String) -> [String] {
            ["data", "prepare", "--tokenizer", "byte", "--out", directory.file(out), "--bad-records", "skip", "--format", format,
             "--shard-tokens", examples ? "3000" : "60000", "--validation-fraction", "0.1"] + inputs
        }
        let single = try runTaipan(prepare("one"))
        #expect(single.status == 0, "\(single.error)")
        let parallel = try runMPI(ranks: 2, prepare("two"))
        #expect(parallel.status == 0, "\(parallel.output)\(parallel.error)")
        #expect(parallel.error.contains("tokenised on 2 ranks"))
        let manager = FileManager.default
        let files = try manager.contentsOfDirectory(atPath: directory.file("one")).sorted()
        #expect(try manager.contentsOfDirectory(atPath: directory.file("two")).sorted() == files)
        #expect(files.filter { $0.hasPrefix("train-") }.count > 2 && files.contains("val-00000.bin") && files.contains("manifest.json"))
        #expect(single.output.contains(examples ? "in completions" : "documents"), "\(single.output)")
        for file in files {
            #expect(manager.contents(atPath: directory.file("one/" + file)) == manager.contents(atPath: directory.file("two/" + file)), "\(file) differs")
        }
        // Run again, the 2-rank job finds its directory prepared and does nothing.
        let again = try runMPI(ranks: 2, prepare("two"))
        #expect(again.status == 0 && again.output.contains("already prepared"), "\(again.output)\(again.error)")
    }

    /// In a log file (standard error not a terminal) progress comes as whole lines.
    @Test func progressInALogFileIsWholeLines() throws {
        let directory = try TemporaryDirectory()
        try writeSourceCorpus(into: directory.path, files: 1)
        let result = try runTaipan(["data", "prepare", "--tokenizer", "byte", "--out", directory.file("tokens"), directory.file("corpus-0.jsonl")])
        #expect(result.status == 0, "\(result.error)")
        #expect(!result.error.contains("\r"))
        #expect(result.error.split(separator: "\n").contains { $0.hasPrefix("prepare: ") && $0.contains("(100.0%)") }, "\(result.error)")
    }
}
