// Decoders.swift — the decoders of Hugging Face `tokenizers` (`Sequence`, `ByteLevel`,
// `Replace`, `ByteFallback`, `Fuse`, `Strip`, `Metaspace`): they turn the token strings of a
// sequence of ids back into text. Each works on the list of token strings as the library's
// `decode_chain` does, and the final list is joined; with no decoder, tokens are joined with
// spaces.

import Foundation

/// A decoder of a `tokenizer.json`.
public indirect enum TokenDecoder: Sendable, Equatable {
    /// Each decoder in turn.
    case sequence([TokenDecoder])
    /// Byte-level characters back to bytes, all tokens joined into one UTF-8 string (invalid
    /// sequences become U+FFFD).
    case byteLevel
    /// Every occurrence of `pattern` in each token replaced by `content`.
    case replace(pattern: TextPattern, content: String)
    /// Runs of `<0xNN>` tokens turned into the text their bytes spell (one U+FFFD per byte when
    /// they are not valid UTF-8).
    case byteFallback
    /// All tokens joined into one.
    case fuse
    /// Up to `start` leading and `stop` trailing `content` scalars removed from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    /// `replacement` turned back into spaces; the first token loses it when the pre-tokenizer
    /// prepended one (`prependScheme` other than `never`).
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)

    /// The text of `tokens`.
    func decode(_ tokens: [String]) -> String {
        decodeChain(tokens).joined()
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let decoders):
            return decoders.reduce(tokens) { $1.decodeChain($0) }
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens { bytes.append(contentsOf: ByteLevel.decode(token) ?? Array(token.utf8)) }
            return [String(decoding: bytes, as: UTF8.self)]
        case .replace(let pattern, let content):
            switch pattern {
            case .string(let literal):
                if literal.isEmpty { return tokens }
                return tokens.map { $0.replacingOccurrences(of: literal, with: content, options: .literal) }
            case .regex(let source):
                // Checked when the file was read (TokenizerFile), so it compiles.
                guard let expression = try? NSRegularExpression(pattern: source) else { return tokens }
                let template = NSRegularExpression.escapedTemplate(for: content)
                return tokens.map {
                    expression.stringByReplacingMatches(in: $0, range: NSRange($0.startIndex..., in: $0), withTemplate: template)
                }
            }
        case .byteFallback:
            var result: [String] = []
            var pending: [UInt8] = []
            func flush() {
                if pending.isEmpty { return }
                if let text = String(validating: pending, as: UTF8.self) {
                    result.append(text)
                } else {
                    result.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for token in tokens {
                if let byte = Self.fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    result.append(token)
                }
            }
            flush()
            return result
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let characters = Array(token.unicodeScalars)
                var head = 0
                while head < start, head < characters.count, characters[head] == content { head += 1 }
                var tail = characters.count
                while characters.count - tail < stop, tail > head, characters[tail - 1] == content { tail -= 1 }
                return String(String.UnicodeScalarView(characters[head..<tail]))
            }
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { index, token in
                var text = String.UnicodeScalarView()
                for scalar in token.unicodeScalars {
                    if scalar != replacement {
                        text.append(scalar)
                    } else if index != 0 || scheme == .never {
                        text.append(" ")
                    }
                }
                return String(text)
            }
        }
    }

    /// The byte of a `<0xNN>` token, or nil.
    static func fallbackByte(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"),
              utf8[2] == UInt8(ascii: "x"), utf8[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }
}
