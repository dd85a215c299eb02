// Normalizers.swift — the normalizers of Hugging Face `tokenizers` (`Sequence`, `NFC`, `NFKC`,
// `Lowercase`, `Strip`, `Prepend`, `Replace`), run on UTF-8 bytes before pre-tokenisation.
// Unicode normalization forms C and KC (UAX #15) come from Foundation, kept away from text
// that they leave unchanged (nearly all text). Foundation's composition skips a precomposed
// character followed by a mark it combines with (U+0CCA U+0CD5, a Hangul LV syllable and a
// trailing consonant), so text is decomposed first. Known difference: `tokenizers` normalises with Unicode 9.0 data, so a
// combining mark assigned later (U+11A34, say) is not reordered there but is here.

import Foundation

/// A normalizer of a `tokenizer.json`.
public indirect enum Normalizer: Sendable, Equatable {
    /// Each normalizer in turn.
    case sequence([Normalizer])
    /// Unicode normalization form C.
    case nfc
    /// Unicode normalization form KC (compatibility characters replaced, then composed).
    case nfkc
    /// Every character's full lowercase mapping (`İ` → `i̇`), without context.
    case lowercase
    /// Whitespace removed from the start (`left`) and the end (`right`).
    case strip(left: Bool, right: Bool)
    /// `prefix` put in front of non-empty text.
    case prepend(String)
    /// Every match of `pattern` replaced by `content`.
    case replace(pattern: TextPattern, content: String)
}

/// The normalizers of a tokenizer, ready to run.
final class NormalizerPipeline: @unchecked Sendable {
    private enum Step {
        case nfc, nfkc, lowercase
        case strip(left: Bool, right: Bool)
        case prepend([UInt8])
        case replaceString([UInt8], by: [UInt8])
        case replaceRegex(NSRegularExpression, template: String)
    }

    private let steps: [Step]

    var isEmpty: Bool { steps.isEmpty }

    /// Compiles `normalizer`; `key` names it in errors (a regex that does not compile).
    init(_ normalizer: Normalizer?, key: String) throws(ComponentError) {
        var steps: [Step] = []
        func add(_ step: Normalizer, key: String) throws(ComponentError) {
            switch step {
            case .sequence(let inner):
                for (index, normalizer) in inner.enumerated() { try add(normalizer, key: "\(key).normalizers[\(index)]") }
            case .nfc: steps.append(.nfc)
            case .nfkc: steps.append(.nfkc)
            case .lowercase: steps.append(.lowercase)
            case .strip(let left, let right): steps.append(.strip(left: left, right: right))
            case .prepend(let prefix): steps.append(.prepend(Array(prefix.utf8)))
            case .replace(.string(let pattern), let content):
                if !pattern.isEmpty { steps.append(.replaceString(Array(pattern.utf8), by: Array(content.utf8))) }
            case .replace(.regex(let pattern), let content):
                do {
                    let expression = try NSRegularExpression(pattern: pattern)
                    steps.append(.replaceRegex(expression, template: NSRegularExpression.escapedTemplate(for: content)))
                } catch {
                    throw ComponentError(key: key + ".pattern.Regex", reason: "is not a regular expression ICU accepts (\(error))")
                }
            }
        }
        if let normalizer { try add(normalizer, key: key) }
        self.steps = steps
    }

    /// The normalised form of `text`, or nil when the normalizers leave it unchanged.
    func normalize(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var current: [UInt8]? = nil
        for step in steps {
            let changed: [UInt8]?
            if let owned = current {
                changed = owned.withUnsafeBufferPointer { apply(step, $0) }
            } else {
                changed = apply(step, text)
            }
            if let changed { current = changed }
        }
        return current
    }

    /// The normalised form of a string (added tokens' contents, tests).
    func normalize(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in normalize(bytes).map { String(decoding: $0, as: UTF8.self) } } ?? text
    }

    private func apply(_ step: Step, _ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        switch step {
        case .nfc:
            return NFC.normalize(text)
        case .nfkc:
            guard text.contains(where: { $0 >= 0x80 }) else { return nil }
            let composed = String(decoding: text, as: UTF8.self)
                .decomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
            let bytes = Array(composed.utf8)
            return bytes.elementsEqual(text) ? nil : bytes
        case .lowercase:
            guard text.contains(where: { $0 >= 0x80 || (0x41...0x5A).contains($0) }) else { return nil }
            var output: [UInt8] = []
            output.reserveCapacity(text.count)
            for scalar in String(decoding: text, as: UTF8.self).unicodeScalars {
                if scalar.isASCII {
                    let byte = UInt8(scalar.value)
                    output.append((0x41...0x5A).contains(byte) ? byte + 0x20 : byte)
                } else {
                    output.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                }
            }
            return output
        case .strip(let left, let right):
            let scalars = String(decoding: text, as: UTF8.self).unicodeScalars
            var start = scalars.startIndex, end = scalars.endIndex
            if left { while start < end, scalars[start].properties.isWhitespace { start = scalars.index(after: start) } }
            if right {
                while end > start, scalars[scalars.index(before: end)].properties.isWhitespace { end = scalars.index(before: end) }
            }
            if start == scalars.startIndex, end == scalars.endIndex { return nil }
            return Array(String(scalars[start..<end]).utf8)
        case .prepend(let prefix):
            return text.isEmpty ? nil : prefix + Array(text)
        case .replaceString(let pattern, let content):
            return replace(pattern, by: content, in: text)
        case .replaceRegex(let expression, let template):
            let string = String(decoding: text, as: UTF8.self)
            let whole = NSRange(string.startIndex..., in: string)
            guard expression.firstMatch(in: string, range: whole) != nil else { return nil }
            return Array(expression.stringByReplacingMatches(in: string, range: whole, withTemplate: template).utf8)
        }
    }

    /// `text` with every occurrence of `pattern`, left to right, replaced by `content`, or nil
    /// when there is none.
    private func replace(_ pattern: [UInt8], by content: [UInt8], in text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var output: [UInt8] = []
        var copiedUpTo = 0
        var index = 0
        let first = pattern[0]
        while index + pattern.count <= text.count {
            if text[index] == first, (1..<pattern.count).allSatisfy({ text[index + $0] == pattern[$0] }) {
                if output.isEmpty { output.reserveCapacity(text.count + 16) }
                output.append(contentsOf: text[copiedUpTo..<index])
                output.append(contentsOf: content)
                index += pattern.count
                copiedUpTo = index
            } else {
                index += 1
            }
        }
        if copiedUpTo == 0 { return nil }
        output.append(contentsOf: text[copiedUpTo..<text.count])
        return output
    }
}

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
                let composed = piece.decomposedStringWithCanonicalMapping.precomposedStringWithCanonicalMapping
                output.append(contentsOf: composed.utf8)
                copiedUpTo = end
            }
            start = end
        }
        output.append(contentsOf: text[copiedUpTo..<text.count])
        return output
    }
}
