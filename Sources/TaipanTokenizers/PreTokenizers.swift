// PreTokenizers.swift — the pre-tokenizers of Hugging Face `tokenizers` (`Sequence`, `Split`,
// `Punctuation`, `Digits`, `WhitespaceSplit`, `Metaspace`, `ByteLevel`): they cut normalised
// text into the words that the BPE model encodes one by one. A split finds matches of a pattern
// (a regex, a string, or a class of characters), and its `behavior` decides what becomes of
// them: removed, isolated, merged with the previous or next piece, or merged with their
// contiguous neighbours. `ByteLevel` turns its words into byte-level text (one character per
// byte, `ByteLevel.characters`); pre-tokenizers after it in a sequence see those characters.

/// What a split does with the pieces its pattern matches (`behavior`).
public enum SplitBehavior: String, Sendable, Equatable, CaseIterable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// A pattern of `Split`, `Replace`: a literal string, or a regular expression.
public enum TextPattern: Sendable, Equatable {
    case string(String)
    case regex(String)
}

/// When `Metaspace` puts its replacement character in front of a word (`prepend_scheme`).
public enum PrependScheme: String, Sendable, Equatable {
    /// In front of every piece of text that does not start with it.
    case always
    /// Only in front of the text's first piece (not after an added token).
    case first
    /// Never.
    case never
}

/// A pre-tokenizer of a `tokenizer.json`.
public indirect enum PreTokenizer: Sendable, Equatable {
    /// Each pre-tokenizer in turn, on the pieces of the one before.
    case sequence([PreTokenizer])
    /// Matches of `pattern` (or, with `invert`, the text between them) handled by `behavior`.
    case split(pattern: TextPattern, behavior: SplitBehavior, invert: Bool)
    /// Each punctuation character (ASCII punctuation or `\p{P}`) handled by `behavior`.
    case punctuation(SplitBehavior)
    /// Numbers (`\p{N}`) isolated one by one (`individual`) or as runs.
    case digits(individual: Bool)
    /// Whitespace removed, the words between kept.
    case whitespaceSplit
    /// Spaces replaced by `replacement` (`▁`), which is put in front of pieces by
    /// `prependScheme`; with `split`, the text is cut before each replacement character.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    /// GPT-2's byte-level words: a space put in front (`addPrefixSpace`), GPT-2's pattern
    /// (`useRegex`), then every byte written as its byte-level character.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)

    /// Whether words come out as byte-level text.
    var producesByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let steps): return steps.contains { $0.producesByteLevel }
        default: return false
        }
    }
}

/// A piece of text on its way through the pre-tokenizers.
struct TextPiece {
    /// UTF-8 text, or byte-level text (one byte per character) when `byteLevel`.
    var bytes: UnsafeBufferPointer<UInt8>
    var byteLevel: Bool
    /// Whether the piece starts where the input text starts (`Metaspace`'s `first` scheme).
    var first: Bool
}

/// The pre-tokenizers of a tokenizer, ready to run.
final class PreTokenizerPipeline: @unchecked Sendable {
    /// What a split looks for.
    enum Matcher {
        case known(KnownPattern)
        case general(GeneralPattern)
        /// A literal string: its UTF-8 bytes, and its bytes as byte-level text (nil when a
        /// character of it is no byte-level character, so it never matches there).
        case literal(utf8: [UInt8], byteLevel: [UInt8]?)
        case punctuation
        /// Scalars of one `ScalarClass` group (numbers, whitespace).
        case group(UInt8)
        case scalar(UInt32)
    }

    enum Stage {
        case split(Matcher, SplitBehavior, invert: Bool)
        case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    }

    private let stages: [Stage]
    /// The patterns that run through NSRegularExpression (for the caller's warning).
    let generalPatterns: [String]

    /// Compiles `preTokenizer`; `key` names it in errors (a regex that does not compile, a
    /// pre-tokenizer that cannot follow `ByteLevel`).
    init(_ preTokenizer: PreTokenizer?, key: String) throws(ComponentError) {
        var stages: [Stage] = []
        var general: [String] = []
        var byteLevelSeen = false
        func add(_ step: PreTokenizer, key: String) throws(ComponentError) {
            switch step {
            case .sequence(let steps):
                for (index, inner) in steps.enumerated() { try add(inner, key: "\(key).pretokenizers[\(index)]") }
                return
            case .split(let pattern, let behavior, let invert):
                switch pattern {
                case .string(let literal):
                    let byteLevel = ByteLevel.decode(literal)
                    stages.append(.split(.literal(utf8: Array(literal.utf8), byteLevel: byteLevel), behavior, invert: invert))
                case .regex(let source):
                    if let known = KnownPattern(source) {
                        stages.append(.split(.known(known), behavior, invert: invert))
                    } else {
                        do {
                            stages.append(.split(.general(try GeneralPattern(source)), behavior, invert: invert))
                        } catch {
                            throw ComponentError(key: key + ".pattern.Regex", reason: "is not a regular expression ICU accepts (\(error))")
                        }
                        general.append(source)
                    }
                }
            case .punctuation(let behavior):
                stages.append(.split(.punctuation, behavior, invert: false))
            case .digits(let individual):
                stages.append(.split(.group(ScalarClass.number), individual ? .isolated : .contiguous, invert: false))
            case .whitespaceSplit:
                stages.append(.split(.group(ScalarClass.whitespace), .removed, invert: false))
            case .metaspace(let replacement, let scheme, let split):
                if byteLevelSeen { throw ComponentError(key: key, reason: "Metaspace after ByteLevel is not supported") }
                stages.append(.metaspace(replacement: replacement, prependScheme: scheme, split: split))
            case .byteLevel(let addPrefixSpace, let useRegex):
                if byteLevelSeen { throw ComponentError(key: key, reason: "a second ByteLevel is not supported") }
                byteLevelSeen = true
                stages.append(.byteLevel(addPrefixSpace: addPrefixSpace, useRegex: useRegex))
            }
        }
        if let preTokenizer { try add(preTokenizer, key: key) }
        self.stages = stages
        generalPatterns = general
        // Builds the class table here rather than inside the first encode that is timed.
        _ = ScalarClass.basicPlane.count
    }

    /// Calls `body` with each word of `piece`, in order.
    func forEachWord(_ piece: TextPiece, _ body: (TextPiece) -> Void) {
        run(piece, stage: 0, body)
    }

    private func run(_ piece: TextPiece, stage: Int, _ body: (TextPiece) -> Void) {
        if piece.bytes.isEmpty { return }
        if stage == stages.count {
            body(piece)
            return
        }
        switch stages[stage] {
        case .split(let matcher, let behavior, let invert):
            split(piece, matcher, behavior, invert: invert) { run($0, stage: stage + 1, body) }
        case .metaspace(let replacement, let scheme, let split):
            metaspace(piece, replacement, scheme, split: split) { run($0, stage: stage + 1, body) }
        case .byteLevel(let addPrefixSpace, let useRegex):
            if addPrefixSpace, piece.bytes[0] != 0x20 {
                let spaced = [0x20] + Array(piece.bytes)
                spaced.withUnsafeBufferPointer { bytes in
                    byteLevel(TextPiece(bytes: bytes, byteLevel: false, first: piece.first), useRegex: useRegex) {
                        run($0, stage: stage + 1, body)
                    }
                }
            } else {
                byteLevel(piece, useRegex: useRegex) { run($0, stage: stage + 1, body) }
            }
        }
    }

    private func byteLevel(_ piece: TextPiece, useRegex: Bool, _ body: (TextPiece) -> Void) {
        guard useRegex else {
            body(TextPiece(bytes: piece.bytes, byteLevel: true, first: piece.first))
            return
        }
        split(piece, .known(.gpt2), .isolated, invert: false) { word in
            body(TextPiece(bytes: word.bytes, byteLevel: true, first: word.first))
        }
    }

    private func metaspace(
        _ piece: TextPiece, _ replacement: Unicode.Scalar, _ scheme: PrependScheme, split: Bool,
        _ body: (TextPiece) -> Void
    ) {
        let mark = Array(String(replacement).utf8)
        let text = piece.bytes
        let startsWithMark = text.count >= mark.count && zip(text, mark).allSatisfy { $0 == $1 }
        // The space at the front becomes the mark too, so it counts as one already there.
        let prepends = switch scheme {
        case .always: !startsWithMark && text[0] != 0x20
        case .first: piece.first && !startsWithMark && text[0] != 0x20
        case .never: false
        }
        var replaced: [UInt8] = []
        replaced.reserveCapacity(text.count + mark.count * 4)
        if prepends { replaced.append(contentsOf: mark) }
        for byte in text {
            if byte == 0x20 { replaced.append(contentsOf: mark) } else { replaced.append(byte) }
        }
        replaced.withUnsafeBufferPointer { bytes in
            let whole = TextPiece(bytes: bytes, byteLevel: false, first: piece.first)
            if split {
                self.split(whole, .scalar(replacement.value), .mergedWithNext, invert: false, body)
            } else {
                body(whole)
            }
        }
    }

    /// Cuts `piece` at the matches of `matcher` and hands on the pieces `behavior` keeps.
    private func split(
        _ piece: TextPiece, _ matcher: Matcher, _ behavior: SplitBehavior, invert: Bool,
        _ body: (TextPiece) -> Void
    ) {
        let bytes = piece.bytes
        var combiner = SegmentCombiner(behavior: behavior, invert: invert)
        func emit(_ range: Range<Int>) {
            body(TextPiece(
                bytes: UnsafeBufferPointer(rebasing: bytes[range]), byteLevel: piece.byteLevel,
                first: piece.first && range.lowerBound == 0))
        }
        ScalarReader.with(bytes, byteLevel: piece.byteLevel) { reader in
            forEachSegment(reader, matcher) { range, isMatch in combiner.add(range, isMatch: isMatch, emit) }
        }
        combiner.finish(emit)
    }

    /// Calls `body` with the matches of `matcher` in `reader`'s text and the gaps between them,
    /// in order, covering the whole text.
    private func forEachSegment(_ reader: ScalarReader, _ matcher: Matcher, _ body: (Range<Int>, Bool) -> Void) {
        let count = reader.count
        var gapStart = 0
        func match(_ range: Range<Int>) {
            if gapStart < range.lowerBound { body(gapStart..<range.lowerBound, false) }
            body(range, true)
            gapStart = range.upperBound
        }
        if case .general(let pattern) = matcher {
            pattern.forEachMatch(reader, match)
        } else {
            var index = 0
            while index < count {
                if let end = matchEnd(reader, matcher, at: index), end > index {
                    match(index..<end)
                    index = end
                } else {
                    index = reader.read(index).next
                }
            }
        }
        if gapStart < count { body(gapStart..<count, false) }
    }

    @inline(__always)
    private func matchEnd(_ reader: ScalarReader, _ matcher: Matcher, at index: Int) -> Int? {
        switch matcher {
        case .known(let pattern):
            return pattern.matchEnd(reader, at: index)
        case .literal(let utf8, let byteLevel):
            guard let literal = reader.byteLevel ? byteLevel : utf8, !literal.isEmpty,
                  index + literal.count <= reader.count else { return nil }
            for offset in 0..<literal.count where reader.bytes[index + offset] != literal[offset] { return nil }
            return index + literal.count
        case .punctuation:
            let (_, flags, next) = reader.read(index)
            return flags & ScalarClass.punctuation != 0 ? next : nil
        case .group(let group):
            let (_, flags, next) = reader.read(index)
            return flags & ScalarClass.groupMask == group ? next : nil
        case .scalar(let value):
            let (scalar, _, next) = reader.read(index)
            return scalar == value ? next : nil
        case .general:
            return nil
        }
    }

    /// The words of `text` as strings, for tests and tools (byte-level words are given as the
    /// text they stand for).
    func words(_ text: String) -> [String] {
        var result: [String] = []
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { buffer in
            forEachWord(TextPiece(bytes: buffer, byteLevel: false, first: true)) { word in
                result.append(String(decoding: word.bytes, as: UTF8.self))
            }
        }
        return result
    }
}

/// A pre-tokenizer that cannot run: the key that holds it and why.
struct ComponentError: Error {
    let key: String
    let reason: String
}

/// Turns the matches and gaps of a split, as they come, into the pieces its behavior keeps,
/// as `tokenizers`' `NormalizedString::split` does.
struct SegmentCombiner {
    let behavior: SplitBehavior
    let invert: Bool
    /// A piece that the next segment may still extend.
    private var pending: Range<Int>?
    private var pendingIsMatch = false
    private var previousIsMatch = false

    init(behavior: SplitBehavior, invert: Bool) {
        self.behavior = behavior
        self.invert = invert
    }

    @inline(__always)
    mutating func add(_ range: Range<Int>, isMatch found: Bool, _ emit: (Range<Int>) -> Void) {
        let isMatch = found != invert
        switch behavior {
        case .removed:
            if !isMatch { emit(range) }
        case .isolated:
            emit(range)
        case .contiguous:
            extendOrStart(range, extending: pendingIsMatch == isMatch, emit)
            pendingIsMatch = isMatch
        case .mergedWithPrevious:
            extendOrStart(range, extending: isMatch && !previousIsMatch, emit)
            previousIsMatch = isMatch
        case .mergedWithNext:
            if let start = pending?.lowerBound, !isMatch {
                // A match joins the piece after it when that piece is no match.
                emit(start..<range.upperBound)
                pending = nil
            } else {
                if let pending { emit(pending) }
                if isMatch { pending = range } else { emit(range); pending = nil }
            }
        }
    }

    /// Extends the pending piece over `range` when there is one and `extending`; otherwise
    /// hands the pending piece on and starts a new one at `range`.
    @inline(__always)
    private mutating func extendOrStart(_ range: Range<Int>, extending: Bool, _ emit: (Range<Int>) -> Void) {
        if extending, let start = pending?.lowerBound {
            pending = start..<range.upperBound
        } else {
            if let pending { emit(pending) }
            pending = range
        }
    }

    mutating func finish(_ emit: (Range<Int>) -> Void) {
        if let pending { emit(pending) }
        pending = nil
    }
}
