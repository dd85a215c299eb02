// WordCache.swift — a bounded cache from a word's UTF-8 bytes to its BPE ids. Natural text
// repeats a few thousand words over and over, so most words skip the merges entirely. One
// cache belongs to one thread at a time; when it fills up it starts again empty.

import Foundation

/// Word bytes → token ids, open addressing over fixed arenas (no allocation once created).
final class WordCache {
    /// Words longer than this are not cached (they rarely repeat).
    static let longestWord = 128

    private let slotCount: Int
    private let maximumWords: Int
    /// Per slot: the word's hash, 0 for an empty slot. (slotCount)
    private let hashes: UnsafeMutablePointer<UInt64>
    /// Per slot: offset of the word in `wordBytes`, its length, offset of its ids in `ids`,
    /// their count. (slotCount × 4)
    private let spans: UnsafeMutablePointer<UInt32>
    /// The cached words' bytes, back to back. (wordBytesCapacity)
    private let wordBytes: UnsafeMutablePointer<UInt8>
    private let wordBytesCapacity: Int
    /// The cached words' ids, back to back. (idsCapacity)
    private let ids: UnsafeMutablePointer<Int32>
    private let idsCapacity: Int

    private var wordCount = 0
    private var wordBytesUsed = 0
    private var idsUsed = 0

    /// A cache holding up to `maximumWords` words.
    init(maximumWords: Int = 1 << 15) {
        self.maximumWords = maximumWords
        slotCount = maximumWords * 2
        hashes = .allocate(capacity: slotCount)
        hashes.initialize(repeating: 0, count: slotCount)
        spans = .allocate(capacity: slotCount * 4)
        spans.initialize(repeating: 0, count: slotCount * 4)
        wordBytesCapacity = maximumWords * 16
        wordBytes = .allocate(capacity: wordBytesCapacity)
        idsCapacity = maximumWords * 8
        ids = .allocate(capacity: idsCapacity)
    }

    deinit {
        hashes.deallocate()
        spans.deallocate()
        wordBytes.deallocate()
        ids.deallocate()
    }

    /// A 64-bit hash of `word`, never 0.
    @inline(__always)
    static func hash(_ word: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(word.count)
        guard let base = word.baseAddress else { return hash | 1 }
        let raw = UnsafeRawPointer(base)
        var offset = 0
        while offset + 8 <= word.count {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            hash ^= hash >> 29
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < word.count {
            tail |= UInt64(base[offset]) << shift
            shift += 8
            offset += 1
        }
        hash = (hash ^ tail) &* 0x9E37_79B9_7F4A_7C15
        hash ^= hash >> 32
        return hash | 1
    }

    @inline(__always)
    private func firstSlot(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 7) & (slotCount - 1) }

    /// The cached ids of `word` (hash `hash`), valid until the next `insert`.
    @inline(__always)
    func lookup(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64) -> UnsafeBufferPointer<Int32>? {
        guard let base = word.baseAddress else { return nil }
        var slot = firstSlot(hash)
        while true {
            let found = hashes[slot]
            if found == 0 { return nil }
            if found == hash {
                let span = spans + slot * 4
                if Int(span[1]) == word.count,
                   memcmp(wordBytes + Int(span[0]), base, word.count) == 0 {
                    return UnsafeBufferPointer(start: ids + Int(span[2]), count: Int(span[3]))
                }
            }
            slot = (slot + 1) & (slotCount - 1)
        }
    }

    /// Remembers the ids of `word`; empties the cache first when it is full.
    func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, ids wordIds: UnsafeBufferPointer<Int32>) {
        guard word.count <= WordCache.longestWord, let wordBase = word.baseAddress,
              let idsBase = wordIds.baseAddress else { return }
        if wordCount == maximumWords || wordBytesUsed + word.count > wordBytesCapacity
            || idsUsed + wordIds.count > idsCapacity {
            removeAll()
        }
        var slot = firstSlot(hash)
        while hashes[slot] != 0 { slot = (slot + 1) & (slotCount - 1) }
        hashes[slot] = hash
        let span = spans + slot * 4
        span[0] = UInt32(wordBytesUsed)
        span[1] = UInt32(word.count)
        span[2] = UInt32(idsUsed)
        span[3] = UInt32(wordIds.count)
        (wordBytes + wordBytesUsed).update(from: wordBase, count: word.count)
        (ids + idsUsed).update(from: idsBase, count: wordIds.count)
        wordBytesUsed += word.count
        idsUsed += wordIds.count
        wordCount += 1
    }

    private func removeAll() {
        hashes.update(repeating: 0, count: slotCount)
        wordCount = 0
        wordBytesUsed = 0
        idsUsed = 0
    }
}
