import Testing
@testable import TaipanTokenizers

@Suite struct NormalizersTests {
    func normalize(_ normalizer: Normalizer, _ text: String) throws -> String {
        try NormalizerPipeline(normalizer, key: "normalizer").normalize(text)
    }

    @Test func eachNormalizer() throws {
        #expect(try normalize(.nfc, "cafe\u{301}") == "café")
        #expect(try normalize(.nfkc, "ﬁ ² Ａ\u{A0}x") == "fi 2 A x")
        #expect(try normalize(.lowercase, "ÉCOLE İ Σ") == "école i\u{307} σ")
        #expect(try normalize(.strip(left: true, right: false), " \t a \n") == "a \n")
        #expect(try normalize(.strip(left: true, right: true), "\u{3000}a b ") == "a b")
        #expect(try normalize(.prepend("▁"), "a") == "▁a")
        #expect(try normalize(.prepend("▁"), "") == "")
        #expect(try normalize(.replace(pattern: .string("aa"), content: "b"), "aaaxaa") == "baxb")
        #expect(try normalize(.replace(pattern: .regex(#"\s+"#), content: " "), "a \t\n b") == "a b")
        #expect(try normalize(.sequence([.prepend("▁"), .replace(pattern: .string(" "), content: "▁")]), "a b") == "▁a▁b")
    }

    @Test func unchangedTextIsNotCopied() throws {
        let pipeline = try NormalizerPipeline(.sequence([.nfc, .nfkc, .lowercase]), key: "normalizer")
        let bytes = Array("already plain".utf8)
        #expect(bytes.withUnsafeBufferPointer { pipeline.normalize($0) } == nil)
    }

    @Test func aBadRegexNamesItsKey() {
        #expect(throws: ComponentError.self) {
            try NormalizerPipeline(.sequence([.nfc, .replace(pattern: .regex("("), content: "")]), key: "normalizer")
        }
    }
}
