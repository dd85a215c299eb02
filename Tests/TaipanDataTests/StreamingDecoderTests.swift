import TaipanTokenizers
import Testing
@testable import TaipanData

@Suite struct StreamingDecoderTests {
    @Test func multiByteCharactersSplitAcrossIdsComeOutWhole() throws {
        var stream = StreamingDecoder(tokenizer: ByteTokenizer())
        // "a" then "é" (C3 A9) and "€" (E2 82 AC), one byte an id.
        #expect(try stream.append([97]) == "a")
        #expect(try stream.append([0xC3]) == "")
        #expect(try stream.append([0xA9, 0xE2]) == "é")
        #expect(try stream.append([0x82]) == "")
        #expect(try stream.append([0xAC, 98]) == "€b")
        #expect(try stream.finish() == "")
        #expect(stream.ids == [97, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 98])
    }

    @Test func anUnfinishedCharacterIsFlushedAtTheEndAndInvalidBytesPassOnceFollowed() throws {
        var stream = StreamingDecoder(tokenizer: ByteTokenizer())
        #expect(try stream.append([0xFF]) == "")
        #expect(try stream.append([120]) == "\u{FFFD}x")
        #expect(try stream.append([0xF0, 0x9F]) == "")
        #expect(try stream.finish() == "\u{FFFD}")
        #expect(throws: TokenizerError.self) { _ = try stream.append([300]) }
    }
}
