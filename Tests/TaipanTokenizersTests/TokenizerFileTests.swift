import Foundation
import Testing
import TaipanTokenizersTestSupport
@testable import TaipanTokenizers

@Suite struct TokenizerFileTests {
    @Test func componentsOfEveryShapeReadBackUnchanged() throws {
        for shape in ShapeFixtures.shapes {
            let file = try TokenizerFile(contentsOf: ShapeFixtures.tokenizerPath(shape))
            #expect(try TokenizerFile(json: Data(file.json().utf8), path: "again.json") == file, "\(shape)")
        }
        let falcon = try TokenizerFile(contentsOf: ShapeFixtures.tokenizerPath("falcon"))
        #expect(falcon.preTokenizer == .sequence([
            .punctuation(.contiguous), .byteLevel(addPrefixSpace: false, useRegex: true), .digits(individual: false),
            .split(pattern: .regex("[0-9][0-9][0-9]"), behavior: .isolated, invert: false),
        ]))
        let sentencePiece = try TokenizerFile(contentsOf: ShapeFixtures.tokenizerPath("sp-prepend"))
        #expect(sentencePiece.normalizer == .sequence([.prepend("▁"), .replace(pattern: .string(" "), content: "▁")]))
        #expect(sentencePiece.decoder == .sequence([
            .replace(pattern: .string("▁"), content: " "), .byteFallback, .fuse, .strip(content: " ", start: 1, stop: 0),
        ]))
        #expect(sentencePiece.byteFallback && sentencePiece.fuseUnknown && sentencePiece.unknownToken == "<unk>")
    }

    @Test func continuationPrefixesAreDroppedFromMergedTokens() {
        #expect(TokenizerFile.droppingPrefix("##", from: "##ार") == "ार")
        #expect(TokenizerFile.droppingPrefix("##", from: "ab") == "ab")
        #expect(TokenizerFile.droppingPrefix("", from: "##a") == "##a")
    }

    /// Found by the FuzzTokenizerFile target's review: a 62-byte file naming id 2³¹ − 1 made
    /// BPETokenizer allocate a 32 GiB id table and die. Ids from 2²⁴ on are refused by key.
    @Test func tokenIdsBeyondTheLargestVocabularyAreRefused() throws {
        func reason(_ json: String) -> String? {
            do {
                _ = try BPETokenizer(TokenizerFile(json: Data(json.utf8), path: "big.json"))
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(reason(#"{"model":{"type":"BPE","vocab":{"a":2147483647},"merges":[]}}"#)
            == "big.json: key 'model.vocab[\"a\"]' is not a token id (an integer from 0 to 16777215)")
        #expect(reason(#"{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"added_tokens":[{"id":16777216,"content":"<s>"}]}"#)
            == "big.json: key 'added_tokens[0].id' is not a token id (an integer from 0 to 16777215)")
        #expect(reason(#"{"model":{"type":"BPE","vocab":{"a":0,"b":65535},"merges":[]}}"#) == nil)
    }
}
