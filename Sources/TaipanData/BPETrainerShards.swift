// BPETrainerShards.swift — feeds a `BPETrainer` from text shards: the documents a
// `ShardReader` yields, counted in batches so that memory stays bounded on large inputs.

import TaipanTokenizers

extension BPETrainer {
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
}
