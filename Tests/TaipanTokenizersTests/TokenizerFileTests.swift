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
}
