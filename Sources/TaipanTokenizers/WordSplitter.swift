// WordSplitter.swift — the text side of a tokenizer, in the order of Hugging Face `tokenizers`:
// added tokens cut out of the raw text, each piece normalised (Normalizers.swift), added tokens
// matched in normalised text cut out, and the rest split into words (PreTokenizers.swift).
// The tokenizer encodes the words it yields; the trainer counts them.

import Foundation

/// Cuts text into added tokens and the words that the BPE model encodes.
struct WordSplitter: Sendable {
    let normalizer: NormalizerPipeline
    let preTokenizer: PreTokenizerPipeline
    /// Added tokens matched in the raw text (`normalized: false`).
    private let rawTokens: AddedTokenMatcher
    /// Added tokens matched in normalised text (`normalized: true`).
    private let normalizedTokens: AddedTokenMatcher

    /// What the splitter yields: an added token, or a word to encode.
    enum Word {
        case token(Int32)
        case text(TextPiece)
    }

    /// The splitter of `file`'s components around `addedTokens` (numbered already); `path`
    /// names the file in errors. A split pattern that no scanner knows runs through
    /// NSRegularExpression, far slower; a warning says so on standard error.
    init(_ file: TokenizerFile, addedTokens: [AddedToken], path: String) throws {
        do {
            normalizer = try NormalizerPipeline(file.normalizer, key: "normalizer")
            preTokenizer = try PreTokenizerPipeline(file.preTokenizer, key: "pre_tokenizer")
        } catch {
            throw TokenizerError.invalidFile(path: path, reason: "key '\(error.key)' \(error.reason)")
        }
        for pattern in preTokenizer.generalPatterns {
            let warning = "warning: \(path): the split pattern \(TokenizerFile.quote(pattern)) has no fast scanner; "
                + "it runs through NSRegularExpression, which is much slower\n"
            FileHandle.standardError.write(Data(warning.utf8))
        }
        let raw = addedTokens.filter { !$0.normalized }
        let normalized = addedTokens.filter { $0.normalized }
        rawTokens = AddedTokenMatcher(tokens: raw, contents: raw.map(\.content))
        let normalizer = normalizer
        normalizedTokens = AddedTokenMatcher(tokens: normalized, contents: normalized.map { normalizer.normalize($0.content) })
    }

    /// Calls `body` with the added tokens and the words of `text` (UTF-8), in order.
    func forEachWord(_ text: UnsafeBufferPointer<UInt8>, _ body: (Word) -> Void) {
        if rawTokens.isEmpty {
            normalizeAndSplit(text, first: true, body)
            return
        }
        rawTokens.split(text) { piece in
            switch piece {
            case .token(let id): body(.token(id))
            case .text(let range):
                normalizeAndSplit(UnsafeBufferPointer(rebasing: text[range]), first: range.lowerBound == 0, body)
            }
        }
    }

    private func normalizeAndSplit(_ text: UnsafeBufferPointer<UInt8>, first: Bool, _ body: (Word) -> Void) {
        if let normalized = normalizer.normalize(text) {
            normalized.withUnsafeBufferPointer { splitNormalized($0, first: first, body) }
        } else {
            splitNormalized(text, first: first, body)
        }
    }

    private func splitNormalized(_ text: UnsafeBufferPointer<UInt8>, first: Bool, _ body: (Word) -> Void) {
        if normalizedTokens.isEmpty {
            preTokenizer.forEachWord(TextPiece(bytes: text, byteLevel: false, first: first)) { body(.text($0)) }
            return
        }
        normalizedTokens.split(text) { piece in
            switch piece {
            case .token(let id): body(.token(id))
            case .text(let range):
                let part = TextPiece(
                    bytes: UnsafeBufferPointer(rebasing: text[range]), byteLevel: false, first: first && range.lowerBound == 0)
                preTokenizer.forEachWord(part) { body(.text($0)) }
            }
        }
    }
}
