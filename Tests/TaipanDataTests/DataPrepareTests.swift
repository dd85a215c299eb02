import Foundation
import Testing
import TaipanTokenizers
import TaipanTokenizersTestSupport
@testable import TaipanData

@Suite struct DataPrepareTests {
    let identity = TokenizerIdentity(name: "byte", sha256: "test", vocabularySize: 257, endOfText: 256)

    func jsonLine(_ text: String, _ source: String) -> String {
        "{\"text\": \(TokenizerFile.quote(text)), \"meta\": {\"pile_set_name\": \"\(source)\"}}\n"
    }

    /// Two Pile-style inputs (one compressed) and a plain-text directory; returns the input
    /// paths and the documents in input order.
    func makeInputs(in directory: String) throws -> (paths: [String], documents: [Document]) {
        var documents: [Document] = []
        var first = "", second = ""
        for index in 0..<40 {
            let document = Document(text: "document \(index) " + String(repeating: "é", count: index % 7), source: index % 3 == 0 ? "Wiki" : "Code")
            documents.append(document)
            first += jsonLine(document.text, document.source)
        }
        for index in 0..<25 {
            let document = Document(text: "second \(index)\nline two", source: "Books")
            documents.append(document)
            second += jsonLine(document.text, document.source)
        }
        try writeFile(directory + "/a.jsonl", Array(first.utf8))
        try writeFile(directory + "/b.jsonl.zst", zstdFrame(Array(second.utf8)))
        try makeDirectory(directory + "/notes")
        try writeFile(directory + "/notes/n.txt", Array("a plain note".utf8))
        documents.append(Document(text: "a plain note", source: "notes"))
        return ([directory + "/a.jsonl", directory + "/b.jsonl.zst", directory + "/notes"], documents)
    }

    func prepare(_ options: PrepareOptions) throws -> PrepareResult {
        try DataPreparation(options: options, tokenizer: ByteTokenizer(), tokenizerIdentity: identity).run()
    }

    func allTokens(_ manifest: DataManifest, split: String, directory: String) throws -> [Int32] {
        try manifest.openShards(split: split, directory: directory).flatMap { shard in (0..<shard.tokenCount).map { shard[$0] } }
    }

    func expectedTokens(_ documents: [Document]) -> [Int32] {
        documents.flatMap { $0.text.utf8.map { Int32($0) } + [256] }
    }

    @Test func writesEveryDocumentWithEndOfTextInInputOrder() throws {
        let directory = try makeTemporaryDirectory()
        let (paths, documents) = try makeInputs(in: directory)
        var options = PrepareOptions(inputs: paths, outputDirectory: directory + "/tokens")
        options.validationFraction = 0
        options.shardTokens = 300
        options.batchBytes = 100
        let manifest = try prepare(options).manifest
        #expect(try allTokens(manifest, split: "train", directory: options.outputDirectory) == expectedTokens(documents))
        let shards = manifest.shards
        #expect(shards.count > 3 && shards.map(\.file).first == "train-00000.bin")
        #expect(shards.dropLast().allSatisfy { $0.tokens >= 300 })
        #expect(shards.reduce(0) { $0 + $1.documents } == documents.count)
        let train = manifest.splits["train"]
        #expect(train?.documents == 66)
        #expect(train?.sourceDocuments == ["Wiki": 14, "Code": 26, "Books": 25, "notes": 1])
        #expect(train?.sourceTokens["Books"] == expectedTokens(documents.filter { $0.source == "Books" }).count)
        #expect(manifest.inputs.map(\.sha256) == (try [directory + "/a.jsonl", directory + "/b.jsonl.zst", directory + "/notes/n.txt"].map(fileSHA256)))
        #expect(manifest.inputs.map(\.bytes)[2] == 12)
        #expect(!FileManager.default.fileExists(atPath: options.outputDirectory + "/" + DataPreparation.markerName))
    }

    @Test func outputDoesNotDependOnTheThreadCount() throws {
        let directory = try makeTemporaryDirectory()
        let (paths, _) = try makeInputs(in: directory)
        var shardBytes: [[UInt8]] = []
        for threads in [1, 2, 3] {
            var options = PrepareOptions(inputs: paths, outputDirectory: directory + "/tokens\(threads)")
            options.threads = threads
            options.batchBytes = 500
            options.validationFraction = 0.2
            let manifest = try prepare(options).manifest
            shardBytes.append(try manifest.shards.flatMap { try readFile(options.outputDirectory + "/" + $0.file) })
        }
        #expect(shardBytes[0] == shardBytes[1] && shardBytes[1] == shardBytes[2])
    }

    @Test func validationFractionHoldsOutDocumentsDeterministically() throws {
        let directory = try makeTemporaryDirectory()
        let (paths, documents) = try makeInputs(in: directory)
        var options = PrepareOptions(inputs: paths, outputDirectory: directory + "/tokens")
        options.validationFraction = 0.25
        let manifest = try prepare(options).manifest
        let held = manifest.splits["val"]?.documents ?? 0
        #expect(held > 5 && held < 30)
        #expect(held + (manifest.splits["train"]?.documents ?? 0) == documents.count)
        // The held-out documents are exactly those whose ordinal draws below the fraction.
        let chosen = documents.indices.filter { Double(SplitMix64.mix(SplitMix64.mix(0) ^ UInt64($0)) >> 11) * 0x1p-53 < 0.25 }
        #expect(try allTokens(manifest, split: "val", directory: options.outputDirectory) == expectedTokens(chosen.map { documents[$0] }))
    }

    @Test func validationInputsFormTheValidationSplit() throws {
        let directory = try makeTemporaryDirectory()
        let (paths, documents) = try makeInputs(in: directory)
        var options = PrepareOptions(inputs: [paths[0], paths[2]], outputDirectory: directory + "/tokens")
        options.validationInputs = [paths[1]]
        let manifest = try prepare(options).manifest
        #expect(try allTokens(manifest, split: "val", directory: options.outputDirectory) == expectedTokens(documents.filter { $0.source == "Books" }))
        #expect(manifest.splits["train"]?.documents == 41)
        #expect(manifest.inputs.map(\.split) == ["train", "train", "val"])
    }

    @Test func rerunIsANoOpAndChangedInputsAreRefused() throws {
        let directory = try makeTemporaryDirectory()
        let (paths, _) = try makeInputs(in: directory)
        let options = PrepareOptions(inputs: paths, outputDirectory: directory + "/tokens")
        let first = try prepare(options)
        #expect(!first.alreadyPrepared)
        let manifestBytes = try readFile(options.outputDirectory + "/manifest.json")
        let second = try prepare(options)
        #expect(second.alreadyPrepared && second.manifest == first.manifest)
        #expect(try readFile(options.outputDirectory + "/manifest.json") == manifestBytes)
        try writeFile(directory + "/notes/n.txt", Array("a longer plain note".utf8))
        #expect(throws: DataError.self) { _ = try prepare(options) }
        #expect(try readFile(options.outputDirectory + "/manifest.json") == manifestBytes)
    }

    @Test func interruptedRunRestartsCleanly() throws {
        let directory = try makeTemporaryDirectory()
        let (paths, _) = try makeInputs(in: directory)
        var options = PrepareOptions(inputs: paths, outputDirectory: directory + "/tokens")
        options.shardTokens = 200
        let reference = try prepare(options).manifest
        // What a killed run leaves: the marker, some finished shards, a temporary, no manifest.
        let out = options.outputDirectory
        try FileManager.default.removeItem(atPath: out + "/manifest.json")
        try writeFile(out + "/" + DataPreparation.markerName, [])
        try writeFile(out + "/train-00099.bin", Array("stale".utf8))
        try writeFile(out + "/train-00003.bin.tmp", Array("partial".utf8))
        try writeFile(out + "/keep.txt", Array("not ours".utf8))
        let result = try prepare(options)
        #expect(result.restartedAfterInterruption && !result.alreadyPrepared)
        #expect(result.manifest.shards == reference.shards)
        let names = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(!names.contains("train-00099.bin") && !names.contains("train-00003.bin.tmp") && names.contains("keep.txt"))
        #expect(!names.contains(DataPreparation.markerName))
    }

    @Test func foreignShardsWithoutMarkerAreNotOverwritten() throws {
        let directory = try makeTemporaryDirectory()
        let (paths, _) = try makeInputs(in: directory)
        let out = directory + "/tokens"
        try makeDirectory(out)
        try writeFile(out + "/train-00000.bin", Array("someone else's".utf8))
        #expect(throws: DataError.self) { _ = try prepare(PrepareOptions(inputs: paths, outputDirectory: out)) }
        #expect(try readFile(out + "/train-00000.bin") == Array("someone else's".utf8))
    }

    @Test func badRecordsFailNamingFileAndLineOrAreCounted() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/bad.jsonl"
        try writeFile(path, Array((jsonLine("good", "S") + "{\"text\": 5}\n" + jsonLine("also good", "S")).utf8))
        var options = PrepareOptions(inputs: [path], outputDirectory: directory + "/tokens")
        #expect(throws: DataError.badRecord(path: path, line: 2, reason: .textNotString(field: "text"))) { _ = try prepare(options) }
        #expect(!FileManager.default.fileExists(atPath: options.outputDirectory + "/manifest.json"))
        options.record.policy = .skip
        options.validationFraction = 0
        let manifest = try prepare(options).manifest
        #expect(manifest.skipped.bad == ["textNotString": 1])
        #expect(try allTokens(manifest, split: "train", directory: options.outputDirectory)
            == expectedTokens([Document(text: "good", source: "S"), Document(text: "also good", source: "S")]))
    }

    @Test func tokenizerJSONIdsAndHashGoIntoTheShardsAndManifest() throws {
        let directory = try makeTemporaryDirectory()
        let cases = try TokenizerFixtures.cases().filter { !$0.text.isEmpty }
        let records = cases.map { jsonLine($0.text, "Fixture") }.joined()
        try writeFile(directory + "/fixture.jsonl", Array(records.utf8))
        let loaded = try LoadedTokenizer(named: TokenizerFixtures.tokenizerPath)
        var options = PrepareOptions(inputs: [directory + "/fixture.jsonl"], outputDirectory: directory + "/tokens")
        options.validationFraction = 0
        let manifest = try DataPreparation(options: options, tokenizer: loaded.tokenizer, tokenizerIdentity: loaded.identity).run().manifest
        // The fixture's ids (from Hugging Face tokenizers), each document followed by <|endoftext|> = 0.
        #expect(try allTokens(manifest, split: "train", directory: options.outputDirectory) == cases.flatMap { $0.ids + [0] })
        #expect(manifest.settings.tokenizer.sha256 == "2b83dfe1f5bfbba9cb845622ee89aa5f794de39e1cfe5512c01a43a8d3905e18")
        #expect(manifest.settings.tokenWidth == 2)
    }

    /// Each released shape's fixture prepares into the ids Hugging Face gives, each document
    /// followed by the shape's end-of-text token.
    /// Each document is the library's `encode(text)` (Llama's begin-of-text token first for
    /// llama3 and llama2) and the end-of-text id.
    @Test(arguments: ["cl100k", "llama3", "o200k", "qwen2", "falcon", "sp-metaspace", "sp-prepend", "llama2"])
    func everyShapePreparesIntoTheLibrarysIds(shape: String) throws {
        let directory = try makeTemporaryDirectory()
        let cases = try ShapeFixtures.cases(shape).filter { !$0.text.isEmpty }
        try writeFile(directory + "/fixture.jsonl", Array(cases.map { jsonLine($0.text, "Fixture") }.joined().utf8))
        let loaded = try LoadedTokenizer(named: ShapeFixtures.tokenizerPath(shape))
        let endOfText = try #require(loaded.identity.endOfText)
        var options = PrepareOptions(inputs: [directory + "/fixture.jsonl"], outputDirectory: directory + "/tokens")
        options.validationFraction = 0
        let manifest = try DataPreparation(options: options, tokenizer: loaded.tokenizer, tokenizerIdentity: loaded.identity).run().manifest
        let expected = try cases.flatMap { try #require($0.idsWithSpecialTokens) + [endOfText] }
        #expect(try allTokens(manifest, split: "train", directory: options.outputDirectory) == expected)
        #expect(manifest.settings.tokenizer == loaded.identity)
        #expect(manifest.settings.tokenizer.sha256 == (try fileSHA256(path: ShapeFixtures.tokenizerPath(shape))))
    }

    @Test func tokenizerWithoutEndOfTextIsRefusedByName() throws {
        let directory = try makeTemporaryDirectory()
        try writeFile(directory + "/a.jsonl", Array(jsonLine("text", "S").utf8))
        let path = directory + "/tokenizer.json"
        try writeFile(path, Array(tinyTokenizerJSON(vocabulary: [], merges: "[]").utf8))
        let loaded = try LoadedTokenizer(named: path)
        let preparation = DataPreparation(options: PrepareOptions(inputs: [directory + "/a.jsonl"], outputDirectory: directory + "/t"),
                                          tokenizer: loaded.tokenizer, tokenizerIdentity: loaded.identity)
        #expect(throws: DataError.invalidArgument(
            "\(path): the tokenizer has no end-of-text token (<|endoftext|>, <|end_of_text|>, </s>, <|im_end|>, <eos>), which prepare puts after every document")) { _ = try preparation.run() }
    }

    @Test func plainTextLinesAsDocumentsAreRecordedInTheSettings() throws {
        let directory = try makeTemporaryDirectory()
        try writeFile(directory + "/a.txt", Array("ab\nc".utf8))
        var options = PrepareOptions(inputs: [directory + "/a.txt"], outputDirectory: directory + "/tokens")
        options.validationFraction = 0
        options.record.plainTextDocuments = .lines
        let manifest = try prepare(options).manifest
        #expect(try allTokens(manifest, split: "train", directory: options.outputDirectory) == [97, 98, 10, 256, 99, 256])
        #expect(manifest.settings.plainTextDocuments == .lines)
        options.record.plainTextDocuments = .file
        #expect(throws: DataError.self) { _ = try prepare(options) }
    }

    @Test func unknownInputsAreErrors() throws {
        let directory = try makeTemporaryDirectory()
        try writeFile(directory + "/x.csv", [])
        for input in [directory + "/missing.jsonl", directory + "/x.csv"] {
            #expect(throws: DataError.self) { _ = try prepare(PrepareOptions(inputs: [input], outputDirectory: directory + "/t")) }
        }
    }

    /// Ids and loss mask of every example of `split`, in order.
    func examples(_ manifest: DataManifest, split: String, directory: String) throws -> [(ids: [Int32], counted: [Bool])] {
        try manifest.openShards(split: split, directory: directory).flatMap { shard in
            (0..<shard.documentCount).map { index in
                let range = shard.exampleRange(index)
                return (range.map { shard[$0] }, range.map(shard.isCounted))
            }
        }
    }

    @Test func promptCompletionExamplesBecomePromptCompletionEndOfTextWithTheirMask() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/tune.jsonl"
        // Byte ids by hand: "Hi" = 72 105, " yo" = 32 121 111, "é" = 195 169; end-of-text 256.
        try writeFile(path, Array(("{\"prompt\": \"Hi\", \"completion\": \" yo\", \"meta\": {\"pile_set_name\": \"Chat\"}}\n"
            + "\n"
            + "{\"completion\": \"é\", \"prompt\": \"\"}\n").utf8))
        var options = PrepareOptions(inputs: [path], outputDirectory: directory + "/tokens")
        options.validationFraction = 0
        options.record.format = .promptCompletion
        let manifest = try prepare(options).manifest
        let found = try examples(manifest, split: "train", directory: options.outputDirectory)
        #expect(found.map(\.ids) == [[72, 105, 32, 121, 111, 256], [195, 169, 256]])
        #expect(found.map(\.counted) == [[false, false, true, true, true, true], [true, true, true]])
        #expect(manifest.formatVersion == 2 && manifest.format == .promptCompletion)
        #expect(manifest.settings.promptField == "prompt" && manifest.settings.completionField == "completion")
        #expect(manifest.splits["train"]?.completionTokens == 7 && manifest.splits["train"]?.tokens == 9)
        #expect(manifest.splits["train"]?.sourceDocuments == ["Chat": 1, "unknown": 1])
        // The manifest says what it holds, and reads back.
        let text = String(decoding: try readFile(options.outputDirectory + "/manifest.json"), as: UTF8.self)
        #expect(text.contains("\"format\" : \"prompt_completion\"") && text.contains("\"formatVersion\" : 2"))
        #expect(try DataManifest.load(directory: options.outputDirectory) == manifest)
        // Text preparations stay version 1, without the new keys.
        options.record.format = .text
        options.outputDirectory = directory + "/text"
        try writeFile(directory + "/plain.jsonl", Array(jsonLine("x", "S").utf8))
        options.inputs = [directory + "/plain.jsonl"]
        _ = try prepare(options)
        let plain = String(decoding: try readFile(options.outputDirectory + "/manifest.json"), as: UTF8.self)
        #expect(plain.contains("\"formatVersion\" : 1") && !plain.contains("\"format\" :") && !plain.contains("completionTokens"))
        #expect(try readFile(options.outputDirectory + "/train-00000.bin")[8] == 1)
    }

    /// With Llama-2's template, an example is `<s>`, the prompt, the completion and `</s>`, the
    /// begin-of-text token counted with the prompt; the ids are the library's.
    @Test func examplesGetTheTemplatesBeginOfTextTokenOnce() throws {
        let directory = try makeTemporaryDirectory()
        let cases = try ShapeFixtures.cases("llama2")
        let prompt = try #require(cases.first { $0.text == "Hello, world!" }), completion = try #require(cases.first { $0.text == " leading space" })
        try writeFile(directory + "/tune.jsonl", Array("{\"prompt\": \"Hello, world!\", \"completion\": \" leading space\"}\n".utf8))
        let loaded = try LoadedTokenizer(named: ShapeFixtures.tokenizerPath("llama2"))
        var options = PrepareOptions(inputs: [directory + "/tune.jsonl"], outputDirectory: directory + "/tokens")
        options.validationFraction = 0
        options.record.format = .promptCompletion
        let manifest = try DataPreparation(options: options, tokenizer: loaded.tokenizer, tokenizerIdentity: loaded.identity).run().manifest
        let promptIds = try #require(prompt.idsWithSpecialTokens)
        let endOfText = try #require(loaded.identity.endOfText)
        #expect(promptIds.first == loaded.tokenizer.specialTokens["<s>"] && endOfText == loaded.tokenizer.specialTokens["</s>"])
        let found = try examples(manifest, split: "train", directory: options.outputDirectory)
        #expect(found.map(\.ids) == [promptIds + completion.ids + [endOfText]])
        #expect(found.map(\.counted) == [[Bool](repeating: false, count: promptIds.count) + [Bool](repeating: true, count: completion.ids.count + 1)])
    }

    @Test func exampleFieldNamesAreConfigurable() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory + "/qa.jsonl.zst"
        try writeFile(path, zstdFrame(Array("{\"q\": {\"text\": \"a\"}, \"answer\": \"b\"}\n".utf8)))
        var options = PrepareOptions(inputs: [path], outputDirectory: directory + "/tokens")
        options.validationFraction = 0
        options.record.format = .promptCompletion
        options.record.promptField = "q.text"
        options.record.completionField = "answer"
        let manifest = try prepare(options).manifest
        let found = try examples(manifest, split: "train", directory: options.outputDirectory)
        #expect(found.map(\.ids) == [[97, 98, 256]] && found.map(\.counted) == [[false, true, true]])
    }

    @Test func badExamplesFailNamingFileLineAndField() throws {
        let directory = try makeTemporaryDirectory()
        let cases: [(String, BadRecordReason)] = [
            ("{\"prompt\": \"p\"}", .missingText(field: "completion")),
            ("{\"completion\": \"c\"}", .missingText(field: "prompt")),
            ("{\"prompt\": 5, \"completion\": \"c\"}", .textNotString(field: "prompt")),
            ("{\"prompt\": \"p\", \"completion\": [\"c\"]}", .textNotString(field: "completion")),
            ("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", .chatMessages(field: "messages")),
        ]
        for (index, (record, reason)) in cases.enumerated() {
            let path = directory + "/bad\(index).jsonl"
            try writeFile(path, Array(("{\"prompt\": \"ok\", \"completion\": \"ok\"}\n" + record + "\n").utf8))
            var options = PrepareOptions(inputs: [path], outputDirectory: directory + "/tokens\(index)")
            options.record.format = .promptCompletion
            #expect(throws: DataError.badRecord(path: path, line: 2, reason: reason)) { _ = try prepare(options) }
        }
        #expect(DataError.badRecord(path: "f.jsonl", line: 2, reason: .missingText(field: "completion")).description
            == "f.jsonl:2: no \"completion\" field")
        #expect(BadRecordReason.chatMessages(field: "messages").message.contains("chat data is not supported"))
        // Plain text has no prompts.
        try writeFile(directory + "/a.txt", Array("text".utf8))
        var options = PrepareOptions(inputs: [directory + "/a.txt"], outputDirectory: directory + "/text")
        options.record.format = .promptCompletion
        #expect {
            _ = try prepare(options)
        } throws: { error in
            "\(error)".contains(directory + "/a.txt") && "\(error)".contains("JSON Lines")
        }
    }
}
