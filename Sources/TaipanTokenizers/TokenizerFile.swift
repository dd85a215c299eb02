// TokenizerFile.swift — reading and writing the Hugging Face `tokenizers` file format
// (`tokenizer.json`, format version 1.0) for BPE models: the vocab and merges with their
// options (`unk_token`, `fuse_unk`, `byte_fallback`, `ignore_merges`,
// `continuing_subword_prefix`, `end_of_word_suffix`), `added_tokens`, and the normalizer,
// pre-tokenizer, post-processor and decoder components this package runs (Normalizers.swift,
// PreTokenizers.swift, PostProcessors.swift, Decoders.swift). Anything else is refused with
// the key that holds it.

import Foundation

/// The contents of a BPE `tokenizer.json`.
public struct TokenizerFile: Sendable, Equatable {
    /// A merge of two vocabulary entries, in rank order.
    public struct Merge: Sendable, Equatable {
        public var left: String
        public var right: String
        public init(_ left: String, _ right: String) {
            self.left = left
            self.right = right
        }
    }

    /// `model.vocab`: token strings (`Ġthe`, `▁the`, `<0x0A>`) and their ids.
    public var vocabulary: [String: Int32]
    /// `model.merges`, the first merge ranking highest.
    public var merges: [Merge]
    /// `added_tokens`.
    public var addedTokens: [AddedToken]
    /// `normalizer`.
    public var normalizer: Normalizer?
    /// `pre_tokenizer`.
    public var preTokenizer: PreTokenizer?
    /// `decoder`.
    public var decoder: TokenDecoder?
    /// `post_processor`: the special tokens `encode` adds around a text (Llama's BOS).
    public var postProcessor: PostProcessor?
    /// `model.ignore_merges`: words found whole in the vocabulary skip the merges.
    public var ignoreMerges: Bool
    /// `model.unk_token`, stood in for characters missing from the vocabulary.
    public var unknownToken: String?
    /// `model.fuse_unk`: neighbouring unknown characters share one unknown token.
    public var fuseUnknown: Bool
    /// `model.byte_fallback`: a missing character becomes its bytes' `<0xNN>` tokens.
    public var byteFallback: Bool
    /// `model.continuing_subword_prefix`, put before every character but a word's first.
    public var continuingSubwordPrefix: String?
    /// `model.end_of_word_suffix`, put after a word's last character.
    public var endOfWordSuffix: String?

    public init(
        vocabulary: [String: Int32], merges: [Merge], addedTokens: [AddedToken],
        normalizer: Normalizer? = nil, preTokenizer: PreTokenizer? = .byteLevel(addPrefixSpace: false, useRegex: true),
        decoder: TokenDecoder? = .byteLevel, ignoreMerges: Bool = false, unknownToken: String? = nil,
        fuseUnknown: Bool = false, byteFallback: Bool = false, continuingSubwordPrefix: String? = nil,
        endOfWordSuffix: String? = nil, postProcessor: PostProcessor? = nil
    ) {
        self.vocabulary = vocabulary
        self.merges = merges
        self.addedTokens = addedTokens
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.decoder = decoder
        self.ignoreMerges = ignoreMerges
        self.unknownToken = unknownToken
        self.fuseUnknown = fuseUnknown
        self.byteFallback = byteFallback
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.endOfWordSuffix = endOfWordSuffix
        self.postProcessor = postProcessor
    }

    /// The most ids a tokenizer may have. The tokenizer keeps a table entry per id up to the
    /// largest, so a few bytes of JSON naming id 2³¹ − 1 would ask for 32 GiB; 2²⁴ is 64 times the
    /// largest vocabularies in use (about 256k ids) and bounds that table at a few hundred MB.
    public static let maximumVocabularySize = 1 << 24

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
        let root: Any
        let reader = Reader(path: path)
        do {
            root = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
        } catch {
            throw reader.error("is not valid JSON (\(error.localizedDescription))")
        }
        guard let top = root as? [String: Any] else { throw reader.error("is not a JSON object") }
        try self.init(object: top, path: path)
    }

    /// Reads a parsed `tokenizer.json` object; `path` names the file in errors.
    public init(object top: [String: Any], path: String) throws {
        let reader = Reader(path: path)
        guard let model = top["model"] as? [String: Any] else {
            throw reader.error(top["model"] == nil ? "has no key 'model'" : "key 'model' is not an object")
        }
        if let type = model["type"], (type as? String) != "BPE" {
            throw reader.error("key 'model.type' is \(Reader.describe(type)); only BPE models are supported")
        }
        for key in ["truncation", "padding"] where !Reader.isNull(top[key]) {
            throw reader.error("key '\(key)' is set; truncation and padding are not supported")
        }
        normalizer = try reader.normalizer(top["normalizer"], key: "normalizer")
        preTokenizer = try reader.preTokenizer(top["pre_tokenizer"], key: "pre_tokenizer")
        decoder = try reader.decoder(top["decoder"], key: "decoder")
        postProcessor = try reader.postProcessor(top["post_processor"], key: "post_processor")

        if !Reader.isNull(model["dropout"]), (model["dropout"] as? Double) != 0 {
            throw reader.error("key 'model.dropout' is set; BPE dropout is not supported")
        }
        ignoreMerges = try reader.bool(model["ignore_merges"], key: "model.ignore_merges") ?? false
        unknownToken = try reader.optionalString(model["unk_token"], key: "model.unk_token")
        fuseUnknown = try reader.bool(model["fuse_unk"], key: "model.fuse_unk") ?? false
        byteFallback = try reader.bool(model["byte_fallback"], key: "model.byte_fallback") ?? false
        continuingSubwordPrefix = try reader.optionalString(model["continuing_subword_prefix"], key: "model.continuing_subword_prefix")
        endOfWordSuffix = try reader.optionalString(model["end_of_word_suffix"], key: "model.end_of_word_suffix")

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
        let prefix = continuingSubwordPrefix ?? ""
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
            for part in parts + [parts[0] + Self.droppingPrefix(prefix, from: parts[1])] where vocabulary[part] == nil {
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

    /// `token` without `prefix` at its start (how a merge's right part loses its
    /// `continuing_subword_prefix` in the merged token).
    static func droppingPrefix(_ prefix: String, from token: String) -> String {
        // Bytes, not Characters: "##" + a combining mark is one Character but starts with "##".
        let prefixBytes = prefix.utf8
        guard !prefixBytes.isEmpty, token.utf8.starts(with: prefixBytes) else { return token }
        return String(decoding: token.utf8.dropFirst(prefixBytes.count), as: UTF8.self)
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
        out += "  \"normalizer\": " + (normalizer.map(Self.json) ?? "null") + ",\n"
        out += "  \"pre_tokenizer\": " + (preTokenizer.map(Self.json) ?? "null") + ",\n"
        out += "  \"post_processor\": " + (postProcessor.map(Self.json) ?? "null") + ",\n"
        out += "  \"decoder\": " + (decoder.map(Self.json) ?? "null") + ",\n"
        out += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
        out += "    \"unk_token\": \(unknownToken.map(Self.quote) ?? "null"),\n"
        out += "    \"continuing_subword_prefix\": \(continuingSubwordPrefix.map(Self.quote) ?? "null"),\n"
        out += "    \"end_of_word_suffix\": \(endOfWordSuffix.map(Self.quote) ?? "null"),\n"
        out += "    \"fuse_unk\": \(fuseUnknown),\n    \"byte_fallback\": \(byteFallback),\n    \"ignore_merges\": \(ignoreMerges),\n"
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

    private static func json(_ pattern: TextPattern) -> String {
        switch pattern {
        case .string(let text): return "{\"String\": \(quote(text))}"
        case .regex(let source): return "{\"Regex\": \(quote(source))}"
        }
    }

    static func json(_ normalizer: Normalizer) -> String {
        switch normalizer {
        case .sequence(let inner): return "{\"type\": \"Sequence\", \"normalizers\": [\(inner.map(json).joined(separator: ", "))]}"
        case .nfc: return "{\"type\": \"NFC\"}"
        case .nfkc: return "{\"type\": \"NFKC\"}"
        case .lowercase: return "{\"type\": \"Lowercase\"}"
        case .strip(let left, let right): return "{\"type\": \"Strip\", \"strip_left\": \(left), \"strip_right\": \(right)}"
        case .prepend(let prefix): return "{\"type\": \"Prepend\", \"prepend\": \(quote(prefix))}"
        case .replace(let pattern, let content):
            return "{\"type\": \"Replace\", \"pattern\": \(json(pattern)), \"content\": \(quote(content))}"
        }
    }

    static func json(_ preTokenizer: PreTokenizer) -> String {
        switch preTokenizer {
        case .sequence(let inner):
            return "{\"type\": \"Sequence\", \"pretokenizers\": [\(inner.map(json).joined(separator: ", "))]}"
        case .split(let pattern, let behavior, let invert):
            return "{\"type\": \"Split\", \"pattern\": \(json(pattern)), \"behavior\": \"\(behavior.rawValue)\", \"invert\": \(invert)}"
        case .punctuation(let behavior): return "{\"type\": \"Punctuation\", \"behavior\": \"\(behavior.rawValue)\"}"
        case .digits(let individual): return "{\"type\": \"Digits\", \"individual_digits\": \(individual)}"
        case .whitespaceSplit: return "{\"type\": \"WhitespaceSplit\"}"
        case .metaspace(let replacement, let scheme, let split):
            return "{\"type\": \"Metaspace\", \"replacement\": \(quote(String(replacement))), \"prepend_scheme\": \"\(scheme.rawValue)\", \"split\": \(split)}"
        case .byteLevel(let addPrefixSpace, let useRegex):
            return "{\"type\": \"ByteLevel\", \"add_prefix_space\": \(addPrefixSpace), \"trim_offsets\": true, \"use_regex\": \(useRegex)}"
        }
    }

    static func json(_ processor: PostProcessor) -> String {
        func token(_ named: NamedTokenId) -> String { "[\(quote(named.token)), \(named.id)]" }
        func template(_ pieces: [TemplatePiece]) -> String {
            "[" + pieces.map { piece in
                switch piece {
                case .sequence(let index, let typeId):
                    return "{\"Sequence\": {\"id\": \"\(index == 0 ? "A" : "B")\", \"type_id\": \(typeId)}}"
                case .specialToken(let name, let typeId):
                    return "{\"SpecialToken\": {\"id\": \(quote(name)), \"type_id\": \(typeId)}}"
                }
            }.joined(separator: ", ") + "]"
        }
        switch processor {
        case .sequence(let inner):
            return "{\"type\": \"Sequence\", \"processors\": [\(inner.map(json).joined(separator: ", "))]}"
        case .byteLevel: return json(PreTokenizer.byteLevel(addPrefixSpace: false, useRegex: true))
        case .template(let single, let pair, let specialTokens):
            let tokens = specialTokens.map { token in
                "\(quote(token.id)): {\"id\": \(quote(token.id)), \"ids\": [\(token.ids.map(String.init).joined(separator: ", "))], "
                    + "\"tokens\": [\(token.tokens.map(quote).joined(separator: ", "))]}"
            }
            return "{\"type\": \"TemplateProcessing\", \"single\": \(template(single)), \"pair\": \(template(pair)), "
                + "\"special_tokens\": {\(tokens.joined(separator: ", "))}}"
        case .roberta(let cls, let sep):
            return "{\"type\": \"RobertaProcessing\", \"sep\": \(token(sep)), \"cls\": \(token(cls)), \"trim_offsets\": true, \"add_prefix_space\": true}"
        case .bert(let cls, let sep):
            return "{\"type\": \"BertProcessing\", \"sep\": \(token(sep)), \"cls\": \(token(cls))}"
        }
    }

    static func json(_ decoder: TokenDecoder) -> String {
        switch decoder {
        case .sequence(let inner): return "{\"type\": \"Sequence\", \"decoders\": [\(inner.map(json).joined(separator: ", "))]}"
        case .byteLevel: return "{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true}"
        case .replace(let pattern, let content):
            return "{\"type\": \"Replace\", \"pattern\": \(json(pattern)), \"content\": \(quote(content))}"
        case .byteFallback: return "{\"type\": \"ByteFallback\"}"
        case .fuse: return "{\"type\": \"Fuse\"}"
        case .strip(let content, let start, let stop):
            return "{\"type\": \"Strip\", \"content\": \(quote(String(content))), \"start\": \(start), \"stop\": \(stop)}"
        case .metaspace(let replacement, let scheme):
            return "{\"type\": \"Metaspace\", \"replacement\": \(quote(String(replacement))), \"prepend_scheme\": \"\(scheme.rawValue)\", \"split\": true}"
        }
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
    package static func quote(_ text: String) -> String {
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

    package static func quote(_ text: String) -> String { TokenizerFile.quote(text) }

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
        guard let number = value as? Int, (0..<TokenizerFile.maximumVocabularySize).contains(number) else {
            throw error("key '\(key)' is not a token id (an integer from 0 to \(TokenizerFile.maximumVocabularySize - 1))")
        }
        return Int32(number)
    }

    func optionalString(_ value: Any?, key: String) throws -> String? {
        Reader.isNull(value) ? nil : try string(value, key: key)
    }

    func int(_ value: Any?, key: String) throws -> Int {
        guard let number = value as? Int, number >= 0 else { throw error("key '\(key)' is not a non-negative integer") }
        return number
    }

    /// The fields and type of a component object.
    private func component(_ value: Any?, key: String) throws -> (fields: [String: Any], type: String)? {
        if Reader.isNull(value) { return nil }
        guard let fields = value as? [String: Any], let type = fields["type"] as? String else {
            throw error("key '\(key)' is not an object with a 'type'")
        }
        return (fields, type)
    }

    private func list(_ fields: [String: Any], _ name: String, key: String) throws -> [Any] {
        guard let items = fields[name] as? [Any] else { throw error("key '\(key).\(name)' is not an array") }
        return items
    }

    /// The members of a `Sequence` component (its `name` array), each read by `read`; null
    /// members are left out.
    private func members<Component>(
        _ fields: [String: Any], _ name: String, key: String, _ read: (Any?, String) throws -> Component?
    ) throws -> [Component] {
        try list(fields, name, key: key).enumerated().compactMap { index, item in try read(item, "\(key).\(name)[\(index)]") }
    }

    private func unsupported(_ type: String, key: String, supported: String) -> TokenizerError {
        error("key '\(key)' has type \(Reader.quote(type)); supported: \(supported)")
    }

    func pattern(_ value: Any?, key: String) throws -> TextPattern {
        guard let fields = value as? [String: Any], fields.count == 1 else {
            throw error("key '\(key)' is not {\"String\": …} or {\"Regex\": …}")
        }
        if let text = fields["String"] { return .string(try string(text, key: key + ".String")) }
        if let source = fields["Regex"] { return .regex(try string(source, key: key + ".Regex")) }
        throw error("key '\(key)' is not {\"String\": …} or {\"Regex\": …}")
    }

    /// One character, as `replacement` and `content` hold it.
    func scalar(_ value: Any?, key: String) throws -> Unicode.Scalar {
        let text = try string(value, key: key)
        guard text.unicodeScalars.count == 1, let scalar = text.unicodeScalars.first else {
            throw error("key '\(key)' is not a single character")
        }
        return scalar
    }

    func behavior(_ value: Any?, key: String) throws -> SplitBehavior {
        if Reader.isNull(value) { return .isolated }
        let name = try string(value, key: key)
        guard let behavior = SplitBehavior(rawValue: name) else {
            throw error("key '\(key)' is \(Reader.quote(name)); expected one of \(SplitBehavior.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return behavior
    }

    /// `prepend_scheme`, or for files older than it, `add_prefix_space` (true meaning always).
    func prependScheme(_ fields: [String: Any], key: String) throws -> PrependScheme {
        if !Reader.isNull(fields["prepend_scheme"]) {
            let name = try string(fields["prepend_scheme"], key: key + ".prepend_scheme")
            guard let scheme = PrependScheme(rawValue: name) else {
                throw error("key '\(key).prepend_scheme' is \(Reader.quote(name)); expected always, first or never")
            }
            return scheme
        }
        return try bool(fields["add_prefix_space"], key: key + ".add_prefix_space") ?? true ? .always : .never
    }

    func normalizer(_ value: Any?, key: String) throws -> Normalizer? {
        guard let (fields, type) = try component(value, key: key) else { return nil }
        switch type {
        case "Sequence":
            return .sequence(try members(fields, "normalizers", key: key) { try normalizer($0, key: $1) })
        case "NFC": return .nfc
        case "NFKC": return .nfkc
        case "Lowercase": return .lowercase
        case "Strip":
            return .strip(
                left: try bool(fields["strip_left"], key: key + ".strip_left") ?? true,
                right: try bool(fields["strip_right"], key: key + ".strip_right") ?? true)
        case "Prepend": return .prepend(try string(fields["prepend"], key: key + ".prepend"))
        case "Replace":
            return .replace(
                pattern: try pattern(fields["pattern"], key: key + ".pattern"),
                content: try string(fields["content"], key: key + ".content"))
        default:
            throw unsupported(type, key: key, supported: "Sequence, NFC, NFKC, Lowercase, Strip, Prepend, Replace")
        }
    }

    func preTokenizer(_ value: Any?, key: String) throws -> PreTokenizer? {
        guard let (fields, type) = try component(value, key: key) else { return nil }
        switch type {
        case "Sequence":
            return .sequence(try members(fields, "pretokenizers", key: key) { try preTokenizer($0, key: $1) })
        case "Split":
            return .split(
                pattern: try pattern(fields["pattern"], key: key + ".pattern"),
                behavior: try behavior(fields["behavior"], key: key + ".behavior"),
                invert: try bool(fields["invert"], key: key + ".invert") ?? false)
        case "Punctuation": return .punctuation(try behavior(fields["behavior"], key: key + ".behavior"))
        case "Digits": return .digits(individual: try bool(fields["individual_digits"], key: key + ".individual_digits") ?? false)
        case "WhitespaceSplit": return .whitespaceSplit
        case "Metaspace":
            return .metaspace(
                replacement: try scalar(fields["replacement"], key: key + ".replacement"),
                prependScheme: try prependScheme(fields, key: key),
                split: try bool(fields["split"], key: key + ".split") ?? true)
        case "ByteLevel":
            return .byteLevel(
                addPrefixSpace: try bool(fields["add_prefix_space"], key: key + ".add_prefix_space") ?? false,
                useRegex: try bool(fields["use_regex"], key: key + ".use_regex") ?? true)
        default:
            throw unsupported(type, key: key, supported: "Sequence, Split, Punctuation, Digits, WhitespaceSplit, Metaspace, ByteLevel")
        }
    }

    func decoder(_ value: Any?, key: String) throws -> TokenDecoder? {
        guard let (fields, type) = try component(value, key: key) else { return nil }
        switch type {
        case "Sequence":
            return .sequence(try members(fields, "decoders", key: key) { try decoder($0, key: $1) })
        case "ByteLevel": return .byteLevel
        case "Replace":
            let pattern = try pattern(fields["pattern"], key: key + ".pattern")
            if case .regex(let source) = pattern, (try? NSRegularExpression(pattern: source)) == nil {
                throw error("key '\(key).pattern.Regex' is not a regular expression ICU accepts")
            }
            return .replace(pattern: pattern, content: try string(fields["content"], key: key + ".content"))
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            return .strip(
                content: try scalar(fields["content"], key: key + ".content"),
                start: try int(fields["start"], key: key + ".start"), stop: try int(fields["stop"], key: key + ".stop"))
        case "Metaspace":
            return .metaspace(
                replacement: try scalar(fields["replacement"], key: key + ".replacement"),
                prependScheme: try prependScheme(fields, key: key))
        default:
            throw unsupported(type, key: key, supported: "Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace")
        }
    }

    /// `post_processor`: `ByteLevel` (offsets only), the token-adding `TemplateProcessing`,
    /// `RobertaProcessing` and `BertProcessing`, and a `Sequence` of these with at most one
    /// that adds tokens.
    func postProcessor(_ value: Any?, key: String) throws -> PostProcessor? {
        guard let (fields, type) = try component(value, key: key) else { return nil }
        let processor: PostProcessor
        switch type {
        case "ByteLevel": processor = .byteLevel
        case "Sequence":
            processor = .sequence(try members(fields, "processors", key: key) { try postProcessor($0, key: $1) })
        case "TemplateProcessing":
            var specialTokens: [TemplateSpecialToken] = []
            if !Reader.isNull(fields["special_tokens"]) {
                guard let entries = fields["special_tokens"] as? [String: Any] else {
                    throw error("key '\(key).special_tokens' is not an object")
                }
                for name in entries.keys.sorted() {
                    let entryKey = "\(key).special_tokens[\(Reader.quote(name))]"
                    guard let entry = entries[name] as? [String: Any] else { throw error("key '\(entryKey)' is not an object") }
                    let ids = try list(entry, "ids", key: entryKey).enumerated().map { index, value in
                        try id(value, key: "\(entryKey).ids[\(index)]")
                    }
                    let tokens = try list(entry, "tokens", key: entryKey).enumerated().map { index, value in
                        try string(value, key: "\(entryKey).tokens[\(index)]")
                    }
                    guard ids.count == tokens.count else { throw error("key '\(entryKey)': 'ids' and 'tokens' differ in length") }
                    let tokenId = Reader.isNull(entry["id"]) ? name : try string(entry["id"], key: entryKey + ".id")
                    specialTokens.append(TemplateSpecialToken(id: tokenId, ids: ids, tokens: tokens))
                }
            }
            processor = .template(
                single: try template(fields["single"], key: key + ".single"),
                pair: Reader.isNull(fields["pair"]) ? [] : try template(fields["pair"], key: key + ".pair"),
                specialTokens: specialTokens)
        case "RobertaProcessing", "BertProcessing":
            let cls = try namedId(fields["cls"], key: key + ".cls"), sep = try namedId(fields["sep"], key: key + ".sep")
            processor = type == "BertProcessing" ? .bert(cls: cls, sep: sep) : .roberta(cls: cls, sep: sep)
        default:
            throw unsupported(type, key: key, supported: "ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence")
        }
        do {
            _ = try processor.specialTokenTemplate(key: key)
        } catch {
            throw self.error("key '\(error.key)' \(error.reason)")
        }
        return processor
    }

    /// A template: `[{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]`.
    private func template(_ value: Any?, key: String) throws -> [TemplatePiece] {
        guard let pieces = value as? [Any] else { throw error("key '\(key)' is missing or not an array") }
        return try pieces.enumerated().map { index, item in
            let pieceKey = "\(key)[\(index)]"
            guard let wrapper = item as? [String: Any], wrapper.count == 1, let (kind, body) = wrapper.first,
                  let fields = body as? [String: Any] else {
                throw error("key '\(pieceKey)' is not {\"Sequence\": …} or {\"SpecialToken\": …}")
            }
            let typeId = Reader.isNull(fields["type_id"]) ? 0 : try int(fields["type_id"], key: pieceKey + ".\(kind).type_id")
            let name = try string(fields["id"], key: pieceKey + ".\(kind).id")
            switch kind {
            case "Sequence":
                guard let sequence = ["A": 0, "B": 1][name] else { throw error("key '\(pieceKey).Sequence.id' is \(Reader.quote(name)); expected A or B") }
                return .sequence(sequence, typeId: typeId)
            case "SpecialToken":
                return .specialToken(name, typeId: typeId)
            default:
                throw error("key '\(pieceKey)' is not {\"Sequence\": …} or {\"SpecialToken\": …}")
            }
        }
    }

    /// `["<s>", 0]`, as `cls` and `sep` are written.
    private func namedId(_ value: Any?, key: String) throws -> NamedTokenId {
        guard let pair = value as? [Any], pair.count == 2 else { throw error("key '\(key)' is not [\"token\", id]") }
        return NamedTokenId(try string(pair[0], key: key + "[0]"), try id(pair[1], key: key + "[1]"))
    }
}
