import Foundation
import Testing

@Suite struct TokenizeTests {
    /// `taipan tokenize` adds the post-processor's special tokens as Hugging Face's
    /// `encode(text)` does (Llama-2's `<s>`), or not with --no-add-special-tokens; --decode
    /// gives the special tokens' text back unless --skip-special-tokens. The expectations are
    /// the library's (Tests/Fixtures/tokenizers/llama2/expected.json).
    @Test func specialTokensAreAddedAndSkippedOnRequest() throws {
        let shape = fixturesDirectory + "/tokenizers/llama2"
        let data = try Data(contentsOf: URL(fileURLWithPath: shape + "/expected.json"))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let entry = try #require(cases.first { $0["text"] as? String == "Hello, world!" })
        func ids(_ key: String) throws -> String {
            try #require(entry[key] as? [Int]).map(String.init).joined(separator: " ")
        }
        let directory = try TemporaryDirectory()
        try "Hello, world!".write(toFile: directory.file("text.txt"), atomically: true, encoding: .utf8)
        let tokenizer = shape + "/tokenizer.json"
        let withSpecial = try ids("idsWithSpecialTokens"), without = try ids("ids")
        let added = try runTaipan(["tokenize", "--tokenizer", tokenizer, directory.file("text.txt")])
        #expect(added.status == 0 && added.output == withSpecial + "\n", "\(added.error)")
        let plain = try runTaipan(["tokenize", "--tokenizer", tokenizer, "--no-add-special-tokens", directory.file("text.txt")])
        #expect(plain.status == 0 && plain.output == without + "\n", "\(plain.error)")

        try withSpecial.write(toFile: directory.file("ids.txt"), atomically: true, encoding: .utf8)
        let decoded = try runTaipan(["tokenize", "--tokenizer", tokenizer, "--decode", directory.file("ids.txt")])
        #expect(decoded.status == 0 && decoded.output == entry["decodedWithSpecialTokens"] as? String)
        let skipped = try runTaipan(["tokenize", "--tokenizer", tokenizer, "--decode", "--skip-special-tokens", directory.file("ids.txt")])
        #expect(skipped.status == 0 && skipped.output == entry["decodedSkippingSpecialTokens"] as? String)
    }
}
