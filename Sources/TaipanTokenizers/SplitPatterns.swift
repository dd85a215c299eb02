// SplitPatterns.swift — the regular expressions that released tokenizers split text with, run
// by hand-written scanners over Unicode scalars: GPT-2's (the `ByteLevel` pre-tokenizer's own),
// cl100k's (also Llama-3's and OLMo-2's), Qwen-2's (cl100k with single digits), o200k's and
// Falcon's three-digit split. Each scanner gives, at a position, the end of the match that the
// Oniguruma engine of Hugging Face `tokenizers` would find there (alternatives tried in order,
// greedy quantifiers backtracking). Any other pattern runs through NSRegularExpression (ICU),
// which is correct but slow. Swift's `Regex` gives the same matches at under 1 MB/s.

import Foundation

/// The classes of Unicode scalars that the split patterns and character pre-tokenizers ask
/// about, packed in one byte: a general-category group in the low bits, flags above.
enum ScalarClass {
    /// `\p{Lu}` or `\p{Lt}`.
    static let upper: UInt8 = 1
    /// `\p{Ll}`.
    static let lower: UInt8 = 2
    /// `\p{Lm}` or `\p{Lo}`.
    static let otherLetter: UInt8 = 3
    /// `\p{M}`.
    static let mark: UInt8 = 4
    /// `\p{N}` (Rust's `char::is_numeric`).
    static let number: UInt8 = 5
    /// `\s` (the White_Space property, Rust's `char::is_whitespace`).
    static let whitespace: UInt8 = 6
    /// Anything else.
    static let other: UInt8 = 0
    /// Mask of the group above.
    static let groupMask: UInt8 = 7
    /// Flag: punctuation as the `Punctuation` pre-tokenizer sees it (ASCII punctuation or
    /// `\p{P}`).
    static let punctuation: UInt8 = 8

    /// The newest Unicode version whose characters count: the `tokenizers` library (0.2x)
    /// knows Unicode 16.0, and a scalar assigned later is unassigned (`other`) to it.
    static let unicodeVersion = (major: 16, minor: 0)

    /// The class byte of `scalar`.
    static func of(_ scalar: Unicode.Scalar) -> UInt8 {
        let properties = scalar.properties
        guard let age = properties.age, (age.major, age.minor) <= unicodeVersion else { return other }
        var flags: UInt8 = 0
        if scalar.isASCII, (0x21...0x7E).contains(scalar.value),
           !(scalar.properties.isAlphabetic || (0x30...0x39).contains(scalar.value)) {
            flags = punctuation
        }
        if properties.isWhitespace { return whitespace | flags }
        switch properties.generalCategory {
        case .uppercaseLetter, .titlecaseLetter: return upper | flags
        case .lowercaseLetter: return lower | flags
        case .modifierLetter, .otherLetter: return otherLetter | flags
        case .nonspacingMark, .spacingMark, .enclosingMark: return mark | flags
        case .decimalNumber, .letterNumber, .otherNumber: return number | flags
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return other | punctuation
        default: return other | flags
        }
    }

    /// The class of every scalar of the Basic Multilingual Plane (65,536 entries), so the
    /// scanners ask Unicode's property tables only for the rare scalars above U+FFFF.
    static let basicPlane: [UInt8] = (0..<0x1_0000).map { value in
        Unicode.Scalar(UInt32(value)).map { of($0) } ?? other
    }

    /// The class of each byte-level character (`ByteLevel.characters`), by byte: what the
    /// pre-tokenizers that follow `ByteLevel` in a sequence see.
    static let byteLevel: [UInt8] = ByteLevel.characters.map { of($0) }

    @inline(__always) static func isLetter(_ flags: UInt8) -> Bool {
        let group = flags & groupMask
        return group >= upper && group <= otherLetter
    }
}

/// Reads the scalars of a word and their classes: UTF-8 text, or byte-level text where each
/// byte is one character of `ByteLevel.characters`.
struct ScalarReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let byteLevel: Bool
    let classes: UnsafeBufferPointer<UInt8>

    /// Calls `body` with a reader of `bytes` (valid UTF-8 unless `byteLevel`).
    @inline(__always)
    static func with<Result>(
        _ bytes: UnsafeBufferPointer<UInt8>, byteLevel: Bool, _ body: (ScalarReader) -> Result
    ) -> Result {
        (byteLevel ? ScalarClass.byteLevel : ScalarClass.basicPlane).withUnsafeBufferPointer { classes in
            body(ScalarReader(bytes: bytes, byteLevel: byteLevel, classes: classes))
        }
    }

    var count: Int { bytes.count }

    /// The scalar at `index`, its class byte, and the index after it.
    @inline(__always)
    func read(_ index: Int) -> (scalar: UInt32, flags: UInt8, next: Int) {
        let lead = bytes[index]
        if byteLevel { return (ByteLevel.characters[Int(lead)].value, classes[Int(lead)], index + 1) }
        if lead < 0x80 { return (UInt32(lead), classes[Int(lead)], index + 1) }
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
        if value < 0x1_0000 { return (value, classes[Int(value)], index + length) }
        return (value, ScalarClass.of(Unicode.Scalar(value) ?? "\u{FFFD}"), index + length)
    }

    /// The index after the run of scalars that satisfy `accept`, starting at `index`.
    @inline(__always)
    func runEnd(from index: Int, _ accept: (UInt32, UInt8) -> Bool) -> Int {
        var index = index
        while index < count {
            let (scalar, flags, next) = read(index)
            if !accept(scalar, flags) { break }
            index = next
        }
        return index
    }
}

/// A split pattern that a scanner runs.
enum KnownPattern: Sendable, Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (cl100k, Llama-3, OLMo-2), or with `\p{N}` for `\p{N}{1,3}` (Qwen-2): `maximumDigits`.
    case cl100k(maximumDigits: Int)
    /// o200k: cased letter runs with an optional contraction, `\p{N}{1,3}`, punctuation runs
    /// followed by `[\r\n/]*`, and cl100k's whitespace rules.
    case o200k
    /// `[0-9][0-9][0-9]` (Falcon).
    case threeDigits

    /// The pattern spelled as released tokenizer.json files spell it, or nil.
    init?(_ pattern: String) {
        let contractions = #"'s|'t|'re|'ve|'m|'ll|'d"#
        let cl100kTail = #"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let upper = #"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"#
        let lower = #"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"#
        let prefix = #"[^\r\n\p{L}\p{N}]?"#
        switch pattern {
        case contractions + #"| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#:
            self = .gpt2
        case "(?i:\(contractions))|" + prefix + #"\p{L}+|\p{N}{1,3}"# + cl100kTail:
            self = .cl100k(maximumDigits: 3)
        case "(?i:\(contractions))|" + prefix + #"\p{L}+|\p{N}"# + cl100kTail:
            self = .cl100k(maximumDigits: 1)
        case prefix + upper + "*" + lower + "+(?i:\(contractions))?|" + prefix + upper + "+" + lower
            + "*(?i:\(contractions))?|" + #"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            self = .o200k
        case "[0-9][0-9][0-9]", #"\d\d\d"#, "[0-9]{3}":
            self = .threeDigits
        default:
            return nil
        }
    }

    /// The end of the match starting at `start`, or nil when none starts there.
    @inline(__always)
    func matchEnd(_ reader: ScalarReader, at start: Int) -> Int? {
        switch self {
        case .gpt2: return Self.gpt2(reader, start)
        case .cl100k(let digits): return Self.cl100k(reader, start, maximumDigits: digits)
        case .o200k: return Self.o200k(reader, start)
        case .threeDigits:
            guard start + 3 <= reader.count else { return nil }
            for index in start..<(start + 3) where !(0x30...0x39).contains(reader.bytes[index]) { return nil }
            return start + 3
        }
    }

    private static let apostrophe = UInt32(UInt8(ascii: "'"))
    private static let space: UInt32 = 0x20

    @inline(__always) private static func isNewline(_ scalar: UInt32) -> Bool { scalar == 0x0A || scalar == 0x0D }
    @inline(__always) private static func group(_ flags: UInt8) -> UInt8 { flags & ScalarClass.groupMask }
    /// `[^\s\p{L}\p{N}]`.
    @inline(__always) private static func isOther(_ flags: UInt8) -> Bool {
        let group = group(flags)
        return group == ScalarClass.other || group == ScalarClass.mark
    }

    /// The end of `'s|'t|'re|'ve|'m|'ll|'d` at `index` (an apostrophe), case-insensitively
    /// when `ignoringCase` (where `ſ` folds to `s`), or nil.
    @inline(__always)
    private static func contractionEnd(_ reader: ScalarReader, _ index: Int, ignoringCase: Bool) -> Int? {
        guard index < reader.count, reader.bytes[index] == UInt8(ascii: "'") else { return nil }
        let afterApostrophe = index + 1
        guard afterApostrophe < reader.count else { return nil }
        func letter(_ at: Int) -> (UInt32, Int)? {
            guard at < reader.count else { return nil }
            let (scalar, _, next) = reader.read(at)
            if !ignoringCase { return (scalar, next) }
            if scalar == 0x17F { return (UInt32(UInt8(ascii: "s")), next) }
            if (0x41...0x5A).contains(scalar) { return (scalar + 0x20, next) }
            return (scalar, next)
        }
        guard let (first, afterFirst) = letter(afterApostrophe) else { return nil }
        switch first {
        case UInt32(UInt8(ascii: "s")), UInt32(UInt8(ascii: "t")), UInt32(UInt8(ascii: "m")), UInt32(UInt8(ascii: "d")):
            return afterFirst
        case UInt32(UInt8(ascii: "r")), UInt32(UInt8(ascii: "v")):
            guard let (second, afterSecond) = letter(afterFirst), second == UInt32(UInt8(ascii: "e")) else { return nil }
            return afterSecond
        case UInt32(UInt8(ascii: "l")):
            guard let (second, afterSecond) = letter(afterFirst), second == UInt32(UInt8(ascii: "l")) else { return nil }
            return afterSecond
        default:
            return nil
        }
    }

    /// The whitespace alternatives shared by cl100k and o200k at `start` (a whitespace scalar):
    /// `\s*[\r\n]+|\s+(?!\S)|\s+`.
    @inline(__always)
    private static func whitespaceEnd(_ reader: ScalarReader, _ start: Int, newlines: Bool) -> Int {
        var index = start
        var lastStart = start
        var afterLastNewline = -1
        while index < reader.count {
            let (scalar, flags, next) = reader.read(index)
            if group(flags) != ScalarClass.whitespace { break }
            if newlines, isNewline(scalar) { afterLastNewline = next }
            lastStart = index
            index = next
        }
        // `\s*[\r\n]+` backtracks to the last newline of the run.
        if afterLastNewline >= 0 { return afterLastNewline }
        // `\s+(?!\S)` leaves the last whitespace scalar for the word after it.
        if index == reader.count || lastStart == start { return index }
        return lastStart
    }

    private static func gpt2(_ reader: ScalarReader, _ start: Int) -> Int {
        if let end = contractionEnd(reader, start, ignoringCase: false) { return end }
        let (scalar, flags, afterFirst) = reader.read(start)
        var kindStart = start
        var kind = flags
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: a space joins the run after it.
        if scalar == space, afterFirst < reader.count {
            let (_, nextFlags, _) = reader.read(afterFirst)
            if group(nextFlags) != ScalarClass.whitespace {
                kindStart = afterFirst
                kind = nextFlags
            }
        }
        if kindStart != start || group(kind) != ScalarClass.whitespace {
            let (_, _, afterKind) = reader.read(kindStart)
            if ScalarClass.isLetter(kind) {
                return reader.runEnd(from: afterKind) { ScalarClass.isLetter($1) }
            }
            if group(kind) == ScalarClass.number {
                return reader.runEnd(from: afterKind) { group($1) == ScalarClass.number }
            }
            return reader.runEnd(from: afterKind) { isOther($1) }
        }
        return whitespaceEnd(reader, start, newlines: false)
    }

    private static func cl100k(_ reader: ScalarReader, _ start: Int, maximumDigits: Int) -> Int {
        if let end = contractionEnd(reader, start, ignoringCase: true) { return end }
        let (scalar, flags, afterFirst) = reader.read(start)
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if ScalarClass.isLetter(flags) { return reader.runEnd(from: afterFirst) { ScalarClass.isLetter($1) } }
        if !isNewline(scalar), group(flags) != ScalarClass.number, afterFirst < reader.count {
            let (_, nextFlags, afterNext) = reader.read(afterFirst)
            if ScalarClass.isLetter(nextFlags) { return reader.runEnd(from: afterNext) { ScalarClass.isLetter($1) } }
        }
        // `\p{N}{1,3}`
        if group(flags) == ScalarClass.number { return numberEnd(reader, afterFirst, maximumDigits: maximumDigits) }
        if let end = punctuationEnd(reader, start, scalar, flags, afterFirst, slash: false) { return end }
        return whitespaceEnd(reader, start, newlines: true)
    }

    /// `\p{N}{1,maximumDigits}` after its first number, which ends at `afterFirst`.
    @inline(__always)
    private static func numberEnd(_ reader: ScalarReader, _ afterFirst: Int, maximumDigits: Int) -> Int {
        var end = afterFirst
        var digits = 1
        while digits < maximumDigits, end < reader.count {
            let (_, nextFlags, next) = reader.read(end)
            if group(nextFlags) != ScalarClass.number { break }
            end = next
            digits += 1
        }
        return end
    }

    /// ` ?[^\s\p{L}\p{N}]+[\r\n]*` (with `slash`, `[\r\n/]*`) at `start`, or nil.
    @inline(__always)
    private static func punctuationEnd(
        _ reader: ScalarReader, _ start: Int, _ scalar: UInt32, _ flags: UInt8, _ afterFirst: Int, slash: Bool
    ) -> Int? {
        var runStart = start
        if scalar == space, afterFirst < reader.count, isOther(reader.read(afterFirst).flags) {
            runStart = afterFirst
        } else if !isOther(flags) {
            return nil
        }
        let end = reader.runEnd(from: runStart) { isOther($1) }
        return reader.runEnd(from: end) { scalar, _ in isNewline(scalar) || (slash && scalar == 0x2F) }
    }

    /// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`
    @inline(__always) private static func isUpperSide(_ flags: UInt8) -> Bool {
        let group = group(flags)
        return group == ScalarClass.upper || group == ScalarClass.otherLetter || group == ScalarClass.mark
    }

    /// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`
    @inline(__always) private static func isLowerSide(_ flags: UInt8) -> Bool {
        let group = group(flags)
        return group == ScalarClass.lower || group == ScalarClass.otherLetter || group == ScalarClass.mark
    }

    /// `[UPPER]*[LOWER]+` at `start` (greedy, backtracking into the upper run), or nil.
    private static func casedWordEnd(_ reader: ScalarReader, _ start: Int) -> Int? {
        var index = start
        var lastBothStart = -1  // the last scalar of the upper run that is also on the lower side
        var lastBothEnd = -1
        while index < reader.count {
            let (_, flags, next) = reader.read(index)
            if !isUpperSide(flags) { break }
            if isLowerSide(flags) {
                lastBothStart = index
                lastBothEnd = next
            }
            index = next
        }
        if index < reader.count, isLowerSide(reader.read(index).flags) {
            return reader.runEnd(from: index) { isLowerSide($1) }
        }
        // Backtracking gives the lower run the last scalar of the upper run that it accepts;
        // the scalars after that one are upper-only, so the lower run ends with it.
        return lastBothStart >= 0 ? lastBothEnd : nil
    }

    /// `[UPPER]+[LOWER]*` at `start`, or nil.
    private static func capitalisedWordEnd(_ reader: ScalarReader, _ start: Int) -> Int? {
        guard isUpperSide(reader.read(start).flags) else { return nil }
        let end = reader.runEnd(from: start) { isUpperSide($1) }
        return reader.runEnd(from: end) { isLowerSide($1) }
    }

    private static func o200k(_ reader: ScalarReader, _ start: Int) -> Int {
        let (scalar, flags, afterFirst) = reader.read(start)
        // `[^\r\n\p{L}\p{N}]?` may be taken, then given back, by each word alternative.
        let takesPrefix = !isNewline(scalar) && !ScalarClass.isLetter(flags) && group(flags) != ScalarClass.number
            && afterFirst < reader.count
        func word(_ end: (ScalarReader, Int) -> Int?) -> Int? {
            (takesPrefix ? end(reader, afterFirst) : nil) ?? end(reader, start)
        }
        if let end = word(casedWordEnd) ?? word(capitalisedWordEnd) {
            return contractionEnd(reader, end, ignoringCase: true) ?? end
        }
        if group(flags) == ScalarClass.number { return numberEnd(reader, afterFirst, maximumDigits: 3) }
        if let end = punctuationEnd(reader, start, scalar, flags, afterFirst, slash: true) { return end }
        return whitespaceEnd(reader, start, newlines: true)
    }
}

/// Any other split pattern, run by NSRegularExpression (ICU). ICU and Oniguruma agree on the
/// constructs tokenizers use (`\p{…}`, lookahead, `(?i:…)`), but this is far slower than the
/// scanners.
final class GeneralPattern: @unchecked Sendable {
    let source: String
    private let expression: NSRegularExpression

    init(_ source: String) throws {
        self.source = source
        expression = try NSRegularExpression(pattern: source)
    }

    /// Calls `body` with the byte range of each non-empty match in `reader`'s text, in order.
    func forEachMatch(_ reader: ScalarReader, _ body: (Range<Int>) -> Void) {
        // The text as a String, and the byte offset of each UTF-16 offset.
        var text = String.UnicodeScalarView()
        var byteOffsets: [Int] = []
        byteOffsets.reserveCapacity(reader.count + 1)
        var index = 0
        while index < reader.count {
            let (value, _, next) = reader.read(index)
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            text.append(scalar)
            for _ in 0..<UTF16.width(scalar) { byteOffsets.append(index) }
            index = next
        }
        byteOffsets.append(reader.count)
        let string = String(text)
        let whole = NSRange(location: 0, length: byteOffsets.count - 1)
        for match in expression.matches(in: string, range: whole) where match.range.length > 0 {
            body(byteOffsets[match.range.location]..<byteOffsets[match.range.location + match.range.length])
        }
    }
}
