// BPETokenizer.swift — a BPE tokenizer loaded from a Hugging Face `tokenizer.json`, giving the
// ids of the `tokenizers` library id for id: text is cut into added tokens and words
// (WordSplitter.swift), each word goes through the BPE model (BPEModel.swift), and the
// post-processor's special tokens go around the ids when asked for (PostProcessors.swift).
// Decoding runs the decoders (Decoders.swift) over the ids' token strings.

import Foundation

/// A BPE tokenizer: byte-level (GPT-2, GPT-NeoX, cl100k/Llama-3, o200k, Qwen-2, Falcon) or
/// SentencePiece-style with byte fallback (Llama-2, Mistral).
public struct BPETokenizer: Tokenizer {
    public let vocabularySize: Int
    public let endOfText: Int32?
    public let specialTokens: [String: Int32]
    public let specialTokensAround: (before: [Int32], after: [Int32])

    private let model: BPEModel
    private let splitter: WordSplitter
    private let decoder: TokenDecoder?
    /// The post-processor's templates; nil when it adds no tokens.
    private let template: SpecialTokenTemplate?
    /// Whether each id is a special added token (left out by `skipSpecialTokens`).
    private let isSpecial: [Bool]
    /// The string each id stands for as the decoders see it (`nil` for ids that are not in the
    /// vocabulary).
    private let tokenStrings: [String?]
    /// The bytes each id decodes to, when the decoder is `ByteLevel` alone (the common case,
    /// decoded without building strings).
    private let decodedBytes: [[UInt8]?]?
    private let states = EncoderStatePool()

    /// The names of the token that ends a document (`endOfText`), in the order they are
    /// looked for among the added tokens and the vocabulary.
    public static let endOfTextNames = ["<|endoftext|>", "<|end_of_text|>", "</s>", "<|im_end|>", "<eos>"]

    /// Loads a `tokenizer.json`; throws `TokenizerError.invalidFile` naming the file and the
    /// key when it cannot be used.
    public init(contentsOf path: String) throws {
        try self.init(try TokenizerFile(contentsOf: path), path: path)
    }

    /// A tokenizer for the contents of a `tokenizer.json` (`path` names it in errors).
    public init(_ file: TokenizerFile, path: String = "tokenizer.json") throws {
        decoder = file.decoder
        let addedTokens = BPETokenizer.numbered(file.addedTokens, vocabulary: file.vocabulary)
        splitter = try WordSplitter(file, addedTokens: addedTokens, path: path)

        var size = 0
        for id in file.vocabulary.values { size = max(size, Int(id) + 1) }
        for token in addedTokens { size = max(size, Int(token.id) + 1) }
        vocabularySize = size

        var strings = [String?](repeating: nil, count: size)
        for (token, id) in file.vocabulary { strings[Int(id)] = token }
        // `tokenizers` gives a normalised added token's content back as the normalizer writes it.
        let normalizer = splitter.normalizer
        for token in addedTokens { strings[Int(token.id)] = token.normalized ? normalizer.normalize(token.content) : token.content }
        tokenStrings = strings
        decodedBytes = file.decoder == .byteLevel
            ? strings.map { token in token.map { ByteLevel.decode($0) ?? Array($0.utf8) } } : nil

        var special: [String: Int32] = [:]
        for token in addedTokens where token.special { special[token.content] = token.id }
        specialTokens = special
        var specialIds = [Bool](repeating: false, count: size)
        for id in special.values { specialIds[Int(id)] = true }
        isSpecial = specialIds

        do {
            template = try file.postProcessor?.specialTokenTemplate(key: "post_processor")
        } catch {
            throw TokenizerError.invalidFile(path: path, reason: "key '\(error.key)' \(error.reason)")
        }
        for id in template?.ids ?? [] where Int(id) >= size || strings[Int(id)] == nil {
            throw TokenizerError.invalidFile(path: path, reason: "key 'post_processor' adds id \(id), which is not a token of the vocabulary or added_tokens")
        }
        specialTokensAround = template?.around ?? ([], [])
        endOfText = Self.endOfTextNames.lazy.compactMap { name in
            addedTokens.first { $0.content == name }?.id ?? file.vocabulary[name]
        }.first
        model = BPEModel(file, byteLevel: file.preTokenizer?.producesByteLevel ?? false)
    }

    /// The added tokens with the ids the `tokenizers` library gives them, whatever the file
    /// says: a token in the vocabulary takes its vocabulary id; any other takes the next id
    /// from the vocabulary's entry count up. Empty tokens and exact repeats are dropped; a
    /// token repeated with other flags keeps its first id and its last flags.
    static func numbered(_ tokens: [AddedToken], vocabulary: [String: Int32]) -> [AddedToken] {
        var idsByContent: [[UInt8]: Int32] = [:]
        var tokensById: [Int32: AddedToken] = [:]
        var order: [Int32] = []
        var largest: Int32? = nil
        let entryCount = Int32(vocabulary.count)
        for var token in tokens {
            let content = Array(token.content.utf8)
            let isRepeat = tokensById.values.contains { known in
                var renumbered = token
                renumbered.id = known.id
                return Array(known.content.utf8) == content && known == renumbered
            }
            if content.isEmpty || isRepeat { continue }
            let id: Int32
            if let known = idsByContent[content] ?? vocabulary[token.content] {
                id = known
            } else if let largest, largest >= entryCount || entryCount == 0 {
                id = largest + 1
            } else {
                id = entryCount
            }
            idsByContent[content] = id
            largest = max(largest ?? id, id)
            token.id = id
            if tokensById[id] == nil { order.append(id) }
            tokensById[id] = token
        }
        return order.compactMap { tokensById[$0] }
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        let ids = encodeText(text)
        guard let template, addSpecialTokens else { return ids }
        return template.apply([ids], addSpecialTokens: true)
    }

    /// Encodes a pair of texts (`encode((first, second))` of Hugging Face), in the
    /// post-processor's pair template; without one, the ids of `first` then of `second`.
    public func encode(_ first: String, pair second: String, addSpecialTokens: Bool = true) -> [Int32] {
        let sequences = [encodeText(first), encodeText(second)]
        guard let template else { return sequences[0] + sequences[1] }
        return template.apply(sequences, addSpecialTokens: addSpecialTokens)
    }

    /// The ids of `text` alone.
    private func encodeText(_ text: String) -> [Int32] {
        var text = text
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 1)
        let state = states.take()
        defer { states.give(state) }
        text.withUTF8 { bytes in
            splitter.forEachWord(bytes) { word in
                switch word {
                case .token(let id): ids.append(id)
                case .text(let piece): model.encode(piece.bytes, state, &ids)
                }
            }
        }
        return ids
    }

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) throws -> String {
        for id in ids where id < 0 || Int(id) >= tokenStrings.count || tokenStrings[Int(id)] == nil {
            throw TokenizerError.unknownId(id, vocabularySize: vocabularySize)
        }
        let ids = skipSpecialTokens ? ids.filter { !isSpecial[Int($0)] } : ids
        if let decodedBytes {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(ids.count * 4)
            for id in ids { bytes.append(contentsOf: decodedBytes[Int(id)] ?? []) }
            return String(decoding: bytes, as: UTF8.self)
        }
        let tokens = ids.map { tokenStrings[Int($0)] ?? "" }
        return decoder?.decode(tokens) ?? tokens.joined(separator: " ")
    }
}
