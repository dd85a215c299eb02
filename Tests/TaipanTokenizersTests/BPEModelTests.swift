import Foundation
import Testing
import TaipanTokenizersTestSupport
@testable import TaipanTokenizers

@Suite struct BPEModelTests {
    func ids(_ model: BPEModel, _ word: String) -> [Int32] {
        var ids: [Int32] = []
        let state = EncoderState()
        let bytes = Array(word.utf8)
        bytes.withUnsafeBufferPointer { model.encode($0, state, &ids) }
        return ids
    }

    /// The heap that merges long words gives what scanning every pair gives.
    @Test(arguments: ["cl100k", "sp-prepend"])
    func longWordsMergeAsShortOnesDo(shape: String) throws {
        let file = try TokenizerFile(contentsOf: ShapeFixtures.tokenizerPath(shape))
        let byteLevel = shape == "cl100k"
        let scanning = BPEModel(file, byteLevel: byteLevel, longWord: .max)
        let heap = BPEModel(file, byteLevel: byteLevel, longWord: 0)
        for text in try ShapeFixtures.cases(shape).map(\.text) {
            let word = byteLevel ? text : "▁" + text.replacingOccurrences(of: " ", with: "▁")
            #expect(ids(heap, word) == ids(scanning, word), "\(text.debugDescription)")
        }
    }

    @Test func unknownCharactersAreFusedOrNotAndBytesFallBack() throws {
        let vocabulary: [String: Int32] = ["<unk>": 0, "a": 1, "b": 2, "ab": 3, "<0xC3>": 4, "<0xA9>": 5]
        var file = TokenizerFile(
            vocabulary: vocabulary, merges: [.init("a", "b")], addedTokens: [], preTokenizer: nil, decoder: nil,
            unknownToken: "<unk>")
        #expect(ids(BPEModel(file, byteLevel: false), "xyab") == [0, 0, 3])
        file.fuseUnknown = true
        #expect(ids(BPEModel(file, byteLevel: false), "xyabz") == [0, 3, 0])
        file.byteFallback = true
        // "é" is C3 A9, both byte tokens present; "ü" (C3 BC) lacks one and becomes <unk>.
        #expect(ids(BPEModel(file, byteLevel: false), "éaüb") == [4, 5, 1, 0, 2])
    }

    @Test func affixesAreAddedBeforeTheLookup() throws {
        let vocabulary: [String: Int32] = ["a": 0, "##b": 1, "##c</w>": 2, "ab": 3, "abc</w>": 4]
        let file = TokenizerFile(
            vocabulary: vocabulary, merges: [.init("a", "##b"), .init("ab", "##c</w>")], addedTokens: [],
            preTokenizer: nil, decoder: nil, continuingSubwordPrefix: "##", endOfWordSuffix: "</w>")
        #expect(ids(BPEModel(file, byteLevel: false), "abc") == [4])
    }
}
