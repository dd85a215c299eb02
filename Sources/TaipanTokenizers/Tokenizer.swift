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
    /// The ids the tokenizer's post-processor puts before and after a text when special tokens
    /// are added (Llama's begin-of-text token before; some tokenizers' end-of-text after).
    var specialTokensAround: (before: [Int32], after: [Int32]) { get }
    /// Encodes `text` into ids; with `addSpecialTokens`, the post-processor's special tokens go
    /// around them, as Hugging Face `encode(text, add_special_tokens=True)` does.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32]
    /// Decodes ids back into text, leaving out the special tokens' text when
    /// `skipSpecialTokens` (Hugging Face `decode(ids, skip_special_tokens=…)`); ids outside
    /// the vocabulary are an error.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) throws -> String
}

extension Tokenizer {
    public var specialTokensAround: (before: [Int32], after: [Int32]) { ([], []) }

    /// Encodes `text` with the post-processor's special tokens, as Hugging Face `encode(text)`.
    public func encode(_ text: String) -> [Int32] { encode(text, addSpecialTokens: true) }

    /// Decodes ids with the special tokens' text, as Hugging Face `decode(ids)`.
    public func decode(_ ids: [Int32]) throws -> String { try decode(ids, skipSpecialTokens: false) }

    /// A document as training data holds it: the post-processor's special tokens around the
    /// text (Llama's begin-of-text token), then `endOfText`, unless those tokens already end
    /// with it (a template that adds the end-of-text token itself).
    public func encodeDocument(_ text: String, endOfText: Int32) -> [Int32] {
        var ids = encode(text, addSpecialTokens: true)
        if specialTokensAround.after.last != endOfText { ids.append(endOfText) }
        return ids
    }

    /// A prompt and its completion as one document (`encodeDocument` of the two texts, each
    /// encoded apart), and the number of ids up to the end of the prompt.
    public func encodeExample(prompt: String, completion: String, endOfText: Int32) -> (ids: [Int32], promptCount: Int) {
        let (before, after) = specialTokensAround
        let ids = before + encode(prompt, addSpecialTokens: false)
        var all = ids + encode(completion, addSpecialTokens: false) + after
        if after.last != endOfText { all.append(endOfText) }
        return (all, ids.count)
    }

    /// Encodes many documents on `threads` threads: the documents are cut into `threads`
    /// contiguous groups of about equal size in bytes, and the ids come back in input order,
    /// the same for any thread count. `addSpecialTokens` as for one text.
    public func encode(_ documents: [String], threads: Int, addSpecialTokens: Bool = true) -> [[Int32]] {
        let groups = max(1, min(threads, documents.count))
        if groups == 1 { return documents.map { encode($0, addSpecialTokens: addSpecialTokens) } }
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
                for index in start..<ends[group] { shared.value[index] = encode(documents[index], addSpecialTokens: addSpecialTokens) }
            }
        }
        return results
    }
}
