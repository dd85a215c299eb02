import Foundation
import Testing
@testable import TaipanTokenizers

@Suite struct BPETrainerTests {
    /// "hug hug hug pug pun" → words hug, Ġhug ×2, Ġpug, Ġpun. Worked by hand:
    /// pair counts u·g 4, h·u 3, Ġ·h 2, Ġ·p 2, p·u 2, u·n 1
    ///  1. u g   (4) → ug;   h·ug 3, p·ug 1, p·u 1
    ///  2. h ug  (3) → hug;  Ġ·hug 2
    ///  3. Ġ p   (2, ties with Ġ·hug; p's id is smaller) → Ġp;  Ġp·ug 1, Ġp·u 1
    ///  4. Ġ hug (2) → Ġhug
    ///  5. u n   (1, the smallest ids among the pairs seen once) → un
    /// Ids: <|endoftext|> 0; bytes 33…126 → 1…94, 161…172 → 95…106, 174…255 → 107…188,
    /// 0…32 → 189…221 (space 221), 127…160 → 222…255, 173 → 256; merges from 257.
    @Test func tinyCorpusMergesAsWorkedByHand() throws {
        var trainer = BPETrainer(vocabularySize: 262)
        trainer.add(["hug hug hug pug pun"])
        let file = trainer.train()
        #expect(file.merges == [
            .init("u", "g"), .init("h", "ug"), .init("Ġ", "p"), .init("Ġ", "hug"), .init("u", "n"),
        ])
        #expect(file.vocabulary.count == 262)
        #expect(file.vocabulary["<|endoftext|>"] == 0)
        #expect(file.vocabulary["!"] == 1)
        #expect(file.vocabulary["u"] == 85)
        #expect(file.vocabulary["Ġ"] == 221)
        #expect(file.vocabulary["Ā"] == 189)
        #expect(file.vocabulary["ug"] == 257)
        #expect(file.vocabulary["un"] == 261)
        #expect(file.addedTokens == [AddedToken(id: 0, content: "<|endoftext|>", special: true, normalized: false)])

        let tokenizer = try BPETokenizer(file)
        // "hug" → [hug]; " pun" → Ġ p u n → [Ġp] [un] (Ġp·un is no merge).
        #expect(tokenizer.encode("hug pun") == [258, 259, 261])
        #expect(tokenizer.encode("hug<|endoftext|>") == [258, 0])
    }

    @Test func minimumFrequencyStopsMerging() {
        var trainer = BPETrainer(vocabularySize: 1000, minimumFrequency: 3)
        trainer.add(["hug hug hug pug pun"])
        #expect(trainer.train().merges == [.init("u", "g"), .init("h", "ug")])
    }

    @Test func wordsAreCountedAfterSpecialTokensNFCAndPreTokenisation() {
        var trainer = BPETrainer(vocabularySize: 300)
        trainer.add(["e\u{301}<|endoftext|>a b", "a"], threads: 2)
        #expect(trainer.wordCounts == [[0xC3, 0xA9]: 1, [0x61]: 2, [0x20, 0x62]: 1])
    }

    @Test func trainedTokenizerRoundTripsThroughTheLoader() throws {
        let text = """
        The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away!
        Numbers 12345 and 3.14159, naïve café, 日本語のテキスト, emoji 😀 and tabs\tand  spaces.
        """
        var trainer = BPETrainer(vocabularySize: 330)
        trainer.add(text.split(separator: "\n").map { String($0) + "\n" })
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("taipan-bpe-trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tokenizer.json").path
        try trainer.train().write(to: path)

        let tokenizer = try BPETokenizer(contentsOf: path)
        #expect(tokenizer.vocabularySize == 330)
        #expect(tokenizer.endOfText == 0)
        for sample in [text, "unseen wörds ∑ 🇯🇵", "<|endoftext|>the fox<|endoftext|>", ""] {
            let ids = tokenizer.encode(sample)
            #expect(try tokenizer.decode(ids) == sample)
        }
        // Frequent words became single tokens.
        #expect(tokenizer.encode(" the").count == 1)
        #expect(tokenizer.encode(text).count < text.utf8.count / 2)
    }

    @Test func sentencePieceKindWritesByteFallbackTokensAndItsComponents() throws {
        var trainer = BPETrainer(vocabularySize: 300, specialTokens: ["<s>", "</s>"], kind: .sentencePiece, alphabetLimit: 10)
        trainer.add(["hug hug hug pug pun", "a b"])
        // Words are cut before each ▁ (put in front and in place of spaces).
        #expect(trainer.wordCounts[Array("▁hug".utf8)] == 3)
        let file = trainer.train()
        #expect(file.addedTokens.map(\.content) == ["<unk>", "<s>", "</s>"])
        #expect(file.vocabulary["<0x00>"] == 3)
        #expect(file.vocabulary["<0xFF>"] == 258)
        #expect(file.byteFallback && file.unknownToken == "<unk>")
        let tokenizer = try BPETokenizer(file)
        #expect(tokenizer.endOfText == 2)
        for sample in ["hug pun", "unseen wörds ∑ 🇯🇵", "  two  spaces "] {
            #expect(try tokenizer.decode(tokenizer.encode(sample)) == sample)
        }
        // As in Llama-2, text after a special token starts a new piece, with its own ▁.
        #expect(try tokenizer.decode(tokenizer.encode("<s>the fox</s>")) == "<s> the fox</s>")
        // "é" is outside the ten-character alphabet: its two bytes stand in for it.
        let byteTokens: [Int32] = [3 + 0xC3, 3 + 0xA9]
        #expect(Array(tokenizer.encode("é").suffix(2)) == byteTokens)
    }
}
