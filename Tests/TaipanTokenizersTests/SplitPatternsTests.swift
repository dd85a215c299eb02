import Foundation
import Testing
import TaipanTokenizersTestSupport
@testable import TaipanTokenizers

@Suite struct SplitPatternsTests {
    static let patterns: [(String, KnownPattern)] = [
        (#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, .gpt2),
        (#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
         .cl100k(maximumDigits: 3)),
        (#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
         .cl100k(maximumDigits: 1)),
        ([
            #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
            #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
            #"\p{N}{1,3}"#, #" ?[^\s\p{L}\p{N}]+[\r\n/]*"#, #"\s*[\r\n]+"#, #"\s+(?!\S)"#, #"\s+"#,
        ].joined(separator: "|"), .o200k),
        ("[0-9][0-9][0-9]", .threeDigits),
    ]

    @Test func releasedPatternsAreRecognised() {
        for (source, pattern) in Self.patterns { #expect(KnownPattern(source) == pattern, "\(source)") }
        #expect(KnownPattern(#"\p{L}+"#) == nil)
    }

    /// Each scanner finds what ICU's regex engine finds (on text without U+000B and U+0085,
    /// which ICU's `\s` leaves out and Oniguruma's takes in).
    @Test func scannersAgreeWithTheGeneralMatcher() throws {
        var texts = try ShapeFixtures.cases("cl100k").map(\.text).filter { !$0.contains("\u{85}") }
        texts.append("AbcDEF gHIjk ÀÉÎõü ǅǈ x\u{301}y \u{301}\u{301}Ab 'S'll 1/2/3 ///\n\n/ \r\r\n 's")
        for (source, known) in Self.patterns {
            let general = try GeneralPattern(source)
            for text in texts {
                let bytes = Array(text.utf8)
                var fromScanner: [Range<Int>] = []
                var fromRegex: [Range<Int>] = []
                bytes.withUnsafeBufferPointer { buffer in
                    ScalarReader.with(buffer, byteLevel: false) { reader in
                        var index = 0
                        while index < reader.count {
                            if let end = known.matchEnd(reader, at: index) {
                                fromScanner.append(index..<end)
                                index = end
                            } else {
                                index = reader.read(index).next
                            }
                        }
                        general.forEachMatch(reader) { fromRegex.append($0) }
                    }
                }
                #expect(fromScanner == fromRegex, "\(known) on \(text.debugDescription)")
            }
        }
    }
}
