// StreamingDecoder.swift — text of a growing id sequence, handed out piece by piece as the ids
// arrive (`taipan generate` prints each token's text as soon as it is known). A byte-level
// token can end inside a multi-byte UTF-8 character, whose rest comes with the next token:
// the text is given out only up to the last complete character, and the rest once completed
// (or, at the end, as it is).
//
// The whole sequence is decoded again at every step, since decoders may treat the start of a
// text differently (a SentencePiece-style decoder drops the first space); the cost is linear
// in the length a step, small beside a model's step.

import TaipanTokenizers

/// Decodes ids as they arrive into text given out in complete characters.
public struct StreamingDecoder {
    public let tokenizer: any Tokenizer
    /// Whether the special tokens' text is left out (Hugging Face `skip_special_tokens`).
    public let skipSpecialTokens: Bool
    /// Every id so far.
    public private(set) var ids: [Int32] = []
    /// The UTF-8 bytes of the decoded text given out so far.
    private var given = 0

    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds `newIds` and returns the text that they complete: everything new up to the last
    /// complete character (possibly nothing). Throws for an id outside the vocabulary.
    public mutating func append(_ newIds: [Int32]) throws -> String {
        ids += newIds
        let bytes = Array(try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens).utf8)
        // An unfinished character decodes to U+FFFD (EF BF BD) at the end: hold such a run
        // back until a later id completes it (or shows it was invalid bytes after all).
        var end = bytes.count
        while end >= 3 && bytes[(end - 3)..<end] == [0xEF, 0xBF, 0xBD] { end -= 3 }
        return take(bytes, upTo: end)
    }

    /// Returns the text not given out yet, an unfinished character included (as U+FFFD).
    public mutating func finish() throws -> String {
        let bytes = Array(try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens).utf8)
        return take(bytes, upTo: bytes.count)
    }

    private mutating func take(_ bytes: [UInt8], upTo end: Int) -> String {
        guard end > given else { return "" }
        defer { given = end }
        return String(decoding: bytes[given..<end], as: UTF8.self)
    }
}
