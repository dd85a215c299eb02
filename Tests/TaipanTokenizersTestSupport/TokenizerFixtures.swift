// TokenizerFixtures.swift — the tokenizer fixtures of Tests/Fixtures (tokenizer.json files made
// with Hugging Face `tokenizers`, and the ids and decoded strings it gives for test texts),
// shared by the tokenizer and data tests.

import Foundation
import TaipanTokenizers

/// The fixtures of Tests/Fixtures/tokenizer: a byte-level BPE `tokenizer.json` (NFC, 3000 ids,
/// trained with Hugging Face `tokenizers`) and the ids that library gives for a set of texts.
public enum TokenizerFixtures {
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")
    public static let tokenizerPath = directory.appendingPathComponent("tokenizer.json").path

    public struct Case: Decodable {
        public let text: String
        public let ids: [Int32]
        /// The library's decoding of `ids`; nil where it panics (its Strip decoder on "").
        public let decoded: String?
        /// With the post-processor's special tokens (`encode(text)`); absent in older fixtures.
        public let idsWithSpecialTokens: [Int32]?
        /// `encode(text, PAIR)` with and without special tokens.
        public let pairIdsWithSpecialTokens: [Int32]?
        public let pairIds: [Int32]?
        /// `decode(idsWithSpecialTokens)` with the special tokens' text and without.
        public let decodedWithSpecialTokens: String?
        public let decodedSkippingSpecialTokens: String?
    }

    /// The second text of the pairs in the fixtures (make_tokenizer_fixtures.py's PAIR).
    public static let pairText = "And a second text."

    public static func cases() throws -> [Case] {
        try cases(in: directory)
    }

    static func cases(in directory: URL) throws -> [Case] {
        let data = try Data(contentsOf: directory.appendingPathComponent("expected.json"))
        return try JSONDecoder().decode([Case].self, from: data)
    }
}

/// The fixtures of Tests/Fixtures/tokenizers (scripts/make-tokenizer-fixtures.sh): a small
/// tokenizer of each released shape trained with Hugging Face `tokenizers`, the ids and decoded
/// strings it gives for tricky texts, and variants.json: the same vocabularies behind other
/// components, with their expectations.
public enum ShapeFixtures {
    public static let directory = TokenizerFixtures.directory
        .deletingLastPathComponent().appendingPathComponent("tokenizers")

    /// The shapes: cl100k, llama3, o200k, qwen2, falcon, sp-metaspace, sp-prepend, llama2,
    /// bpe-options (llama3 and llama2 with the begin-of-text TemplateProcessing of the released
    /// files).
    public static let shapes = ["cl100k", "llama3", "o200k", "qwen2", "falcon", "sp-metaspace", "sp-prepend", "llama2", "bpe-options"]

    public static func tokenizerPath(_ shape: String) -> String {
        directory.appendingPathComponent(shape).appendingPathComponent("tokenizer.json").path
    }

    public static func cases(_ shape: String) throws -> [TokenizerFixtures.Case] {
        try TokenizerFixtures.cases(in: directory.appendingPathComponent(shape))
    }

    /// A shape's tokenizer.json with some of its components replaced.
    public struct Variant: @unchecked Sendable {
        public let name: String
        /// The tokenizer.json object.
        public let object: [String: Any]
        public let cases: [TokenizerFixtures.Case]
    }

    public static func variants() throws -> [Variant] {
        let data = try Data(contentsOf: directory.appendingPathComponent("variants.json"))
        guard let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        // JSONDecoder for the texts: JSONSerialization loses what follows a NUL character.
        struct Expectations: Decodable { let cases: [TokenizerFixtures.Case] }
        let expectations = try JSONDecoder().decode([Expectations].self, from: data)
        var bases: [String: [String: Any]] = [:]
        return try zip(list, expectations).map { entry, expected in
            let base = entry["base"] as? String ?? ""
            if bases[base] == nil {
                let file = try Data(contentsOf: URL(fileURLWithPath: tokenizerPath(base)))
                bases[base] = try JSONSerialization.jsonObject(with: file) as? [String: Any] ?? [:]
            }
            var object = bases[base] ?? [:]
            for (key, value) in entry["overrides"] as? [String: Any] ?? [:] {
                if key == "model", var model = object["model"] as? [String: Any] {
                    for (field, setting) in value as? [String: Any] ?? [:] { model[field] = setting }
                    object["model"] = model
                } else {
                    object[key] = value
                }
            }
            return Variant(name: entry["name"] as? String ?? "", object: object, cases: expected.cases)
        }
    }
}

/// A minimal byte-level BPE `tokenizer.json` around `model` and `addedTokens` (JSON text).
public func tinyTokenizerJSON(
    vocabulary: [String], merges: String, addedTokens: String = "[]", normalizer: String = "null",
    addPrefixSpace: Bool = false
) -> String {
    var entries = (0..<256).map { "\(TokenizerFile.quote(String(ByteLevel.characters[$0]))): \($0)" }
    for (offset, token) in vocabulary.enumerated() { entries.append("\(TokenizerFile.quote(token)): \(256 + offset)") }
    return """
    {"version": "1.0", "truncation": null, "padding": null, "added_tokens": \(addedTokens),
     "normalizer": \(normalizer),
     "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": \(addPrefixSpace), "trim_offsets": true, "use_regex": true},
     "post_processor": null, "decoder": {"type": "ByteLevel"},
     "model": {"type": "BPE", "dropout": null, "unk_token": null, "vocab": {\(entries.joined(separator: ", "))},
               "merges": \(merges)}}
    """
}

