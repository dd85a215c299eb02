import Testing
@testable import TaipanTokenizers

@Suite struct DecodersTests {
    @Test func byteFallbackTurnsByteRunsIntoText() {
        #expect(TokenDecoder.byteFallback.decodeChain(["a", "<0xE2>", "<0x98>", "<0x83>", "b"]) == ["a", "☃", "b"])
        // Not UTF-8: one U+FFFD per byte.
        #expect(TokenDecoder.byteFallback.decodeChain(["<0xE2>", "<0x98>"]) == ["\u{FFFD}", "\u{FFFD}"])
        #expect(TokenDecoder.byteFallback.decodeChain(["<0x41", "<0xZZ>"]) == ["<0x41", "<0xZZ>"])
    }

    @Test func sentencePieceChain() {
        let chain = TokenDecoder.sequence([
            .replace(pattern: .string("▁"), content: " "), .byteFallback, .fuse, .strip(content: " ", start: 1, stop: 0),
        ])
        #expect(chain.decode(["▁Hello", "▁wor", "ld", "<0x21>"]) == "Hello world!")
        #expect(chain.decode([]) == "")
    }

    @Test func stripAndMetaspace() {
        #expect(TokenDecoder.strip(content: "x", start: 2, stop: 1).decodeChain(["xxxaxx", "x"]) == ["xax", ""])
        #expect(TokenDecoder.metaspace(replacement: "▁", prependScheme: .always).decodeChain(["▁a▁b", "▁c"]) == ["ab", " c"])
        #expect(TokenDecoder.metaspace(replacement: "▁", prependScheme: .never).decodeChain(["▁a"]) == [" a"])
    }

    @Test func byteLevelJoinsBytes() {
        #expect(TokenDecoder.byteLevel.decode(["Hello", "Ġw", "Ã©"]) == "Hello wé")
    }
}
