// BPETrainer.swift — trains a byte-level BPE (Sennrich et al. 2016, with GPT-2's byte-level
// alphabet) and writes it as a Hugging Face `tokenizer.json`. It follows the `BpeTrainer` of
// the `tokenizers` library step for step, so the same words give the same merges: special
// tokens take the first ids, the 256 byte characters the next ones (in code-point order), and
// each merge joins the most frequent pair of neighbouring tokens (the smallest pair of ids
// among equals). Pair counts are updated incrementally from the words a merge touches, never
// recounted; a max-heap with lazy re-insertion finds the most frequent pair.

import Dispatch

/// Counts words in texts and learns byte-level BPE merges from them.
public struct BPETrainer: Sendable {
    /// The vocabulary size to reach: special tokens, the 256 bytes and the merged tokens.
    public var vocabularySize: Int
    /// Pairs seen fewer times than this are never merged (`min_frequency`).
    public var minimumFrequency: Int
    /// Special tokens, given the first ids in this order and never split (`<|endoftext|>`).
    public var specialTokens: [String]
    /// Whether texts are put in Unicode normalization form C (written as the NFC normalizer).
    public var normalizesNFC: Bool
    /// The pre-tokenizer's `add_prefix_space`.
    public var addPrefixSpace: Bool

    /// How often each word (its UTF-8 bytes, after pre-tokenisation) was seen.
    public private(set) var wordCounts: [[UInt8]: Int] = [:]

    public init(
        vocabularySize: Int, minimumFrequency: Int = 0, specialTokens: [String] = ["<|endoftext|>"],
        normalizesNFC: Bool = true, addPrefixSpace: Bool = false
    ) {
        self.vocabularySize = vocabularySize
        self.minimumFrequency = minimumFrequency
        self.specialTokens = specialTokens
        self.normalizesNFC = normalizesNFC
        self.addPrefixSpace = addPrefixSpace
    }

    /// Counts the words of `documents`, on `threads` threads.
    public mutating func add(_ documents: [String], threads: Int = 1) {
        let groups = max(1, min(threads, documents.count))
        let counter = WordCounter(
            specialTokens: specialTokens, normalizesNFC: normalizesNFC, addPrefixSpace: addPrefixSpace)
        var counts = [[[UInt8]: Int]](repeating: [:], count: groups)
        counts.withUnsafeMutableBufferPointer { buffer in
            let shared = UncheckedSendableBox(buffer)
            DispatchQueue.concurrentPerform(iterations: groups) { group in
                let range = (documents.count * group / groups)..<(documents.count * (group + 1) / groups)
                var local: [[UInt8]: Int] = [:]
                for index in range { counter.count(documents[index], into: &local) }
                shared.value[group] = local
            }
        }
        for local in counts { wordCounts.merge(local, uniquingKeysWith: +) }
    }

    /// Counts the words of every document `reader` yields (bad records fail or are skipped
    /// by its policy, as `reader.skipped` then counts), gathering about `batchBytes` of text
    /// or `batchDocuments` documents at a time and counting each batch on `threads` threads.
    /// Returns the documents and the UTF-8 bytes of text counted.
    @discardableResult
    public mutating func add(
        _ reader: ShardReader, threads: Int = 1, batchBytes: Int = 64 << 20, batchDocuments: Int = 20_000
    ) throws -> (documents: Int, bytes: Int) {
        var documents = 0, bytes = 0
        var batch: [String] = []
        var pendingBytes = 0
        while let document = try reader.next() {
            pendingBytes += document.text.utf8.count
            batch.append(document.text)
            if pendingBytes >= batchBytes || batch.count >= batchDocuments {
                add(batch, threads: threads)
                documents += batch.count
                bytes += pendingBytes
                batch.removeAll(keepingCapacity: true)
                pendingBytes = 0
            }
        }
        add(batch, threads: threads)
        return (documents + batch.count, bytes + pendingBytes)
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
        var idOfByte = [Int32](repeating: 0, count: 256)
        for byte in (0..<256).sorted(by: { ByteLevel.characters[$0].value < ByteLevel.characters[$1].value }) {
            idOfByte[byte] = addToken(String(ByteLevel.characters[byte]))
        }

        // Words as runs of symbols in one arena; merging only ever shortens a word.
        let words = wordCounts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var symbols: [Int32] = []  // (total bytes of all words) symbol ids
        var wordStarts: [Int] = []  // (W) where each word starts in `symbols`
        var wordLengths: [Int] = []  // (W) each word's current symbol count
        var counts: [Int] = []  // (W) each word's count
        for (word, count) in words {
            wordStarts.append(symbols.count)
            wordLengths.append(word.count)
            counts.append(count)
            for byte in word { symbols.append(idOfByte[Int(byte)]) }
        }

        var pairCounts: [UInt64: Int] = [:]
        var positions: [UInt64: [Int32]] = [:]
        for word in 0..<words.count {
            let start = wordStarts[word]
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
        let added = specialTokens.map { AddedToken(id: idsByToken[$0] ?? 0, content: $0, special: true, normalized: false) }
        return TokenizerFile(
            vocabulary: vocabulary, merges: merges, addedTokens: added,
            normalizesNFC: normalizesNFC, addPrefixSpace: addPrefixSpace)
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

/// Splits documents into words the way the trained tokenizer will: special tokens out, NFC,
/// then the ByteLevel pre-tokenizer.
private struct WordCounter: Sendable {
    let specials: AddedTokenMatcher
    let normalizesNFC: Bool
    let preTokenizer: ByteLevelPreTokenizer

    init(specialTokens: [String], normalizesNFC: Bool, addPrefixSpace: Bool) {
        let tokens = specialTokens.enumerated().map {
            AddedToken(id: Int32($0.offset), content: $0.element, special: true, normalized: false)
        }
        specials = AddedTokenMatcher(tokens: tokens, contents: specialTokens)
        self.normalizesNFC = normalizesNFC
        preTokenizer = ByteLevelPreTokenizer(addPrefixSpace: addPrefixSpace)
    }

    func count(_ document: String, into counts: inout [[UInt8]: Int]) {
        var document = document
        document.withUTF8 { bytes in
            specials.split(bytes) { piece in
                guard case .text(let range) = piece else { return }
                let text = UnsafeBufferPointer(rebasing: bytes[range])
                if normalizesNFC, let composed = NFC.normalize(text) {
                    composed.withUnsafeBufferPointer { countWords($0, into: &counts) }
                } else {
                    countWords(text, into: &counts)
                }
            }
        }
    }

    private func countWords(_ text: UnsafeBufferPointer<UInt8>, into counts: inout [[UInt8]: Int]) {
        if preTokenizer.addPrefixSpace, let first = text.first, first != 0x20 {
            let spaced = [0x20] + Array(text)
            spaced.withUnsafeBufferPointer { countSplitWords($0, into: &counts) }
        } else {
            countSplitWords(text, into: &counts)
        }
    }

    private func countSplitWords(_ text: UnsafeBufferPointer<UInt8>, into counts: inout [[UInt8]: Int]) {
        preTokenizer.forEachWord(in: text) { range in counts[Array(text[range]), default: 0] += 1 }
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
