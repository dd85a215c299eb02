import Testing
@testable import TaipanData

@Suite struct JSONFieldExtractorTests {
    let extractor = JSONFieldExtractor(paths: ["text", "meta.pile_set_name"])

    func extract(_ line: String) throws -> [JSONField] {
        try extract(Array(line.utf8))
    }

    func extract(_ bytes: [UInt8]) throws -> [JSONField] {
        try bytes.withUnsafeBufferPointer { try extractor.extract($0) }
    }

    @Test func extractsTextAndNestedSource() throws {
        let line = #"{"meta": {"other": [1, 2.5e-3, {"x": null}], "pile_set_name": "Pile-CC"}, "text": "a\nb \"q\" \u00e9\ud83d\ude00\/"}"#
        #expect(try extract(line) == [.string("a\nb \"q\" é😀/"), .string("Pile-CC")])
    }

    @Test func reportsMissingAndNonStringValues() throws {
        #expect(try extract(#"{"meta": {}}"#) == [.missing, .missing])
        #expect(try extract(#"{"text": 12, "meta": {"pile_set_name": ["x"]}}"#) == [.notString, .notString])
        #expect(try extract(#"{"text": null, "meta": "flat"}"#) == [.notString, .missing])
        #expect(try extract(#" { "text" : "" } "#) == [.string(""), .missing])
    }

    @Test func rejectsInvalidJSON() {
        let bad = [
            #"{"text": "unterminated}"#, #"{"text": "x",}"#, #"{"text": "x"} trailing"#, #"["text"]"#,
            #"{"text": tru}"#, #"{"text": 01}"#, #"{"text": 1.}"#, #"{"text": "\x"}"#, #"{"text": "\ud800"}"#,
            #"{"text": "\udc00x"}"#, "{\"text\": \"tab\there\"}", #"{text: "x"}"#, "{",
        ]
        for line in bad {
            #expect(throws: JSONScanError.self, "\(line)") { _ = try extract(line) }
        }
    }

    @Test func rejectsInvalidUTF8AsSuch() {
        for bytes: [UInt8] in [[0xFF], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]] {
            let line = Array(#"{"text": "a"#.utf8) + bytes + Array(#"b"}"#.utf8)
            #expect {
                _ = try extract(line)
            } throws: { error in
                (error as? JSONScanError)?.kind == .invalidUTF8
            }
        }
    }

    @Test func utf8ValidationAcceptsEveryScalarRange() {
        let text = "a é € 😀 \u{10FFFF} \u{FFFD}"
        #expect(Array(text.utf8).withUnsafeBufferPointer { isValidUTF8($0) })
        #expect(![UInt8]([0xE0, 0x80, 0x80]).withUnsafeBufferPointer { isValidUTF8($0) })
    }
}
