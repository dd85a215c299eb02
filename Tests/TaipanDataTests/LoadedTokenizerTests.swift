import Foundation
import Testing
import TaipanTokenizers
import TaipanTokenizersTestSupport
@testable import TaipanData

@Suite struct LoadedTokenizerTests {
    @Test func byteNamesTheByteTokenizer() throws {
        let loaded = try LoadedTokenizer(named: "byte")
        #expect(loaded.tokenizer is ByteTokenizer)
        // sha256sum of the four bytes "byte".
        #expect(loaded.identity == TokenizerIdentity(
            name: "byte", sha256: "1c31626f568a075d2fd6934828ba678fe64655ef4e78e42c49367cbbfcaf42f5",
            vocabularySize: 257, endOfText: 256))
    }

    @Test func tokenizerJSONByPathOrDirectoryWithTheFileHash() throws {
        // `sha256sum Tests/Fixtures/tokenizer/tokenizer.json`.
        let hash = "2b83dfe1f5bfbba9cb845622ee89aa5f794de39e1cfe5512c01a43a8d3905e18"
        for name in [TokenizerFixtures.tokenizerPath, TokenizerFixtures.directory.path] {
            let loaded = try LoadedTokenizer(named: name)
            #expect(loaded.identity == TokenizerIdentity(
                name: TokenizerFixtures.tokenizerPath, sha256: hash, vocabularySize: 3000, endOfText: 0))
            let first = try #require(try TokenizerFixtures.cases().first)
            #expect(loaded.tokenizer.encode(first.text) == first.ids)
        }
    }

    @Test func unusableNamesAreErrorsNamingTheFileAndKey() throws {
        let directory = try makeTemporaryDirectory()
        func message(_ name: String) -> String {
            do {
                _ = try LoadedTokenizer(named: name)
                return "loaded"
            } catch {
                return "\(error)"
            }
        }
        #expect(message(directory + "/missing.json").hasPrefix(directory + "/missing.json: no such file or directory"))
        #expect(message(directory).hasPrefix(directory + "/tokenizer.json: cannot be read"))
        let unigram = directory + "/unigram.json"
        try writeFile(unigram, Array(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8))
        #expect(message(unigram) == unigram + ": key 'model.type' is \"Unigram\"; only BPE models are supported")
        let broken = directory + "/broken.json"
        try writeFile(broken, Array(#"{"model": "#.utf8))
        #expect(message(broken).hasPrefix(broken + ": is not valid JSON"))
    }
}
