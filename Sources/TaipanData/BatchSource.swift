// BatchSource.swift — what the trainer asks of its data: batches of (rows, L+1) ids with the
// targets the loss counts, from a position that a checkpoint saves and a resume restores.
// Token shards (`Batcher`) and the synthetic tasks (`SyntheticBatcher`) are both sources.

/// Batches of next-token rows, resumable from a `BatcherPosition`.
public protocol BatchSource: AnyObject {
    /// L: each row holds L + 1 ids.
    var sequenceLength: Int { get }
    /// The rows of every global batch that this rank takes.
    var rows: Range<Int> { get }
    /// Batches per epoch (`Int.max` for a source that never runs out).
    var batchesPerEpoch: Int { get }
    /// The next batch `next()` yields.
    var position: BatcherPosition { get }
    /// Continues from a position saved earlier.
    func restore(_ position: BatcherPosition) throws
    /// This rank's rows of the next batch, advancing the position.
    func next() -> Batch
    /// This rank's rows of batch `index` of `epoch`, whatever the position: (rows, L+1) ids,
    /// which of them the loss counts (nil: all), and the ids the model reads where they are not
    /// the row's own (`Batch.inputs`; nil: the row's).
    func batch(epoch: Int, index: Int) -> (tokens: [Int32], counted: [Bool]?, inputs: [Int32]?)
}

extension Batcher: BatchSource {}
