import Testing
@testable import TaipanTokenizers

@Suite struct WordSplitterTests {
    /// Raw added tokens are cut out before the normalizer runs; each piece between them is
    /// normalised on its own and only the text's first piece counts as first.
    @Test func addedTokensNormalizerAndPreTokenizerInOrder() throws {
        let file = TokenizerFile(
            vocabulary: [:], merges: [], addedTokens: [],
            normalizer: .lowercase, preTokenizer: .metaspace(replacement: "▁", prependScheme: .first, split: true), decoder: nil)
        let tokens = [
            AddedToken(id: 7, content: "<S>", special: true, normalized: false),
            AddedToken(id: 8, content: "x", special: false, normalized: true),
        ]
        let splitter = try WordSplitter(file, addedTokens: tokens, path: "test")
        var words: [String] = []
        let bytes = Array("Ab <S>C X d".utf8)
        bytes.withUnsafeBufferPointer { buffer in
            splitter.forEachWord(buffer) { word in
                switch word {
                case .token(let id): words.append("#\(id)")
                case .text(let piece): words.append(String(decoding: piece.bytes, as: UTF8.self))
                }
            }
        }
        #expect(words == ["▁ab", "▁", "#7", "c", "▁", "#8", "▁d"])
    }
}
