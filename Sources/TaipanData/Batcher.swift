// Batcher.swift — (B, L+1) windows of token ids from memory-mapped token shards, in a seeded
// order that is reshuffled every epoch and split disjointly across ranks.
//
// Each shard is cut into windows of L+1 tokens starting every L tokens (consecutive windows
// share one token, so every token but the first of a shard is a target once per epoch);
// windows never cross shards. Epoch e visits the windows in the order of a keyed bijection
// of 0..<W — a 4-round Feistel network on the smallest even power of two ≥ W, walked until
// it lands inside 0..<W — keyed by SplitMix64 of (seed, e). Global batch b is the permuted
// slots b·B ..< (b+1)·B whatever the number of ranks; rank r of R takes its rows
// ⌊r·B/R⌋ ..< ⌊(r+1)·B/R⌋ of it. So ranks never share a window, a configuration trains on
// the same windows at any R, a position means the same at any R, and any batch can be
// computed directly from (epoch, batch): restoring a position is O(1).
//
// Shards of prompt/completion examples (version 2) are batched padded, not packed: window w
// is example w alone, in a row of its own from the row's start, cut after L+1 ids and padded
// with id 0; the batch's mask says which ids are targets the loss counts (the completion's
// and the end-of-text, never padding). A Mamba carries its recurrent state along a row, so in
// a packed row an example would start from the state the previous one left; alone in its row
// it starts from the zero state, as it does when the fine-tuned model is prompted. That costs
// the padding's compute, which short examples and a `sequence_length` near their length keep
// small.

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

/// One batch (this rank's rows of it): `batchSize` rows of `sequenceLength + 1` ids, row-major.
public struct Batch: Sendable {
    public var tokens: [Int32]  // (rows, L+1)
    /// For examples, whether each id is a target the loss counts; nil for text, where all are.
    public var counted: [Bool]?  // (rows, L+1)
    /// Where the model reads other ids than the row's (selective copying's blanked answers):
    /// the id read at each position, the last of a row unused; nil: the row's own ids.
    public var inputs: [Int32]?  // (rows, L+1)
    /// The rows this rank holds.
    public var batchSize: Int
    public var sequenceLength: Int
    /// The position this batch was taken from.
    public var epoch: Int
    public var index: Int
}

/// Yields batches of windows from token shards, resumable from a `BatcherPosition`.
public final class Batcher {
    public let shards: [TokenShard]
    /// B: windows in one global batch, all ranks together.
    public let batchSize: Int
    public let sequenceLength: Int
    public let seed: UInt64
    public let rank: Int
    public let worldSize: Int
    /// The rows of each global batch that this rank takes.
    public let rows: Range<Int>
    public let shuffle: Bool
    /// Windows in all shards together (for examples: the examples).
    public let windowCount: Int
    /// True when the shards hold prompt/completion examples, batched one a row.
    public let examples: Bool
    /// Examples longer than a row (L+1 ids), whose ends are cut off.
    public let truncatedExamples: Int
    /// Batches per epoch (windows beyond the last full batch wait for a later epoch's order).
    public let batchesPerEpoch: Int
    /// The next batch to yield.
    public private(set) var position: BatcherPosition
    /// First global window index of each shard, and the total at the end: (shards + 1,).
    private let windowStarts: [Int]
    private let permutationBits: Int

    /// Creates a batcher over `shards` for global batches of `batchSize` windows of
    /// `sequenceLength + 1` ids, of which it yields the rows of `rank` of `worldSize`,
    /// shuffled with `seed` unless `shuffle` is false.
    public init(shards: [TokenShard], batchSize: Int, sequenceLength: Int, seed: UInt64,
                rank: Int = 0, worldSize: Int = 1, shuffle: Bool = true) throws {
        guard batchSize >= 1 else { throw DataError.invalidArgument("batch size must be at least 1 (got \(batchSize))") }
        guard sequenceLength >= 1 else { throw DataError.invalidArgument("sequence length must be at least 1 (got \(sequenceLength))") }
        guard worldSize >= 1, rank >= 0, rank < worldSize else {
            throw DataError.invalidArgument("rank \(rank) is not in 0..<\(worldSize)")
        }
        guard worldSize <= batchSize else {
            throw DataError.invalidArgument(
                "a batch of \(batchSize) cannot be shared by \(worldSize) ranks: every rank needs at least one row; raise the batch size or use fewer ranks")
        }
        guard !shards.isEmpty else { throw DataError.notEnoughData("no token shards to batch from") }
        let examples = shards[0].hasExamples
        self.examples = examples
        if let other = shards.first(where: { $0.hasExamples != examples }) {
            throw DataError.invalidArgument(
                "\(other.path) holds \(other.hasExamples ? "prompt/completion examples" : "text") but \(shards[0].path) does not: one run takes one kind of data")
        }
        self.shards = shards
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.seed = seed
        self.rank = rank
        self.worldSize = worldSize
        rows = (rank * batchSize / worldSize)..<((rank + 1) * batchSize / worldSize)
        self.shuffle = shuffle
        var starts = [0], truncated = 0
        for shard in shards {
            starts.append(starts[starts.count - 1] + (examples ? shard.documentCount : max(0, (shard.tokenCount - 1) / sequenceLength)))
            if examples { truncated += (0..<shard.documentCount).count { shard.exampleRange($0).count > sequenceLength + 1 } }
        }
        windowStarts = starts
        windowCount = starts[starts.count - 1]
        truncatedExamples = truncated
        batchesPerEpoch = windowCount / batchSize
        guard batchesPerEpoch >= 1 else {
            let tokens = shards.reduce(0) { $0 + $1.tokenCount }
            throw DataError.notEnoughData(
                examples ? "\(windowCount) examples in \(shards.count) shard(s), but one batch needs \(batchSize)"
                    : "\(tokens) tokens in \(shards.count) shard(s) give \(windowCount) windows of \(sequenceLength + 1) tokens, "
                    + "but one batch needs \(batchSize)")
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

    /// This rank's rows of the next batch, advancing the position (into the next epoch after
    /// the last batch).
    public func next() -> Batch {
        let taken = position
        let (tokens, counted, _) = batch(epoch: taken.epoch, index: taken.batch)
        position.batch += 1
        if position.batch == batchesPerEpoch {
            position.batch = 0
            position.epoch += 1
        }
        return Batch(tokens: tokens, counted: counted, batchSize: rows.count, sequenceLength: sequenceLength, epoch: taken.epoch, index: taken.batch)
    }

    /// This rank's rows of batch `index` of `epoch` (whatever the position): (rows, L+1) ids,
    /// and for examples which of them the loss counts.
    public func batch(epoch: Int, index: Int) -> (tokens: [Int32], counted: [Bool]?, inputs: [Int32]?) {
        let rowLength = sequenceLength + 1
        var tokens = [Int32](repeating: 0, count: rows.count * rowLength)
        var counted = examples ? [Bool](repeating: false, count: rows.count * rowLength) : nil
        for (row, window) in windows(epoch: epoch, batch: index).enumerated() {
            let shardIndex = shardContaining(window: window)
            let shard = shards[shardIndex], output = row * rowLength
            if examples {
                let ids = shard.exampleRange(window - windowStarts[shardIndex])
                let count = min(ids.count, rowLength)
                tokens.withUnsafeMutableBufferPointer { shard.copyTokens(from: ids.lowerBound, count: count, into: $0.baseAddress! + output) }
                for offset in 0..<count { counted?[output + offset] = shard.isCounted(ids.lowerBound + offset) }
            } else {
                let start = (window - windowStarts[shardIndex]) * sequenceLength
                tokens.withUnsafeMutableBufferPointer { shard.copyTokens(from: start, count: rowLength, into: $0.baseAddress! + output) }
            }
        }
        return (tokens, counted, nil)
    }

    /// The global window indices of this rank's rows of batch `batch` of `epoch`: (rows,).
    public func windows(epoch: Int, batch: Int) -> [Int] {
        let first = batch * batchSize
        let keys = roundKeys(epoch: epoch)
        return rows.map { permute(first + $0, keys: keys) }
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
