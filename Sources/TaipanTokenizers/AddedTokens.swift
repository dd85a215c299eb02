// AddedTokens.swift — the `added_tokens` of a Hugging Face `tokenizer.json` (special tokens such
// as `<|endoftext|>`, GPT-NeoX's runs of spaces) and the matcher that cuts them out of text
// before pre-tokenisation: leftmost-longest matches, with the `single_word`, `lstrip` and
// `rstrip` rules of the `tokenizers` library's AddedVocabulary.

/// A token matched verbatim in text before the text is split into words.
public struct AddedToken: Sendable, Equatable {
    /// The token's id.
    public var id: Int32
    /// The text the token stands for.
    public var content: String
    /// Whether the token is special (`<|endoftext|>`): special tokens are listed by
    /// `Tokenizer.specialTokens`.
    public var special: Bool
    /// Whether the token is matched in normalised text (`true`) or in the raw text (`false`).
    public var normalized: Bool
    /// Whether whitespace on the token's left belongs to the token (`lstrip`).
    public var leftStrip: Bool
    /// Whether whitespace on the token's right belongs to the token (`rstrip`).
    public var rightStrip: Bool
    /// Whether the token matches only when no letter or digit touches it (`single_word`).
    public var singleWord: Bool

    public init(
        id: Int32, content: String, special: Bool, normalized: Bool? = nil,
        leftStrip: Bool = false, rightStrip: Bool = false, singleWord: Bool = false
    ) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized ?? !special
        self.leftStrip = leftStrip
        self.rightStrip = rightStrip
        self.singleWord = singleWord
    }
}

/// A piece of text after the added tokens are cut out.
enum AddedTokenPiece {
    /// Text to normalise and pre-tokenise: a byte range of the input.
    case text(Range<Int>)
    /// An added token's id.
    case token(Int32)
}

/// Finds added tokens in UTF-8 text.
struct AddedTokenMatcher: Sendable {
    /// The tokens' UTF-8 bytes, with the token each belongs to.
    private let patterns: [(bytes: [UInt8], token: AddedToken)]
    /// For each first byte, the patterns starting with it, longest first.
    private let patternsByFirstByte: [[Int]]

    /// A matcher for `tokens`, whose contents are given as `contents` (normalised where the
    /// tokens are matched in normalised text).
    init(tokens: [AddedToken], contents: [String]) {
        var patterns: [(bytes: [UInt8], token: AddedToken)] = []
        for (token, content) in zip(tokens, contents) where !content.isEmpty {
            patterns.append((Array(content.utf8), token))
        }
        var byFirstByte = [[Int]](repeating: [], count: 256)
        for (index, pattern) in patterns.enumerated() { byFirstByte[Int(pattern.bytes[0])].append(index) }
        for byte in 0..<256 {
            byFirstByte[byte].sort { patterns[$0].bytes.count > patterns[$1].bytes.count }
        }
        self.patterns = patterns
        self.patternsByFirstByte = byFirstByte
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// Calls `body` with the pieces of `text` in order: the text between tokens and the tokens.
    func split(_ text: UnsafeBufferPointer<UInt8>, _ body: (AddedTokenPiece) -> Void) {
        let count = text.count
        var pieceStart = 0
        var index = 0
        while index < count {
            guard let match = longestMatch(in: text, at: index) else { index += 1; continue }
            var start = index
            var stop = index + patterns[match].bytes.count
            let token = patterns[match].token
            // Like a regex scan, a match that is then rejected still consumes its bytes.
            index = stop
            if token.singleWord {
                let alone = (start == 0 || !Self.isWordCharacter(Self.scalar(before: start, in: text)))
                    && (stop == count || !Self.isWordCharacter(Self.scalar(at: stop, in: text)))
                if !alone { continue }
            }
            if token.leftStrip {
                while start > pieceStart {
                    let previous = Self.scalarStart(before: start, in: text)
                    if !Self.scalar(at: previous, in: text).properties.isWhitespace { break }
                    start = previous
                }
            }
            if token.rightStrip {
                while stop < count {
                    let scalar = Self.scalar(at: stop, in: text)
                    if !scalar.properties.isWhitespace { break }
                    stop += UTF8.width(scalar)
                }
                index = stop
            }
            if start > pieceStart { body(.text(pieceStart..<start)) }
            body(.token(token.id))
            pieceStart = stop
        }
        if pieceStart < count { body(.text(pieceStart..<count)) }
    }

    /// The longest pattern that matches `text` at `index`.
    @inline(__always)
    private func longestMatch(in text: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        let candidates = patternsByFirstByte[Int(text[index])]
        if candidates.isEmpty { return nil }
        for candidate in candidates {
            let bytes = patterns[candidate].bytes
            if index + bytes.count > text.count { continue }
            var matches = true
            for offset in 1..<bytes.count where text[index + offset] != bytes[offset] {
                matches = false
                break
            }
            if matches { return candidate }
        }
        return nil
    }

    /// A word character as the Rust regex `\w` has it: Alphabetic, a mark, a decimal digit,
    /// a connector punctuation (`_`) or a joiner.
    private static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .decimalNumber, .nonspacingMark, .spacingMark, .enclosingMark, .connectorPunctuation: return true
        default: return false
        }
    }

    private static func scalarStart(before index: Int, in text: UnsafeBufferPointer<UInt8>) -> Int {
        var start = index - 1
        while start > 0, text[start] & 0xC0 == 0x80 { start -= 1 }
        return start
    }

    private static func scalar(before index: Int, in text: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar {
        scalar(at: scalarStart(before: index, in: text), in: text)
    }

    private static func scalar(at index: Int, in text: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar {
        var iterator = text[index...].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
        return "\u{FFFD}"
    }
}
