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
        public let decoded: String
    }

    public static func cases() throws -> [Case] {
        let data = try Data(contentsOf: directory.appendingPathComponent("expected.json"))
        return try JSONDecoder().decode([Case].self, from: data)
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

