// BPETrainer.swift — trains a BPE (Sennrich et al. 2016) and writes it as a Hugging Face
// `tokenizer.json`: byte-level, with GPT-2's byte alphabet, or SentencePiece-style (Llama-2's
// shape: `▁` for spaces, characters as the alphabet, `<0x00>`…`<0xFF>` byte fallback). For
// byte-level BPE it follows the `BpeTrainer` of the `tokenizers` library step for step, so the
// same words give the same merges: special tokens take the first ids, the 256 byte characters
// the next ones (in code-point order), and each merge joins the most frequent pair of
// neighbouring tokens (the smallest pair of ids among equals). Pair counts are updated
// incrementally from the words a merge touches, never recounted; a max-heap with lazy
// re-insertion finds the most frequent pair. Words are counted through the same splitter the
// trained tokenizer encodes with (WordSplitter.swift).

import Dispatch

/// Counts words in texts and learns BPE merges from them.
public struct BPETrainer: Sendable {
    /// The shape of the tokenizer to train.
    public enum Kind: String, Sendable, CaseIterable {
        /// GPT-2's byte-level BPE: the `ByteLevel` pre-tokenizer and decoder.
        case byteLevel = "byte-level"
        /// SentencePiece-style BPE with byte fallback: the `Prepend("▁")` and `Replace(" ", "▁")`
        /// normalizers, words cut before each `▁` (`Metaspace`, prepend scheme never), the
        /// characters seen as the alphabet, `<0x00>`…`<0xFF>` for the others, and the decoders
        /// `Replace`, `ByteFallback`, `Fuse`, `Strip`.
        case sentencePiece = "sentencepiece-bpe"
    }

    /// The vocabulary size to reach: special tokens, the alphabet (and byte tokens), and the
    /// merged tokens.
    public var vocabularySize: Int
    /// Pairs seen fewer times than this are never merged (`min_frequency`).
    public var minimumFrequency: Int
    /// Special tokens, given the first ids in this order and never split (`<|endoftext|>`).
    public var specialTokens: [String]
    /// Whether texts are put in Unicode normalization form C (written as the NFC normalizer).
    public var normalizesNFC: Bool
    /// The pre-tokenizer's `add_prefix_space` (byte-level only).
    public var addPrefixSpace: Bool
    public var kind: Kind
    /// SentencePiece-style only: the most frequent characters kept as the alphabet; the others
    /// are left to byte fallback.
    public var alphabetLimit: Int

    /// How often each word (its UTF-8 bytes, after pre-tokenisation) was seen.
    public private(set) var wordCounts: [[UInt8]: Int] = [:]

    /// The SentencePiece-style unknown token, always among the special tokens.
    public static let unknownToken = "<unk>"

    public init(
        vocabularySize: Int, minimumFrequency: Int = 0, specialTokens: [String] = ["<|endoftext|>"],
        normalizesNFC: Bool = true, addPrefixSpace: Bool = false, kind: Kind = .byteLevel, alphabetLimit: Int = 1000
    ) {
        self.vocabularySize = vocabularySize
        self.minimumFrequency = minimumFrequency
        self.specialTokens = kind == .sentencePiece && !specialTokens.contains(Self.unknownToken)
            ? [Self.unknownToken] + specialTokens : specialTokens
        self.normalizesNFC = normalizesNFC
        self.addPrefixSpace = addPrefixSpace
        self.kind = kind
        self.alphabetLimit = alphabetLimit
    }

    /// The tokenizer file of this shape around `vocabulary` and `merges`.
    func file(vocabulary: [String: Int32], merges: [TokenizerFile.Merge]) -> TokenizerFile {
        let added = specialTokens.map { AddedToken(id: vocabulary[$0] ?? 0, content: $0, special: true, normalized: false) }
        let nfc: [Normalizer] = normalizesNFC ? [.nfc] : []
        switch kind {
        case .byteLevel:
            return TokenizerFile(
                vocabulary: vocabulary, merges: merges, addedTokens: added,
                normalizer: normalizesNFC ? .nfc : nil,
                preTokenizer: .byteLevel(addPrefixSpace: addPrefixSpace, useRegex: true), decoder: .byteLevel,
                postProcessor: .byteLevel)
        case .sentencePiece:
            return TokenizerFile(
                vocabulary: vocabulary, merges: merges, addedTokens: added,
                normalizer: .sequence(nfc + [.prepend("▁"), .replace(pattern: .string(" "), content: "▁")]),
                preTokenizer: .metaspace(replacement: "▁", prependScheme: .never, split: true),
                decoder: .sequence([
                    .replace(pattern: .string("▁"), content: " "), .byteFallback, .fuse,
                    .strip(content: " ", start: 1, stop: 0),
                ]),
                unknownToken: Self.unknownToken, fuseUnknown: true, byteFallback: true)
        }
    }

    /// Counts the words of `documents`, on `threads` threads.
    public mutating func add(_ documents: [String], threads: Int = 1) {
        let groups = max(1, min(threads, documents.count))
        let empty = file(vocabulary: [:], merges: [])
        // The components are this file's own, so the splitter cannot fail.
        guard let splitter = try? WordSplitter(empty, addedTokens: empty.addedTokens, path: "trainer") else { return }
        var counts = [[[UInt8]: Int]](repeating: [:], count: groups)
        counts.withUnsafeMutableBufferPointer { buffer in
            let shared = UncheckedSendableBox(buffer)
            DispatchQueue.concurrentPerform(iterations: groups) { group in
                let range = (documents.count * group / groups)..<(documents.count * (group + 1) / groups)
                var local: [[UInt8]: Int] = [:]
                for index in range {
                    var document = documents[index]
                    document.withUTF8 { bytes in
                        splitter.forEachWord(bytes) { word in
                            if case .text(let piece) = word { local[Array(piece.bytes), default: 0] += 1 }
                        }
                    }
                }
                shared.value[group] = local
            }
        }
        for local in counts { wordCounts.merge(local, uniquingKeysWith: +) }
    }

    /// Learns merges from the words counted so far and returns the tokenizer file.
    /// `progress` is called now and then with the merges done and the merges wanted.
    public func train(progress: ((Int, Int) -> Void)? = nil) -> TokenizerFile {
        // Vocabulary: special tokens, then the byte characters in code-point order, keyed by
        // their byte-level strings (special tokens by their text).
        var tokens: [String] = []
        var idsByToken: [String: Int32] = [:]
        func addToken(_ token: String) -> Int32 {
            if let id = idsByToken[token] { return id }
            let id = Int32(tokens.count)
            tokens.append(token)
            idsByToken[token] = id
            return id
        }
        for token in specialTokens { _ = addToken(token) }
        var idOfByte = [Int32](repeating: -1, count: 256)
        var idOfCharacter: [Unicode.Scalar: Int32] = [:]
        switch kind {
        case .byteLevel:
            for byte in (0..<256).sorted(by: { ByteLevel.characters[$0].value < ByteLevel.characters[$1].value }) {
                idOfByte[byte] = addToken(String(ByteLevel.characters[byte]))
            }
        case .sentencePiece:
            for byte in 0..<256 { _ = addToken(String(format: "<0x%02X>", byte)) }
            for character in alphabet() { idOfCharacter[character] = addToken(String(character)) }
        }
        /// A word's symbols: its bytes' characters, or its characters in the alphabet.
        func symbolsOf(_ word: [UInt8]) -> [Int32] {
            if kind == .byteLevel { return word.map { idOfByte[Int($0)] } }
            return String(decoding: word, as: UTF8.self).unicodeScalars.compactMap { idOfCharacter[$0] }
        }

        // Words as runs of symbols in one arena; merging only ever shortens a word.
        let words = wordCounts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var symbols: [Int32] = []  // (total bytes of all words) symbol ids
        var wordStarts: [Int] = []  // (W) where each word starts in `symbols`
        var wordLengths: [Int] = []  // (W) each word's current symbol count
        var counts: [Int] = []  // (W) each word's count
        for (word, count) in words {
            let wordSymbols = symbolsOf(word)
            wordStarts.append(symbols.count)
            wordLengths.append(wordSymbols.count)
            counts.append(count)
            symbols.append(contentsOf: wordSymbols)
        }

        var pairCounts: [UInt64: Int] = [:]
        var positions: [UInt64: [Int32]] = [:]
        for word in 0..<words.count {
            let start = wordStarts[word]
            guard wordLengths[word] >= 2 else { continue }
            for index in start..<(start + wordLengths[word] - 1) {
                let pair = Self.pair(symbols[index], symbols[index + 1])
                pairCounts[pair, default: 0] += counts[word]
                if positions[pair]?.last != Int32(word) { positions[pair, default: []].append(Int32(word)) }
            }
        }
        var queue = PairQueue()
        for (pair, wordsWithPair) in positions where pairCounts[pair, default: 0] > 0 {
            queue.push(count: pairCounts[pair, default: 0], pair: pair, words: wordsWithPair)
        }
        positions.removeAll()

        var merges: [TokenizerFile.Merge] = []
        let wantedMerges = max(0, vocabularySize - tokens.count)
        while tokens.count < vocabularySize, let top = queue.pop() {
            let current = pairCounts[top.pair, default: 0]
            if top.count != current {
                queue.push(count: current, pair: top.pair, words: top.words)
                continue
            }
            if top.count < 1 || minimumFrequency > top.count { break }
            let left = Int32(truncatingIfNeeded: top.pair >> 32)
            let right = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let merged = addToken(tokens[Int(left)] + tokens[Int(right)])
            merges.append(TokenizerFile.Merge(tokens[Int(left)], tokens[Int(right)]))

            for word in top.words {
                let index = Int(word)
                Self.merge(
                    left, right, into: merged, symbols: &symbols, start: wordStarts[index],
                    length: &wordLengths[index]
                ) { pair, change in
                    pairCounts[pair, default: 0] += change * counts[index]
                    if change > 0, positions[pair]?.last != word { positions[pair, default: []].append(word) }
                }
            }
            for (pair, wordsWithPair) in positions where pairCounts[pair, default: 0] > 0 {
                queue.push(count: pairCounts[pair, default: 0], pair: pair, words: wordsWithPair)
            }
            positions.removeAll(keepingCapacity: true)
            if merges.count % 1000 == 0 { progress?(merges.count, wantedMerges) }
        }
        progress?(merges.count, wantedMerges)

        var vocabulary: [String: Int32] = [:]
        for (id, token) in tokens.enumerated() { vocabulary[token] = Int32(id) }
        return file(vocabulary: vocabulary, merges: merges)
    }

    /// The SentencePiece-style alphabet: the `alphabetLimit` most frequent characters of the
    /// words counted (the most frequent first, then by code point), in code-point order.
    func alphabet() -> [Unicode.Scalar] {
        var counts: [Unicode.Scalar: Int] = [:]
        for (word, count) in wordCounts {
            for scalar in String(decoding: word, as: UTF8.self).unicodeScalars { counts[scalar, default: 0] += count }
        }
        let kept = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.value < $1.key.value }
            .prefix(alphabetLimit).map(\.key)
        return kept.sorted { $0.value < $1.value }
    }

    @inline(__always)
    static func pair(_ left: Int32, _ right: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: left)) << 32) | UInt64(UInt32(bitPattern: right))
    }

    /// Replaces each `left right` in a word (left to right, not overlapping) by `merged`, and
    /// reports the neighbouring pairs that disappear (-1) and appear (+1).
    static func merge(
        _ left: Int32, _ right: Int32, into merged: Int32, symbols: inout [Int32], start: Int,
        length: inout Int, change: (UInt64, Int) -> Void
    ) {
        var index = start
        while index < start + length {
            if symbols[index] == left, index + 1 < start + length, symbols[index + 1] == right {
                if index > start {
                    change(pair(symbols[index - 1], left), -1)
                    change(pair(symbols[index - 1], merged), 1)
                }
                symbols[index] = merged
                let end = start + length
                if index + 2 < end {
                    for shifted in (index + 1)..<(end - 1) { symbols[shifted] = symbols[shifted + 1] }
                }
                length -= 1
                if index + 1 < start + length {
                    change(pair(right, symbols[index + 1]), -1)
                    change(pair(merged, symbols[index + 1]), 1)
                }
            }
            index += 1
        }
    }
}

/// A max-heap of candidate merges: the highest count first, then the smallest pair of ids.
/// Entries go stale when counts change; the trainer re-inserts them with the current count.
private struct PairQueue {
    struct Entry {
        var count: Int
        var pair: UInt64
        /// Index into `wordLists`: the words holding the pair when the entry was made.
        var wordList: Int
    }

    private var heap: [Entry] = []
    private var wordLists: [[Int32]] = []

    @inline(__always)
    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.count != b.count ? a.count > b.count : a.pair < b.pair
    }

    mutating func push(count: Int, pair: UInt64, words: [Int32]) {
        wordLists.append(words)
        heap.append(Entry(count: count, pair: pair, wordList: wordLists.count - 1))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !Self.precedes(heap[child], heap[parent]) { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (count: Int, pair: UInt64, words: [Int32])? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var best = parent
                if left < heap.count, Self.precedes(heap[left], heap[best]) { best = left }
                if right < heap.count, Self.precedes(heap[right], heap[best]) { best = right }
                if best == parent { break }
                heap.swapAt(parent, best)
                parent = best
            }
        }
        let words = wordLists[top.wordList]
        wordLists[top.wordList] = []
        return (top.count, top.pair, words)
    }
}
