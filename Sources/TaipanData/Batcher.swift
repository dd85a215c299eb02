// Batcher.swift — (B, L+1) windows of token ids from memory-mapped token shards, in a seeded
// order that is reshuffled every epoch and split disjointly across ranks.
//
// Each shard is cut into windows of L+1 tokens starting every L tokens (consecutive windows
// share one token, so every token but the first of a shard is a target once per epoch);
// windows never cross shards. Epoch e visits the windows in the order of a keyed bijection
// of 0..<W — a 4-round Feistel network on the smallest even power of two ≥ W, walked until
// it lands inside 0..<W — keyed by SplitMix64 of (seed, e). Batch b of rank r takes the
// permuted slots (b·world + r)·B ..< +B, so ranks never share a window, and any batch can
// be computed directly from (epoch, batch): restoring a position is O(1).

/// Where a batcher is: the next batch it will yield.
public struct BatcherPosition: Codable, Equatable, Sendable {
    /// The epoch of the next batch (0-based).
    public var epoch: Int
    /// The index of the next batch within its epoch.
    public var batch: Int
    /// The number of windows the data held, checked on restore so a position is never
    /// applied to different data.
    public var windowCount: Int

    public init(epoch: Int, batch: Int, windowCount: Int) {
        self.epoch = epoch
        self.batch = batch
        self.windowCount = windowCount
    }
}

/// One batch: `batchSize` rows of `sequenceLength + 1` ids, row-major.
public struct Batch: Sendable {
    public var tokens: [Int32]  // (B, L+1)
    public var batchSize: Int
    public var sequenceLength: Int
    /// The position this batch was taken from.
    public var epoch: Int
    public var index: Int
}

/// Yields batches of windows from token shards, resumable from a `BatcherPosition`.
public final class Batcher {
    public let shards: [TokenShard]
    public let batchSize: Int
    public let sequenceLength: Int
    public let seed: UInt64
    public let rank: Int
    public let worldSize: Int
    public let shuffle: Bool
    /// Windows in all shards together.
    public let windowCount: Int
    /// Batches each rank yields per epoch (windows beyond the last full batch wait for a later epoch's order).
    public let batchesPerEpoch: Int
    /// The next batch to yield.
    public private(set) var position: BatcherPosition
    /// First global window index of each shard, and the total at the end: (shards + 1,).
    private let windowStarts: [Int]
    private let permutationBits: Int

    /// Creates a batcher over `shards` yielding `batchSize` windows of `sequenceLength + 1`
    /// ids per batch for `rank` of `worldSize`, shuffled with `seed` unless `shuffle` is false.
    public init(shards: [TokenShard], batchSize: Int, sequenceLength: Int, seed: UInt64,
                rank: Int = 0, worldSize: Int = 1, shuffle: Bool = true) throws {
        guard batchSize >= 1 else { throw DataError.invalidArgument("batch size must be at least 1 (got \(batchSize))") }
        guard sequenceLength >= 1 else { throw DataError.invalidArgument("sequence length must be at least 1 (got \(sequenceLength))") }
        guard worldSize >= 1, rank >= 0, rank < worldSize else {
            throw DataError.invalidArgument("rank \(rank) is not in 0..<\(worldSize)")
        }
        guard !shards.isEmpty else { throw DataError.notEnoughData("no token shards to batch from") }
        self.shards = shards
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.seed = seed
        self.rank = rank
        self.worldSize = worldSize
        self.shuffle = shuffle
        var starts = [0]
        for shard in shards { starts.append(starts.last! + max(0, (shard.tokenCount - 1) / sequenceLength)) }
        windowStarts = starts
        windowCount = starts.last!
        let perBatch = batchSize * worldSize
        batchesPerEpoch = windowCount / perBatch
        guard batchesPerEpoch >= 1 else {
            let tokens = shards.reduce(0) { $0 + $1.tokenCount }
            throw DataError.notEnoughData(
                "\(tokens) tokens in \(shards.count) shard(s) give \(windowCount) windows of \(sequenceLength + 1) tokens, "
                    + "but one batch needs \(perBatch) (batch size \(batchSize) × \(worldSize) rank(s))")
        }
        var bits = 2
        while (1 << bits) < windowCount { bits += 2 }
        permutationBits = bits
        position = BatcherPosition(epoch: 0, batch: 0, windowCount: windowCount)
    }

    /// Continues from `position` (as saved from `position` earlier): the next batch is the
    /// one that followed it, without replaying anything before it.
    public func restore(_ position: BatcherPosition) throws {
        guard position.windowCount == windowCount else {
            throw DataError.invalidArgument(
                "the saved data position was for \(position.windowCount) windows, but this data has \(windowCount): the token shards or the batch shape changed")
        }
        guard position.epoch >= 0, position.batch >= 0, position.batch < batchesPerEpoch else {
            throw DataError.invalidArgument("saved data position (epoch \(position.epoch), batch \(position.batch)) is out of range (\(batchesPerEpoch) batches per epoch)")
        }
        self.position = position
    }

    /// The next batch, advancing the position (into the next epoch after the last batch).
    public func next() -> Batch {
        var tokens = [Int32](repeating: 0, count: batchSize * (sequenceLength + 1))
        let taken = position
        tokens.withUnsafeMutableBufferPointer { fill($0.baseAddress!, epoch: taken.epoch, batch: taken.batch) }
        position.batch += 1
        if position.batch == batchesPerEpoch {
            position.batch = 0
            position.epoch += 1
        }
        return Batch(tokens: tokens, batchSize: batchSize, sequenceLength: sequenceLength, epoch: taken.epoch, index: taken.batch)
    }

    /// The global window indices of batch `batch` of `epoch` for this rank: (B,).
    public func windows(epoch: Int, batch: Int) -> [Int] {
        let first = (batch * worldSize + rank) * batchSize
        let keys = roundKeys(epoch: epoch)
        return (0..<batchSize).map { permute(first + $0, keys: keys) }
    }

    /// Writes batch `batch` of `epoch` into `output`: (B, L+1) ids.
    public func fill(_ output: UnsafeMutablePointer<Int32>, epoch: Int, batch: Int) {
        let rowLength = sequenceLength + 1
        for (row, window) in windows(epoch: epoch, batch: batch).enumerated() {
            let shardIndex = shardContaining(window: window)
            let start = (window - windowStarts[shardIndex]) * sequenceLength
            shards[shardIndex].copyTokens(from: start, count: rowLength, into: output + row * rowLength)
        }
    }

    /// The shard holding global window `window` (binary search over `windowStarts`).
    private func shardContaining(window: Int) -> Int {
        var low = 0, high = shards.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if windowStarts[middle] <= window { low = middle } else { high = middle - 1 }
        }
        return low
    }

    private func roundKeys(epoch: Int) -> [UInt64] {
        var generator = SplitMix64(seed: SplitMix64.mix(seed) ^ SplitMix64.mix(UInt64(bitPattern: Int64(epoch)) &+ 0x5DEE_CE66D))
        return (0..<4).map { _ in generator.next() }
    }

    /// Slot `slot` of the epoch's order: a bijection of 0..<windowCount.
    private func permute(_ slot: Int, keys: [UInt64]) -> Int {
        guard shuffle else { return slot }
        let halfBits = UInt64(permutationBits / 2), halfMask = (UInt64(1) << halfBits) - 1
        var value = UInt64(slot)
        repeat {
            var left = value >> halfBits, right = value & halfMask
            for key in keys {
                (left, right) = (right, left ^ (SplitMix64.mix(right ^ key) & halfMask))
            }
            value = left << halfBits | right
        } while value >= UInt64(windowCount)
        return Int(value)
    }
}
