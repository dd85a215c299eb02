// TokenizerFile.swift — reading and writing the Hugging Face `tokenizers` file format
// (`tokenizer.json`, format version 1.0) for byte-level BPE: the `BPE` model with its vocab
// and merges, `added_tokens`, an optional `NFC` normalizer, the `ByteLevel` pre-tokenizer,
// decoder and post-processor. Anything else is refused with the key that holds it.

import Foundation

/// The contents of a byte-level BPE `tokenizer.json`.
public struct TokenizerFile: Sendable, Equatable {
    /// A merge of two vocabulary entries (byte-level strings), in rank order.
    public struct Merge: Sendable, Equatable {
        public var left: String
        public var right: String
        public init(_ left: String, _ right: String) {
            self.left = left
            self.right = right
        }
    }

    /// `model.vocab`: byte-level strings (`Ġthe`) and their ids.
    public var vocabulary: [String: Int32]
    /// `model.merges`, the first merge ranking highest.
    public var merges: [Merge]
    /// `added_tokens`.
    public var addedTokens: [AddedToken]
    /// Whether text is put in Unicode normalization form C first (`"normalizer": {"type": "NFC"}`).
    public var normalizesNFC: Bool
    /// The `ByteLevel` pre-tokenizer's `add_prefix_space`.
    public var addPrefixSpace: Bool
    /// The `ByteLevel` pre-tokenizer's `use_regex`.
    public var useRegex: Bool
    /// `model.ignore_merges`: words found whole in the vocabulary skip the merges.
    public var ignoreMerges: Bool
    /// `model.unk_token`, stood in for bytes missing from the vocabulary.
    public var unknownToken: String?

    public init(
        vocabulary: [String: Int32], merges: [Merge], addedTokens: [AddedToken],
        normalizesNFC: Bool, addPrefixSpace: Bool = false, useRegex: Bool = true,
        ignoreMerges: Bool = false, unknownToken: String? = nil
    ) {
        self.vocabulary = vocabulary
        self.merges = merges
        self.addedTokens = addedTokens
        self.normalizesNFC = normalizesNFC
        self.addPrefixSpace = addPrefixSpace
        self.useRegex = useRegex
        self.ignoreMerges = ignoreMerges
        self.unknownToken = unknownToken
    }

    /// Reads `path`; throws `TokenizerError.invalidFile` naming the file and the key at fault.
    public init(contentsOf path: String) throws {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.invalidFile(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(json: bytes, path: path)
    }

    /// Parses the bytes of a `tokenizer.json`; `path` names the file in errors.
    public init(json: Data, path: String) throws {
        let reader = Reader(path: path)
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
        } catch {
            throw reader.error("is not valid JSON (\(error.localizedDescription))")
        }
        guard let top = root as? [String: Any] else { throw reader.error("is not a JSON object") }

        guard let model = top["model"] as? [String: Any] else {
            throw reader.error(top["model"] == nil ? "has no key 'model'" : "key 'model' is not an object")
        }
        if let type = model["type"], (type as? String) != "BPE" {
            throw reader.error("key 'model.type' is \(Reader.describe(type)); only byte-level BPE models are supported")
        }
        for key in ["truncation", "padding"] where !Reader.isNull(top[key]) {
            throw reader.error("key '\(key)' is set; truncation and padding are not supported")
        }
        normalizesNFC = try reader.normalizer(top["normalizer"])
        let preTokenizer = try reader.byteLevel(top["pre_tokenizer"], key: "pre_tokenizer", required: true)
        addPrefixSpace = try reader.bool(preTokenizer?["add_prefix_space"], key: "pre_tokenizer.add_prefix_space") ?? false
        useRegex = try reader.bool(preTokenizer?["use_regex"], key: "pre_tokenizer.use_regex") ?? true
        _ = try reader.byteLevel(top["decoder"], key: "decoder", required: true)
        _ = try reader.byteLevel(top["post_processor"], key: "post_processor", required: false)

        for key in ["continuing_subword_prefix", "end_of_word_suffix"] where !Reader.isNull(model[key]) {
            throw reader.error("key 'model.\(key)' is set; byte-level BPE has none")
        }
        if !Reader.isNull(model["dropout"]), (model["dropout"] as? Double) != 0 {
            throw reader.error("key 'model.dropout' is set; BPE dropout is not supported")
        }
        ignoreMerges = try reader.bool(model["ignore_merges"], key: "model.ignore_merges") ?? false
        unknownToken = Reader.isNull(model["unk_token"]) ? nil : try reader.string(model["unk_token"], key: "model.unk_token")

        guard let vocab = model["vocab"] as? [String: Any] else { throw reader.error("key 'model.vocab' is missing or not an object") }
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            vocabulary[token] = try reader.id(value, key: "model.vocab[\(Reader.quote(token))]")
        }
        self.vocabulary = vocabulary

        guard let mergeList = model["merges"] as? [Any] else { throw reader.error("key 'model.merges' is missing or not an array") }
        var merges: [Merge] = []
        merges.reserveCapacity(mergeList.count)
        for (index, entry) in mergeList.enumerated() {
            let key = "model.merges[\(index)]"
            let parts: [String]
            if let text = entry as? String {
                parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let pair = entry as? [Any] {
                parts = pair.compactMap { $0 as? String }
                if parts.count != pair.count { throw reader.error("key '\(key)' holds a non-string") }
            } else {
                throw reader.error("key '\(key)' is neither \"a b\" nor [\"a\", \"b\"]")
            }
            guard parts.count == 2 else { throw reader.error("key '\(key)' does not hold exactly two tokens") }
            for part in parts + [parts[0] + parts[1]] where vocabulary[part] == nil {
                throw reader.error("key '\(key)': \(Reader.quote(part)) is not in model.vocab")
            }
            merges.append(Merge(parts[0], parts[1]))
        }
        self.merges = merges

        var addedTokens: [AddedToken] = []
        if let list = top["added_tokens"], !Reader.isNull(list) {
            guard let entries = list as? [Any] else { throw reader.error("key 'added_tokens' is not an array") }
            for (index, entry) in entries.enumerated() {
                let key = "added_tokens[\(index)]"
                guard let fields = entry as? [String: Any] else { throw reader.error("key '\(key)' is not an object") }
                let special = try reader.bool(fields["special"], key: key + ".special") ?? false
                addedTokens.append(AddedToken(
                    id: try reader.id(fields["id"] as Any, key: key + ".id"),
                    content: try reader.string(fields["content"], key: key + ".content"),
                    special: special,
                    normalized: try reader.bool(fields["normalized"], key: key + ".normalized"),
                    leftStrip: try reader.bool(fields["lstrip"], key: key + ".lstrip") ?? false,
                    rightStrip: try reader.bool(fields["rstrip"], key: key + ".rstrip") ?? false,
                    singleWord: try reader.bool(fields["single_word"], key: key + ".single_word") ?? false))
            }
        }
        self.addedTokens = addedTokens
    }

    /// The file as `tokenizers` writes it: keys in its order, vocabulary by id, merges as pairs.
    public func json() -> String {
        var out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        for (index, token) in addedTokens.enumerated() {
            out += index == 0 ? "\n" : ",\n"
            out += "    {\"id\": \(token.id), \"content\": \(Self.quote(token.content)), "
            out += "\"single_word\": \(token.singleWord), \"lstrip\": \(token.leftStrip), "
            out += "\"rstrip\": \(token.rightStrip), \"normalized\": \(token.normalized), \"special\": \(token.special)}"
        }
        out += addedTokens.isEmpty ? "],\n" : "\n  ],\n"
        out += "  \"normalizer\": " + (normalizesNFC ? "{\"type\": \"NFC\"}" : "null") + ",\n"
        let byteLevel = "\"type\": \"ByteLevel\", \"add_prefix_space\": \(addPrefixSpace), \"trim_offsets\": true, \"use_regex\": \(useRegex)"
        out += "  \"pre_tokenizer\": {\(byteLevel)},\n"
        out += "  \"post_processor\": {\(byteLevel)},\n"
        out += "  \"decoder\": {\(byteLevel)},\n"
        out += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
        out += "    \"unk_token\": \(unknownToken.map(Self.quote) ?? "null"),\n"
        out += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
        out += "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": \(ignoreMerges),\n"
        out += "    \"vocab\": {"
        for (index, entry) in vocabulary.sorted(by: { $0.value < $1.value }).enumerated() {
            out += (index == 0 ? "\n      " : ",\n      ") + Self.quote(entry.key) + ": \(entry.value)"
        }
        out += "\n    },\n    \"merges\": ["
        for (index, merge) in merges.enumerated() {
            out += (index == 0 ? "\n      [" : ",\n      [") + Self.quote(merge.left) + ", " + Self.quote(merge.right) + "]"
        }
        out += merges.isEmpty ? "]\n  }\n}\n" : "\n    ]\n  }\n}\n"
        return out
    }

    /// Writes the file to `path` through a temporary file and a rename, so a failed write
    /// never leaves half a file behind.
    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try Data(json().utf8).write(to: url, options: .atomic)
        } catch {
            throw TokenizerError.invalidFile(path: path, reason: "cannot be written (\(error.localizedDescription))")
        }
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Typed access to JSON values, with errors that name the file and the key.
private struct Reader {
    let path: String

    func error(_ reason: String) -> TokenizerError { .invalidFile(path: path, reason: reason) }

    static func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }

    static func quote(_ text: String) -> String { TokenizerFile.quote(text) }

    static func describe(_ value: Any) -> String {
        if let text = value as? String { return quote(text) }
        if isNull(value) { return "null" }
        return "\(value)"
    }

    func bool(_ value: Any?, key: String) throws -> Bool? {
        if Reader.isNull(value) { return nil }
        guard let flag = value as? Bool else { throw error("key '\(key)' is not true or false") }
        return flag
    }

    func string(_ value: Any?, key: String) throws -> String {
        guard let text = value as? String else { throw error("key '\(key)' is missing or not a string") }
        return text
    }

    func id(_ value: Any, key: String) throws -> Int32 {
        guard let number = value as? Int, (0...Int(Int32.max)).contains(number) else {
            throw error("key '\(key)' is not a token id (an integer from 0 to \(Int32.max))")
        }
        return Int32(number)
    }

    /// `NFC`, a `Sequence` of `NFC`s, or null; anything else changes ids and is refused.
    func normalizer(_ value: Any?) throws -> Bool {
        if Reader.isNull(value) { return false }
        guard let fields = value as? [String: Any], let type = fields["type"] as? String else {
            throw error("key 'normalizer' is not an object with a 'type'")
        }
        switch type {
        case "NFC": return true
        case "Sequence":
            guard let list = fields["normalizers"] as? [Any] else { throw error("key 'normalizer.normalizers' is not an array") }
            var nfc = false
            for item in list { nfc = try normalizer(item) || nfc }
            return nfc
        default:
            throw error("key 'normalizer' has type \(Reader.quote(type)); only NFC is supported")
        }
    }

    /// The fields of a `ByteLevel` component (alone or the only member of a `Sequence`), or nil
    /// for a null optional component.
    func byteLevel(_ value: Any?, key: String, required: Bool) throws -> [String: Any]? {
        if Reader.isNull(value) {
            if required { throw error("key '\(key)' is null; a byte-level BPE tokenizer needs ByteLevel") }
            return nil
        }
        guard let fields = value as? [String: Any], let type = fields["type"] as? String else {
            throw error("key '\(key)' is not an object with a 'type'")
        }
        if type == "ByteLevel" { return fields }
        if type == "Sequence" {
            let listKey = ["pre_tokenizer": "pretokenizers", "decoder": "decoders", "post_processor": "processors"][key] ?? ""
            if let list = fields[listKey] as? [Any], list.count == 1 {
                return try byteLevel(list[0], key: "\(key).\(listKey)[0]", required: true)
            }
        }
        throw error("key '\(key)' has type \(Reader.quote(type)); only ByteLevel is supported")
    }
}
