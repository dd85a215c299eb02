// BPETokenizer.swift — byte-level byte-pair encoding (Sennrich et al. 2016; GPT-2, Radford et
// al. 2019) loaded from a Hugging Face `tokenizer.json`, giving the ids of the `tokenizers`
// library id for id: added tokens are cut out of the raw text, the rest is put in NFC (when
// the file asks), split into words by the ByteLevel pre-tokenizer, and each word's bytes are
// merged pair by pair, lowest merge rank first, leftmost first among equals.

import Foundation

/// A byte-level BPE tokenizer (GPT-2, GPT-NeoX/Pythia, Mamba's tokenizer).
public struct BPETokenizer: Tokenizer {
    public let vocabularySize: Int
    public let endOfText: Int32?
    public let specialTokens: [String: Int32]

    private let model: BPEModel
    private let normalizesNFC: Bool
    private let preTokenizer: ByteLevelPreTokenizer
    /// Added tokens matched in the raw text (`normalized: false`).
    private let rawTokens: AddedTokenMatcher
    /// Added tokens matched in normalised text (`normalized: true`).
    private let normalizedTokens: AddedTokenMatcher
    /// The bytes each id decodes to (`nil` for ids that are not in the vocabulary).
    private let decodedTokens: [[UInt8]?]
    private let states = EncoderStatePool()

    /// Loads a byte-level BPE `tokenizer.json`; throws `TokenizerError.invalidFile` naming the
    /// file and the key when it is not one.
    public init(contentsOf path: String) throws {
        self.init(try TokenizerFile(contentsOf: path))
    }

    /// A tokenizer for the contents of a `tokenizer.json`. Merges of tokens missing from the
    /// vocabulary are left out (`TokenizerFile(contentsOf:)` refuses such files).
    public init(_ file: TokenizerFile) {
        normalizesNFC = file.normalizesNFC
        preTokenizer = ByteLevelPreTokenizer(addPrefixSpace: file.addPrefixSpace, useRegex: file.useRegex)

        let addedTokens = BPETokenizer.numbered(file.addedTokens, vocabulary: file.vocabulary)
        let raw = addedTokens.filter { !$0.normalized }
        let normalized = addedTokens.filter { $0.normalized }
        rawTokens = AddedTokenMatcher(tokens: raw, contents: raw.map(\.content))
        normalizedTokens = AddedTokenMatcher(
            tokens: normalized,
            contents: normalized.map { file.normalizesNFC ? NFC.normalize($0.content) : $0.content })

        var size = 0
        for id in file.vocabulary.values { size = max(size, Int(id) + 1) }
        for token in addedTokens { size = max(size, Int(token.id) + 1) }
        vocabularySize = size

        var decoded = [[UInt8]?](repeating: nil, count: size)
        for (token, id) in file.vocabulary { decoded[Int(id)] = ByteLevel.decode(token) ?? Array(token.utf8) }
        for token in addedTokens {
            decoded[Int(token.id)] = ByteLevel.decode(token.content) ?? Array(token.content.utf8)
        }
        decodedTokens = decoded

        var special: [String: Int32] = [:]
        for token in addedTokens where token.special { special[token.content] = token.id }
        specialTokens = special
        endOfText = addedTokens.first { $0.content == "<|endoftext|>" }?.id
            ?? file.vocabulary["<|endoftext|>"]
        model = BPEModel(file)
    }

    /// The added tokens with the ids the `tokenizers` library gives them, whatever the file
    /// says: a token in the vocabulary takes its vocabulary id; any other takes the next id
    /// from the vocabulary's entry count up. Empty tokens and exact repeats are dropped; a
    /// token repeated with other flags keeps its first id and its last flags.
    static func numbered(_ tokens: [AddedToken], vocabulary: [String: Int32]) -> [AddedToken] {
        var idsByContent: [[UInt8]: Int32] = [:]
        var tokensById: [Int32: AddedToken] = [:]
        var order: [Int32] = []
        var largest: Int32? = nil
        let entryCount = Int32(vocabulary.count)
        for var token in tokens {
            let content = Array(token.content.utf8)
            let isRepeat = tokensById.values.contains { known in
                var renumbered = token
                renumbered.id = known.id
                return Array(known.content.utf8) == content && known == renumbered
            }
            if content.isEmpty || isRepeat { continue }
            let id: Int32
            if let known = idsByContent[content] ?? vocabulary[token.content] {
                id = known
            } else if let largest, largest >= entryCount || entryCount == 0 {
                id = largest + 1
            } else {
                id = entryCount
            }
            idsByContent[content] = id
            largest = max(largest ?? id, id)
            token.id = id
            if tokensById[id] == nil { order.append(id) }
            tokensById[id] = token
        }
        return order.compactMap { tokensById[$0] }
    }

    public func encode(_ text: String) -> [Int32] {
        var text = text
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 1)
        let state = states.take()
        defer { states.give(state) }
        text.withUTF8 { bytes in
            if rawTokens.isEmpty {
                encodeNormalizing(bytes, state, &ids)
            } else {
                rawTokens.split(bytes) { piece in
                    switch piece {
                    case .token(let id): ids.append(id)
                    case .text(let range): encodeNormalizing(UnsafeBufferPointer(rebasing: bytes[range]), state, &ids)
                    }
                }
            }
        }
        return ids
    }

    private func encodeNormalizing(_ text: UnsafeBufferPointer<UInt8>, _ state: EncoderState, _ ids: inout [Int32]) {
        if normalizesNFC, let composed = NFC.normalize(text) {
            composed.withUnsafeBufferPointer { encodeNormalized($0, state, &ids) }
        } else {
            encodeNormalized(text, state, &ids)
        }
    }

    private func encodeNormalized(_ text: UnsafeBufferPointer<UInt8>, _ state: EncoderState, _ ids: inout [Int32]) {
        if normalizedTokens.isEmpty {
            encodeWords(text, state, &ids)
            return
        }
        normalizedTokens.split(text) { piece in
            switch piece {
            case .token(let id): ids.append(id)
            case .text(let range): encodeWords(UnsafeBufferPointer(rebasing: text[range]), state, &ids)
            }
        }
    }

    private func encodeWords(_ text: UnsafeBufferPointer<UInt8>, _ state: EncoderState, _ ids: inout [Int32]) {
        if preTokenizer.addPrefixSpace, let first = text.first, first != 0x20 {
            let spaced = [0x20] + Array(text)
            spaced.withUnsafeBufferPointer { spacedText in
                preTokenizer.forEachWord(in: spacedText) { range in
                    model.encode(UnsafeBufferPointer(rebasing: spacedText[range]), state, &ids)
                }
            }
            return
        }
        preTokenizer.forEachWord(in: text) { range in
            model.encode(UnsafeBufferPointer(rebasing: text[range]), state, &ids)
        }
    }

    public func decode(_ ids: [Int32]) throws -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            guard id >= 0, Int(id) < decodedTokens.count, let token = decodedTokens[Int(id)] else {
                throw TokenizerError.unknownId(id, vocabularySize: vocabularySize)
            }
            bytes.append(contentsOf: token)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The BPE model proper: a word's bytes in, its ids out. Immutable once built.
final class BPEModel: @unchecked Sendable {
    /// The id of each byte's character, or -1 when the vocabulary lacks it. (256)
    private let byteIds: UnsafeMutablePointer<Int32>
    private let merges: MergeTable
    /// `model.unk_token`'s id, or -1.
    private let unknownId: Int32
    /// Whole words by their bytes, when `ignore_merges` lets them skip the merges.
    private let wholeWords: [[UInt8]: Int32]?

    init(_ file: TokenizerFile) {
        byteIds = .allocate(capacity: 256)
        for byte in 0..<256 {
            byteIds[byte] = file.vocabulary[String(ByteLevel.characters[byte])] ?? -1
        }
        var ranked: [(left: Int32, right: Int32, merged: Int32)] = []
        ranked.reserveCapacity(file.merges.count)
        for merge in file.merges {
            guard let left = file.vocabulary[merge.left], let right = file.vocabulary[merge.right],
                  let merged = file.vocabulary[merge.left + merge.right] else { continue }
            ranked.append((left, right, merged))
        }
        merges = MergeTable(ranked)
        unknownId = file.unknownToken.flatMap { file.vocabulary[$0] } ?? -1
        if file.ignoreMerges {
            var words: [[UInt8]: Int32] = [:]
            for (token, id) in file.vocabulary {
                if let bytes = ByteLevel.decode(token) { words[bytes] = id }
            }
            wholeWords = words
        } else {
            wholeWords = nil
        }
    }

    deinit { byteIds.deallocate() }

    /// Appends the ids of `word` (a word's UTF-8 bytes) to `ids`.
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
        state.reserve(word.count)
        let symbols = state.symbols  // (word.count) ids, merged in place
        let pairs = state.pairs  // (word.count - 1) merge entries of neighbouring symbols
        if let wholeWords, let id = wholeWords[Array(word)] {
            symbols[0] = id
            return UnsafeBufferPointer(start: symbols, count: 1)
        }
        var count = 0
        for byte in word {
            let id = byteIds[Int(byte)]
            if id >= 0 {
                symbols[count] = id
                count += 1
            } else if unknownId >= 0 {
                symbols[count] = unknownId
                count += 1
            }
        }
        guard count >= 2 else { return UnsafeBufferPointer(start: symbols, count: count) }

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
        return UnsafeBufferPointer(start: symbols, count: count)
    }
}

/// One thread's encoding state: its word cache and scratch buffers.
final class EncoderState {
    let cache = WordCache()
    private(set) var capacity = 0
    private(set) var symbols = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var pairs = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)

    /// Makes room for a word of `count` bytes.
    @inline(__always)
    func reserve(_ count: Int) {
        if count <= capacity { return }
        symbols.deallocate()
        pairs.deallocate()
        capacity = max(count, 2 * capacity, 64)
        symbols = .allocate(capacity: capacity)
        pairs = .allocate(capacity: capacity)
    }

    deinit {
        symbols.deallocate()
        pairs.deallocate()
    }
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
