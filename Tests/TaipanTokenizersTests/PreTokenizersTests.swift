import Testing
@testable import TaipanTokenizers

@Suite struct PreTokenizerTests {
    // Expected words from the `tokenizers` library's ByteLevel pre-tokenizer (decoded to text).
    @Test func splitsLikeGPT2Pattern() {
        let splitter = ByteLevelPreTokenizer()
        #expect(splitter.words("Hello,  world's 123abc ?!x \n\n y")
            == ["Hello", ",", " ", " world", "'s", " 123", "abc", " ?!", "x", " \n\n", " y"])
        #expect(splitter.words("don't  're'S ve'll")
            == ["don", "'t", " ", " '", "re", "'", "S", " ve", "'ll"])
        #expect(splitter.words(" \t x\u{A0}\u{3000}y z  ")
            == [" \t", " x", "\u{A0}", "\u{3000}", "y", " z", "  "])
        #expect(splitter.words("日本語のテキスト 😀👍") == ["日本語のテキスト", " 😀👍"])
        #expect(splitter.words("") == [])
    }

    @Test func prefixSpaceAndNoRegex() {
        #expect(ByteLevelPreTokenizer(addPrefixSpace: true).words("a b") == [" a", " b"])
        #expect(ByteLevelPreTokenizer(addPrefixSpace: true).words(" a") == [" a"])
        #expect(ByteLevelPreTokenizer(useRegex: false).words("a b, c") == ["a b, c"])
    }

    @Test func charactersNewerThanUnicode16AreUnassigned() {
        // U+16ECA (Unicode 17) is no letter to the `tokenizers` library: "!" joins it.
        #expect(ByteLevelPreTokenizer().words("!\u{16ECA}x") == ["!\u{16ECA}", "x"])
        // U+10D50 (Unicode 16.0, Garay) is a letter.
        #expect(ByteLevelPreTokenizer().words("!\u{10D50}x") == ["!", "\u{10D50}x"])
    }
}
