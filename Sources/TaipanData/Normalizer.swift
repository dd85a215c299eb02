// Normalizer.swift — Unicode normalization form C (canonical composition, UAX #15), the `NFC`
// normalizer of Hugging Face `tokenizers`. Foundation composes; this file keeps it away from
// text that is already in NFC (nearly all text) and adds the Hangul LV + T composition that
// Foundation misses. Known difference: `tokenizers` normalises with Unicode 9.0 data, so a
// combining mark assigned later (U+11A34, say) is not reordered there but is here.

import Foundation

/// Unicode normalization form C over UTF-8 bytes.
enum NFC {
    /// The NFC form of `text`, or `nil` when `text` is already in NFC.
    ///
    /// Scalars below U+0300 are all unchanged by NFC and never combine with what precedes
    /// them, and an ASCII scalar never combines with what precedes it. So the text is cut
    /// before each ASCII byte, and only the pieces holding a scalar from U+0300 up (a UTF-8
    /// lead byte of 0xCC or more) go through Foundation.
    static func normalize(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard text.contains(where: { $0 >= 0xCC }) else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count + 16)
        var copiedUpTo = 0
        var start = 0
        while start < text.count {
            var end = start + 1
            var needsComposition = text[start] >= 0xCC
            while end < text.count, text[end] >= 0x80 {
                if text[end] >= 0xCC { needsComposition = true }
                end += 1
            }
            if needsComposition {
                output.append(contentsOf: text[copiedUpTo..<start])
                let piece = String(decoding: text[start..<end], as: UTF8.self)
                let composed = composeHangulTrailingConsonants(piece.precomposedStringWithCanonicalMapping)
                output.append(contentsOf: composed.utf8)
                copiedUpTo = end
            }
            start = end
        }
        output.append(contentsOf: text[copiedUpTo..<text.count])
        return output
    }

    /// Joins an LV syllable and a trailing consonant jamo into an LVT syllable (the Hangul
    /// composition of UAX #15), which Foundation's NFC leaves undone.
    static func composeHangulTrailingConsonants(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard scalars.contains(where: { (0x11A8...0x11C2).contains($0.value) }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in scalars {
            if (0x11A8...0x11C2).contains(scalar.value), let last = result.last,
               (0xAC00...0xD7A3).contains(last.value), (last.value - 0xAC00) % 28 == 0,
               let syllable = Unicode.Scalar(last.value + scalar.value - 0x11A7) {
                result.removeLast()
                result.append(syllable)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// The NFC form of a string.
    static func normalize(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            normalize(bytes).map { String(decoding: $0, as: UTF8.self) }
        } ?? text
    }
}
