// Tokenizer.swift — the protocol every tokenizer implements (byte-level, BPE from a Hugging
// Face tokenizer.json, trained BPE), so the data pipeline and generation never care which.

import Dispatch

/// Turns text into token ids and back.
public protocol Tokenizer: Sendable {
    /// The number of ids the tokenizer can produce (the model's minimum vocabulary size).
    var vocabularySize: Int { get }
    /// The id appended after every document, if the tokenizer has one.
    var endOfText: Int32? { get }
    /// Special tokens by their text (`<|endoftext|>`), matched before any other splitting.
    var specialTokens: [String: Int32] { get }
    /// Encodes `text` into ids.
    func encode(_ text: String) -> [Int32]
    /// Decodes ids back into text; ids outside the vocabulary are an error.
    func decode(_ ids: [Int32]) throws -> String
}

extension Tokenizer {
    /// Encodes many documents on `threads` threads: the documents are cut into `threads`
    /// contiguous groups of about equal size in bytes, and the ids come back in input order,
    /// the same for any thread count.
    public func encode(_ documents: [String], threads: Int) -> [[Int32]] {
        let groups = max(1, min(threads, documents.count))
        if groups == 1 { return documents.map { encode($0) } }
        var groupEnds: [Int] = []
        let totalBytes = documents.reduce(0) { $0 + $1.utf8.count }
        var bytesSoFar = 0
        for (index, document) in documents.enumerated() {
            bytesSoFar += document.utf8.count
            if bytesSoFar * groups >= (groupEnds.count + 1) * totalBytes, groupEnds.count < groups - 1 {
                groupEnds.append(index + 1)
            }
        }
        groupEnds.append(documents.count)
        let ends = groupEnds
        var results = [[Int32]](repeating: [], count: documents.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let shared = UncheckedSendableBox(buffer)
            DispatchQueue.concurrentPerform(iterations: ends.count) { group in
                let start = group == 0 ? 0 : ends[group - 1]
                for index in start..<ends[group] { shared.value[index] = encode(documents[index]) }
            }
        }
        return results
    }
}
