// MergeTable.swift — the merges of a BPE as an open-addressing hash table from a
// pair of token ids to the merge's rank and the id of the merged token: the lookup at the heart
// of encoding, so it avoids Dictionary's hashing and bounds checks.

/// Maps a pair of token ids to `(rank << 32) | mergedId`, the rank first so that comparing
/// two entries compares their ranks.
final class MergeTable: @unchecked Sendable {
    /// Returned for a pair that has no merge; larger than every entry.
    static let noMerge = UInt64.max

    private let slotCount: Int
    private let shift: UInt64
    /// Keys `(left << 32) | right`, `UInt64.max` for an empty slot. (slotCount)
    private let keys: UnsafeMutablePointer<UInt64>
    /// Entries `(rank << 32) | mergedId`. (slotCount)
    private let entries: UnsafeMutablePointer<UInt64>

    /// A table of `merges` (left id, right id, merged id), ranked by position; a pair listed
    /// twice keeps its last rank, as in `tokenizers`.
    init(_ merges: [(left: Int32, right: Int32, merged: Int32)]) {
        var bits = 4
        while (1 << bits) < 2 * merges.count { bits += 1 }
        slotCount = 1 << bits
        shift = UInt64(64 - bits)
        keys = .allocate(capacity: slotCount)
        keys.initialize(repeating: UInt64.max, count: slotCount)
        entries = .allocate(capacity: slotCount)
        entries.initialize(repeating: MergeTable.noMerge, count: slotCount)
        for (rank, merge) in merges.enumerated() {
            let key = MergeTable.key(merge.left, merge.right)
            var slot = slot(of: key)
            while keys[slot] != UInt64.max, keys[slot] != key { slot = (slot + 1) & (slotCount - 1) }
            keys[slot] = key
            entries[slot] = (UInt64(rank) << 32) | UInt64(UInt32(bitPattern: merge.merged))
        }
    }

    deinit {
        keys.deallocate()
        entries.deallocate()
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: left)) << 32) | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(of key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// `(rank << 32) | mergedId` for the pair, or `noMerge`.
    @inline(__always)
    func entry(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = MergeTable.key(left, right)
        var slot = slot(of: key)
        while true {
            let found = keys[slot]
            if found == key { return entries[slot] }
            if found == UInt64.max { return MergeTable.noMerge }
            slot = (slot + 1) & (slotCount - 1)
        }
    }
}
