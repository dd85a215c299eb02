// ByteTokenizer.swift — the simplest tokenizer: one id per UTF-8 byte (0–255), plus an
// end-of-text id 256. Useful for tests and for training without a vocabulary.

/// A tokenizer whose ids are the UTF-8 bytes of the text; id 256 ends a document.
public struct ByteTokenizer: Tokenizer {
    public init() {}

    public var vocabularySize: Int { 257 }
    public var endOfText: Int32? { 256 }
    public var specialTokens: [String: Int32] { ["<|endoftext|>": 256] }

    /// The text's bytes (there is no post-processor: `addSpecialTokens` changes nothing).
    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] { text.utf8.map { Int32($0) } }

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) throws -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count)
        for id in ids {
            switch id {
            case 0..<256: bytes.append(UInt8(id))
            case 256: if !skipSpecialTokens { bytes.append(contentsOf: Array("<|endoftext|>".utf8)) }
            default: throw TokenizerError.unknownId(id, vocabularySize: vocabularySize)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Errors raised by tokenizers.
public enum TokenizerError: Error, CustomStringConvertible {
    case unknownId(Int32, vocabularySize: Int)
    /// A tokenizer file that cannot be used: the file and what is wrong with it.
    case invalidFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .unknownId(let id, let size): return "token id \(id) is outside the vocabulary (size \(size))"
        case .invalidFile(let path, let reason): return "\(path): \(reason)"
        }
    }
}
