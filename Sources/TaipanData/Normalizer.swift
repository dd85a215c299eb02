// Normalizer.swift — Unicode normalization form C (canonical composition, UAX #15), the `NFC`
// normalizer of Hugging Face `tokenizers`. Foundation composes; this file only keeps it away
// from text that is already in NFC, which is nearly all text.

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
                output.append(contentsOf: piece.precomposedStringWithCanonicalMapping.utf8)
                copiedUpTo = end
            }
            start = end
        }
        output.append(contentsOf: text[copiedUpTo..<text.count])
        return output
    }

    /// The NFC form of a string.
    static func normalize(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            normalize(bytes).map { String(decoding: $0, as: UTF8.self) }
        } ?? text
    }
}
