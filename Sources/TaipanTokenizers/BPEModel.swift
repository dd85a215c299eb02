// BPEModel.swift — the `BPE` model of Hugging Face `tokenizers` (byte-pair encoding, Sennrich
// et al. 2016): a word's characters become their vocabulary ids (a missing character becomes
// its UTF-8 bytes' `<0xNN>` tokens with `byte_fallback`, else `unk_token`, fused with
// `fuse_unk`), then neighbouring pairs are merged, lowest merge rank first, leftmost first
// among equals. Words of byte-level text (after the `ByteLevel` pre-tokenizer) come as raw
// bytes, one character each. `continuing_subword_prefix` and `end_of_word_suffix` are added
// to the characters they apply to before the lookup; `ignore_merges` takes words found whole
// in the vocabulary as they are.

import Foundation

/// The BPE model proper: a word's bytes in, its ids out. Immutable once built.
final class BPEModel: @unchecked Sendable {
    /// Words are byte-level text: one character per byte.
    private let byteLevel: Bool
    /// The id of each unit's character, or -1 when the vocabulary lacks it: by byte for
    /// byte-level words (256 entries), by scalar value below U+10000 otherwise (65,536).
    private let unitIds: UnsafeMutablePointer<Int32>
    private let unitCount: Int
    /// Ids of characters above U+FFFF.
    private let astralIds: [UInt32: Int32]
    /// The `<0xNN>` token of each byte (256), or nil without `byte_fallback`.
    private let fallbackIds: [Int32]?
    private let merges: MergeTable
    /// `model.unk_token`'s id, or -1.
    private let unknownId: Int32
    private let fuseUnknown: Bool
    /// The vocabulary, kept when characters need a prefix or suffix before their lookup.
    private let affixes: (prefix: String, suffix: String, vocabulary: [String: Int32])?
    /// Whole words by their bytes, when `ignore_merges` lets them skip the merges.
    private let wholeWords: [[UInt8]: Int32]?

    /// Words up to this many symbols are merged by scanning all pairs; longer ones (whole
    /// documents, with no pre-tokenizer) through a heap, in O(n log n).
    private let longWord: Int

    init(_ file: TokenizerFile, byteLevel: Bool, longWord: Int = 48) {
        self.byteLevel = byteLevel
        self.longWord = longWord
        let vocabulary = file.vocabulary
        unitCount = byteLevel ? 256 : 0x1_0000
        unitIds = .allocate(capacity: unitCount)
        unitIds.initialize(repeating: -1, count: unitCount)
        var astral: [UInt32: Int32] = [:]
        if byteLevel {
            for byte in 0..<256 { unitIds[byte] = vocabulary[String(ByteLevel.characters[byte])] ?? -1 }
        } else {
            for (token, id) in vocabulary {
                let scalars = token.unicodeScalars
                guard scalars.count == 1, let scalar = scalars.first else { continue }
                if scalar.value < 0x1_0000 { unitIds[Int(scalar.value)] = id } else { astral[scalar.value] = id }
            }
        }
        astralIds = astral
        fallbackIds = file.byteFallback
            ? (0..<256).map { vocabulary[String(format: "<0x%02X>", $0)] ?? -1 } : nil
        unknownId = file.unknownToken.flatMap { vocabulary[$0] } ?? -1
        fuseUnknown = file.fuseUnknown
        let prefix = file.continuingSubwordPrefix ?? ""
        let suffix = file.endOfWordSuffix ?? ""
        affixes = prefix.isEmpty && suffix.isEmpty ? nil : (prefix, suffix, vocabulary)

        // The merged token drops the right part's continuation prefix ("a" + "##b" → "ab").
        var ranked: [(left: Int32, right: Int32, merged: Int32)] = []
        ranked.reserveCapacity(file.merges.count)
        for merge in file.merges {
            guard let left = vocabulary[merge.left], let right = vocabulary[merge.right],
                  let merged = vocabulary[merge.left + TokenizerFile.droppingPrefix(prefix, from: merge.right)]
            else { continue }
            ranked.append((left, right, merged))
        }
        merges = MergeTable(ranked)
        if file.ignoreMerges {
            var words: [[UInt8]: Int32] = [:]
            for (token, id) in vocabulary {
                if byteLevel {
                    if let bytes = ByteLevel.decode(token) { words[bytes] = id }
                } else {
                    words[Array(token.utf8)] = id
                }
            }
            wholeWords = words
        } else {
            wholeWords = nil
        }
    }

    deinit { unitIds.deallocate() }

    /// Appends the ids of `word` (its bytes, byte-level text when the model is byte-level) to `ids`.
    @inline(__always)
    func encode(_ word: UnsafeBufferPointer<UInt8>, _ state: EncoderState, _ ids: inout [Int32]) {
        let hash = WordCache.hash(word)
        if let cached = state.cache.lookup(word, hash: hash) {
            ids.append(contentsOf: cached)
            return
        }
        let merged = merge(word, state)
        ids.append(contentsOf: merged)
        state.cache.insert(word, hash: hash, ids: merged)
    }

    /// The ids of `word` after all merges, in `state`'s scratch space.
    private func merge(_ word: UnsafeBufferPointer<UInt8>, _ state: EncoderState) -> UnsafeBufferPointer<Int32> {
        let affixBytes = affixes.map { $0.prefix.utf8.count + $0.suffix.utf8.count } ?? 0
        state.reserve(word.count * (1 + affixBytes) + 4)
        let symbols = state.symbols
        if let wholeWords, let id = wholeWords[Array(word)] {
            symbols[0] = id
            return UnsafeBufferPointer(start: symbols, count: 1)
        }
        var count = initialSymbols(word, into: symbols)
        if count >= 2 {
            count = count <= longWord ? mergeShort(symbols, count, state) : mergeLong(symbols, count, state)
        }
        return UnsafeBufferPointer(start: symbols, count: count)
    }

    /// Writes the ids of `word`'s characters to `symbols` and returns how many there are.
    @inline(__always)
    private func initialSymbols(_ word: UnsafeBufferPointer<UInt8>, into symbols: UnsafeMutablePointer<Int32>) -> Int {
        var count = 0
        var pendingUnknown = false
        var index = 0
        while index < word.count {
            let start = index
            var id: Int32
            if byteLevel {
                id = unitIds[Int(word[index])]
                index += 1
            } else {
                let lead = word[index]
                if lead < 0x80 {
                    id = unitIds[Int(lead)]
                    index += 1
                } else {
                    let length = lead < 0xE0 ? 2 : (lead < 0xF0 ? 3 : 4)
                    var value = UInt32(lead) & (length == 2 ? 0x1F : (length == 3 ? 0x0F : 0x07))
                    for offset in 1..<length { value = (value << 6) | UInt32(word[index + offset] & 0x3F) }
                    id = value < 0x1_0000 ? unitIds[Int(value)] : (astralIds[value] ?? -1)
                    index += length
                }
            }
            var character: [UInt8]? = nil
            if let affixes {
                // The character as the vocabulary spells it, with its prefix and suffix.
                var text = byteLevel ? ByteLevel.encode([word[start]]) : String(decoding: word[start..<index], as: UTF8.self)
                if start > 0 { text = affixes.prefix + text }
                if index == word.count { text += affixes.suffix }
                id = affixes.vocabulary[text] ?? -1
                character = Array(text.utf8)
            }
            if id >= 0 {
                if pendingUnknown {
                    symbols[count] = unknownId
                    count += 1
                    pendingUnknown = false
                }
                symbols[count] = id
                count += 1
                continue
            }
            if let fallbackIds {
                let bytes = character ?? (byteLevel ? Array(String(ByteLevel.characters[Int(word[start])]).utf8) : Array(word[start..<index]))
                if bytes.allSatisfy({ fallbackIds[Int($0)] >= 0 }) {
                    // Like `tokenizers`, an unknown waiting before this character stays waiting.
                    for byte in bytes {
                        symbols[count] = fallbackIds[Int(byte)]
                        count += 1
                    }
                    continue
                }
            }
            guard unknownId >= 0 else { continue }
            if pendingUnknown, !fuseUnknown {
                symbols[count] = unknownId
                count += 1
            }
            pendingUnknown = true
        }
        if pendingUnknown {
            symbols[count] = unknownId
            count += 1
        }
        return count
    }

    /// Merges by scanning every pair for the best; returns the new symbol count.
    private func mergeShort(_ symbols: UnsafeMutablePointer<Int32>, _ count: Int, _ state: EncoderState) -> Int {
        var count = count
        let pairs = state.pairs  // (count - 1) merge entries of neighbouring symbols
        var pairCount = count - 1
        for index in 0..<pairCount { pairs[index] = merges.entry(symbols[index], symbols[index + 1]) }
        while true {
            var best = 0
            var bestEntry = pairs[0]
            for index in 1..<pairCount where pairs[index] < bestEntry {
                best = index
                bestEntry = pairs[index]
            }
            if bestEntry == MergeTable.noMerge { break }
            symbols[best] = Int32(truncatingIfNeeded: bestEntry & 0xFFFF_FFFF)
            memmove(symbols + best + 1, symbols + best + 2, (count - best - 2) * MemoryLayout<Int32>.stride)
            count -= 1
            if best + 1 < pairCount {
                memmove(pairs + best + 1, pairs + best + 2, (pairCount - best - 2) * MemoryLayout<UInt64>.stride)
            }
            pairCount -= 1
            if pairCount == 0 { break }
            if best > 0 { pairs[best - 1] = merges.entry(symbols[best - 1], symbols[best]) }
            if best < pairCount { pairs[best] = merges.entry(symbols[best], symbols[best + 1]) }
        }
        return count
    }

    /// Merges through a min-heap of `(rank << 32) | position` over a linked list of symbols, as
    /// `tokenizers`' `Word::merge_all` does; returns the new symbol count.
    private func mergeLong(_ symbols: UnsafeMutablePointer<Int32>, _ count: Int, _ state: EncoderState) -> Int {
        let next = state.next  // (count) the symbol after each, count for none
        let previous = state.previous  // (count) the symbol before each, -1 for none
        var heap = MergeHeap(storage: state.heap)
        for index in 0..<count {
            next[index] = Int32(index + 1)
            previous[index] = Int32(index - 1)
        }
        func push(_ position: Int) {
            let entry = merges.entry(symbols[position], symbols[Int(next[position])])
            if entry != MergeTable.noMerge { heap.push((entry >> 32) << 32 | UInt64(position)) }
        }
        for index in 0..<(count - 1) { push(index) }
        while let top = heap.pop() {
            let position = Int(top & 0xFFFF_FFFF)
            let right = Int(next[position])
            // Entries go stale when a symbol was merged away or its pair changed.
            guard symbols[position] >= 0, right < count else { continue }
            let entry = merges.entry(symbols[position], symbols[right])
            guard entry != MergeTable.noMerge, entry >> 32 == top >> 32 else { continue }
            symbols[position] = Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF)
            symbols[right] = -1
            next[position] = next[right]
            if Int(next[right]) < count { previous[Int(next[right])] = Int32(position) }
            if previous[position] >= 0 { push(Int(previous[position])) }
            if Int(next[position]) < count { push(position) }
        }
        var kept = 0
        for index in 0..<count where symbols[index] >= 0 {
            symbols[kept] = symbols[index]
            kept += 1
        }
        return kept
    }
}

/// A binary min-heap of merge candidates in caller-owned storage (room for 3 entries per
/// symbol: the first pairs, then at most two new pairs per merge).
private struct MergeHeap {
    let storage: UnsafeMutablePointer<UInt64>
    var count = 0

    init(storage: UnsafeMutablePointer<UInt64>) { self.storage = storage }

    mutating func push(_ entry: UInt64) {
        var child = count
        storage[child] = entry
        count += 1
        while child > 0 {
            let parent = (child - 1) / 2
            if storage[parent] <= storage[child] { break }
            storage.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard count > 0 else { return nil }
        let top = storage[0]
        count -= 1
        storage[0] = storage[count]
        var parent = 0
        while true {
            let left = 2 * parent + 1
            var smallest = parent
            if left < count, storage[left] < storage[smallest] { smallest = left }
            if left + 1 < count, storage[left + 1] < storage[smallest] { smallest = left + 1 }
            if smallest == parent { break }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

private extension UnsafeMutablePointer where Pointee == UInt64 {
    @inline(__always) func swapAt(_ a: Int, _ b: Int) {
        let held = self[a]
        self[a] = self[b]
        self[b] = held
    }
}

/// One thread's encoding state: its word cache and scratch buffers.
final class EncoderState {
    let cache = WordCache()
    private(set) var capacity = 0
    private(set) var symbols = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var pairs = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    private(set) var next = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var previous = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    /// (3 × capacity) merge candidates of long words.
    private(set) var heap = UnsafeMutablePointer<UInt64>.allocate(capacity: 3)

    /// Makes room for a word of `count` symbols.
    @inline(__always)
    func reserve(_ count: Int) {
        if count <= capacity { return }
        deallocate()
        capacity = max(count, 2 * capacity, 64)
        symbols = .allocate(capacity: capacity)
        pairs = .allocate(capacity: capacity)
        next = .allocate(capacity: capacity)
        previous = .allocate(capacity: capacity)
        heap = .allocate(capacity: 3 * capacity)
    }

    private func deallocate() {
        symbols.deallocate()
        pairs.deallocate()
        next.deallocate()
        previous.deallocate()
        heap.deallocate()
    }

    deinit { deallocate() }
}

/// Encoder states waiting for a thread: one is taken per `encode` call and given back after,
/// so concurrent calls never share a cache and consecutive calls reuse a warm one. A thread
/// gets back the state it used last when it is free, so a cache stays near its core.
final class EncoderStatePool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [(state: EncoderState, thread: pthread_t)] = []

    func take() -> EncoderState {
        let thread = pthread_self()
        lock.lock()
        defer { lock.unlock() }
        if let index = idle.lastIndex(where: { pthread_equal($0.thread, thread) != 0 }) {
            return idle.remove(at: index).state
        }
        return idle.popLast()?.state ?? EncoderState()
    }

    func give(_ state: EncoderState) {
        let thread = pthread_self()
        lock.lock()
        defer { lock.unlock() }
        idle.append((state, thread))
    }
}
