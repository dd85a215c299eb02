import Testing
@testable import TaipanTokenizers

@Suite struct ByteLevelTests {
    @Test func tableMatchesGPT2() {
        // GPT-2's bytes_to_unicode: printable bytes stand for themselves, byte 0 is Ā (U+0100),
        // the space (byte 32) is Ġ (U+0120), byte 127 is ġ (U+0121), byte 173 is Ń (U+0143).
        #expect(ByteLevel.characters[Int(UInt8(ascii: "a"))] == "a")
        #expect(ByteLevel.characters[0] == "\u{100}")
        #expect(ByteLevel.characters[32] == "\u{120}")
        #expect(ByteLevel.characters[127] == "\u{121}")
        #expect(ByteLevel.characters[173] == "\u{143}")
        #expect(Set(ByteLevel.characters).count == 256)
    }

    @Test func roundTripsEveryByte() {
        let bytes = (0..<256).map { UInt8($0) }
        #expect(ByteLevel.decode(ByteLevel.encode(bytes)) == bytes)
        #expect(ByteLevel.encode(Array(" hi".utf8)) == "Ġhi")
        #expect(ByteLevel.decode("a b") == nil)
    }
}
