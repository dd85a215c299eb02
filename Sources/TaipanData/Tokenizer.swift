// Tokenizer.swift — the protocol every tokenizer implements (byte-level, BPE from a Hugging
// Face tokenizer.json, trained BPE), so the data pipeline and generation never care which.

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
