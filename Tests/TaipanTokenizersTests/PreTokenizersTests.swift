import Testing
@testable import TaipanTokenizers

func pipeline(_ preTokenizer: PreTokenizer) throws -> PreTokenizerPipeline {
    try PreTokenizerPipeline(preTokenizer, key: "pre_tokenizer")
}

@Suite struct PreTokenizersTests {
    // Expected words from the `tokenizers` library's ByteLevel pre-tokenizer (decoded to text).
    @Test func splitsLikeGPT2Pattern() throws {
        let splitter = try pipeline(.byteLevel(addPrefixSpace: false, useRegex: true))
        #expect(splitter.words("Hello,  world's 123abc ?!x \n\n y")
            == ["Hello", ",", " ", " world", "'s", " 123", "abc", " ?!", "x", " \n\n", " y"])
        #expect(splitter.words("don't  're'S ve'll")
            == ["don", "'t", " ", " '", "re", "'", "S", " ve", "'ll"])
        #expect(splitter.words(" \t x\u{A0}\u{3000}y z  ")
            == [" \t", " x", "\u{A0}", "\u{3000}", "y", " z", "  "])
        #expect(splitter.words("日本語のテキスト 😀👍") == ["日本語のテキスト", " 😀👍"])
        #expect(splitter.words("") == [])
    }

    @Test func prefixSpaceAndNoRegex() throws {
        #expect(try pipeline(.byteLevel(addPrefixSpace: true, useRegex: true)).words("a b") == [" a", " b"])
        #expect(try pipeline(.byteLevel(addPrefixSpace: true, useRegex: true)).words(" a") == [" a"])
        #expect(try pipeline(.byteLevel(addPrefixSpace: false, useRegex: false)).words("a b, c") == ["a b, c"])
    }

    @Test func charactersNewerThanUnicode16AreUnassigned() throws {
        // U+16ECA (Unicode 17) is no letter to the `tokenizers` library: "!" joins it.
        #expect(try pipeline(.byteLevel(addPrefixSpace: false, useRegex: true)).words("!\u{16ECA}x") == ["!\u{16ECA}", "x"])
        // U+10D50 (Unicode 16.0, Garay) is a letter.
        #expect(try pipeline(.byteLevel(addPrefixSpace: false, useRegex: true)).words("!\u{10D50}x") == ["!", "\u{10D50}x"])
    }

    @Test func splitBehaviorsAsTheLibraryDescribesThem() throws {
        // The examples of `tokenizers`' SplitDelimiterBehavior, splitting "the-final--countdown" on "-".
        func words(_ behavior: SplitBehavior, invert: Bool = false) throws -> [String] {
            try pipeline(.split(pattern: .string("-"), behavior: behavior, invert: invert)).words("the-final--countdown")
        }
        #expect(try words(.removed) == ["the", "final", "countdown"])
        #expect(try words(.isolated) == ["the", "-", "final", "-", "-", "countdown"])
        #expect(try words(.mergedWithPrevious) == ["the-", "final-", "-", "countdown"])
        #expect(try words(.mergedWithNext) == ["the", "-final", "-", "-countdown"])
        #expect(try words(.contiguous) == ["the", "-", "final", "--", "countdown"])
        #expect(try words(.removed, invert: true) == ["-", "-", "-"])
    }

    @Test func metaspaceAndCharacterClasses() throws {
        let metaspace = try pipeline(.metaspace(replacement: "▁", prependScheme: .always, split: true))
        #expect(metaspace.words("Hey  friend") == ["▁Hey", "▁", "▁friend"])
        #expect(try pipeline(.metaspace(replacement: "▁", prependScheme: .never, split: false)).words("a b") == ["a▁b"])
        #expect(try pipeline(.digits(individual: false)).words("a123b٣4") == ["a", "123", "b", "٣4"])
        #expect(try pipeline(.digits(individual: true)).words("12") == ["1", "2"])
        #expect(try pipeline(.punctuation(.contiguous)).words("hi!?¿x$") == ["hi", "!?¿", "x", "$"])
        #expect(try pipeline(.whitespaceSplit).words(" a\u{3000}b\n") == ["a", "b"])
    }

    @Test func preTokenizersAfterByteLevelSeeByteLevelCharacters() throws {
        // "²" is C2 B2: its byte-level characters are "Â" and "²", and "²" is a number.
        let falcon = try pipeline(.sequence([.byteLevel(addPrefixSpace: false, useRegex: false), .digits(individual: false)]))
        var words: [[UInt8]] = []
        let bytes = Array("x²".utf8)
        bytes.withUnsafeBufferPointer { buffer in
            falcon.forEachWord(TextPiece(bytes: buffer, byteLevel: false, first: true)) { words.append(Array($0.bytes)) }
        }
        #expect(words == [[0x78, 0xC2], [0xB2]])
    }

    @Test func metaspaceAfterByteLevelIsRefused() {
        #expect(throws: ComponentError.self) {
            try pipeline(.sequence([.byteLevel(addPrefixSpace: false, useRegex: false), .metaspace(replacement: "▁", prependScheme: .always, split: true)]))
        }
    }
}
