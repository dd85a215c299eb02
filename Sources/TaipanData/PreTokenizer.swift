// PreTokenizer.swift — the `ByteLevel` pre-tokenizer of Hugging Face `tokenizers`: splits text
// into words with GPT-2's pattern
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (alternatives tried in order, leftmost first), after an optional prefix space. The pattern
// is run by a hand-written scanner over UTF-8 bytes: Swift's `Regex` gives the same words at
// under 1 MB/s.

/// The class of a Unicode scalar as GPT-2's pattern sees it.
enum CharacterClass: UInt8 {
    /// `\p{L}`: general categories Lu, Ll, Lt, Lm, Lo.
    case letter
    /// `\p{N}`: general categories Nd, Nl, No.
    case number
    /// `\s`: the White_Space property.
    case whitespace
    /// Everything else (punctuation, symbols, controls, marks, emoji).
    case other

    /// The newest Unicode version whose characters count: the `tokenizers` library (0.2x)
    /// knows Unicode 16.0, and a scalar assigned later is unassigned (`other`) to it.
    static let unicodeVersion = (major: 16, minor: 0)

    init(_ scalar: Unicode.Scalar) {
        let properties = scalar.properties
        guard let age = properties.age, (age.major, age.minor) <= CharacterClass.unicodeVersion else {
            self = .other
            return
        }
        if properties.isWhitespace { self = .whitespace; return }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        default:
            self = .other
        }
    }

    /// The class of every scalar of the Basic Multilingual Plane (65,536 entries), so the
    /// scanner asks Unicode's property tables only for the rare scalars above U+FFFF.
    static let basicPlane: [UInt8] = (0..<0x1_0000).map { value in
        Unicode.Scalar(UInt32(value)).map { CharacterClass($0).rawValue } ?? CharacterClass.other.rawValue
    }
}

/// Splits text into the words that byte-level BPE encodes one by one.
public struct ByteLevelPreTokenizer: Sendable {
    /// Whether a space is put in front of text that does not start with one (`add_prefix_space`).
    public var addPrefixSpace: Bool
    /// Whether text is split with GPT-2's pattern (`use_regex`); otherwise it stays one word.
    public var useRegex: Bool

    public init(addPrefixSpace: Bool = false, useRegex: Bool = true) {
        self.addPrefixSpace = addPrefixSpace
        self.useRegex = useRegex
        // Builds the class table here rather than inside the first encode that is timed.
        _ = CharacterClass.basicPlane.count
    }

    /// Calls `body` with the byte range of each word of `text` (valid UTF-8), in order.
    ///
    /// The prefix space is not added here: callers that need it put it in front of the bytes.
    public func forEachWord(in text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let count = text.count
        guard count > 0 else { return }
        guard useRegex else { body(0..<count); return }
        CharacterClass.basicPlane.withUnsafeBufferPointer { classes in
            let scanner = Scanner(bytes: text, classes: classes)
            var start = 0
            while start < count {
                let end = scanner.wordEnd(from: start)
                body(start..<end)
                start = end
            }
        }
    }

    /// The words of `text` as strings (for tests and tools; encoding uses `forEachWord`).
    public func words(_ text: String) -> [String] {
        var utf8 = Array(text.utf8)
        if addPrefixSpace, utf8.first != 0x20 { utf8.insert(0x20, at: 0) }
        var result: [String] = []
        utf8.withUnsafeBufferPointer { bytes in
            forEachWord(in: bytes) { range in
                result.append(String(decoding: bytes[range], as: UTF8.self))
            }
        }
        return result
    }
}

/// Decodes scalars and their classes from UTF-8 bytes and finds where each word ends.
private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let classes: UnsafeBufferPointer<UInt8>

    /// The class of the scalar starting at `index` and the index just after it.
    @inline(__always)
    func scalar(at index: Int) -> (CharacterClass, Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (Scanner.asciiClass(lead), index + 1) }
        var value: UInt32
        var length: Int
        if lead < 0xE0 {
            value = UInt32(lead & 0x1F); length = 2
        } else if lead < 0xF0 {
            value = UInt32(lead & 0x0F); length = 3
        } else {
            value = UInt32(lead & 0x07); length = 4
        }
        for offset in 1..<length { value = (value << 6) | UInt32(bytes[index + offset] & 0x3F) }
        if value < 0x1_0000 {
            return (CharacterClass(rawValue: classes[Int(value)]) ?? .other, index + length)
        }
        let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
        return (CharacterClass(scalar), index + length)
    }

    @inline(__always)
    static func asciiClass(_ byte: UInt8) -> CharacterClass {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A: return .letter
        case 0x30...0x39: return .number
        case 0x09...0x0D, 0x20: return .whitespace
        default: return .other
        }
    }

    /// The end of the run of scalars of class `kind` that starts at `index`.
    @inline(__always)
    func runEnd(of kind: CharacterClass, from index: Int) -> Int {
        var index = index
        while index < bytes.count {
            let (next, after) = scalar(at: index)
            if next != kind { break }
            index = after
        }
        return index
    }

    /// The length of the contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at `index`, or 0.
    @inline(__always)
    func contractionLength(at index: Int) -> Int {
        guard index + 1 < bytes.count else { return 0 }
        switch bytes[index + 1] {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return index + 2 < bytes.count && bytes[index + 2] == UInt8(ascii: "e") ? 3 : 0
        case UInt8(ascii: "l"):
            return index + 2 < bytes.count && bytes[index + 2] == UInt8(ascii: "l") ? 3 : 0
        default:
            return 0
        }
    }

    /// Where the word starting at `start` ends: the first alternative of the pattern that
    /// matches at `start`, taken as far as it goes.
    func wordEnd(from start: Int) -> Int {
        let lead = bytes[start]
        if lead == UInt8(ascii: "'") {
            let length = contractionLength(at: start)
            if length > 0 { return start + length }
        }
        let (kind, afterFirst) = scalar(at: start)
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: a space joins the run after it.
        if lead == 0x20, afterFirst < bytes.count {
            let (nextKind, afterNext) = scalar(at: afterFirst)
            if nextKind != .whitespace { return runEnd(of: nextKind, from: afterNext) }
        }
        if kind != .whitespace { return runEnd(of: kind, from: afterFirst) }
        // `\s+(?!\S)` keeps the last whitespace scalar of a run for the word after it; a run of
        // one scalar before a word is taken whole by `\s+`.
        var lastStart = start
        var index = afterFirst
        while index < bytes.count {
            let (next, after) = scalar(at: index)
            if next != .whitespace { break }
            lastStart = index
            index = after
        }
        if index == bytes.count || lastStart == start { return index }
        return lastStart
    }
}
