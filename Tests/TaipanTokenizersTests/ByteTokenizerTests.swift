import Testing
@testable import TaipanTokenizers

@Suite struct ByteTokenizerTests {
    @Test func encodesUTF8BytesAndRoundTrips() throws {
        let tokenizer = ByteTokenizer()
        #expect(tokenizer.encode("é!") == [0xC3, 0xA9, 0x21])
        #expect(try tokenizer.decode(tokenizer.encode("héllo wörld")) == "héllo wörld")
        #expect(throws: TokenizerError.self) { try tokenizer.decode([300]) }
    }
}
