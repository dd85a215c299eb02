// PostProcessors.swift — the post-processors of Hugging Face `tokenizers` (`TemplateProcessing`,
// `RobertaProcessing`, `BertProcessing`, `ByteLevel`, `Sequence`): what `encode(text,
// add_special_tokens=True)` puts around the ids of a text. Llama-2, Mistral, Llama-3 and
// OLMo-2 ship a `TemplateProcessing` that adds a begin-of-text token (some also an
// end-of-text token); `ByteLevel` only moves offsets and changes no id. Without
// `add_special_tokens`, every post-processor leaves the ids of a single text as they are and
// joins the two texts of a pair in template order.

/// A piece of a `TemplateProcessing` template.
public enum TemplatePiece: Sendable, Equatable {
    /// `{"Sequence": {"id": "A", "type_id": n}}`: the ids of the first text (`sequence` 0, `$A`)
    /// or of the second (`sequence` 1, `$B`).
    case sequence(Int, typeId: Int)
    /// `{"SpecialToken": {"id": name, "type_id": n}}`: the ids of `special_tokens[name]`.
    case specialToken(String, typeId: Int)
}

/// A special token of a template (`special_tokens[id]`): the ids and token strings it adds.
public struct TemplateSpecialToken: Sendable, Equatable {
    public var id: String
    public var ids: [Int32]
    public var tokens: [String]

    public init(id: String, ids: [Int32], tokens: [String]) {
        self.id = id
        self.ids = ids
        self.tokens = tokens
    }
}

/// A token named with its id, as `RobertaProcessing` and `BertProcessing` give `cls` and `sep`.
public struct NamedTokenId: Sendable, Equatable {
    public var token: String
    public var id: Int32

    public init(_ token: String, _ id: Int32) {
        self.token = token
        self.id = id
    }
}

/// A post-processor of a `tokenizer.json`.
public indirect enum PostProcessor: Sendable, Equatable {
    /// Each post-processor in turn (at most one of them adds tokens).
    case sequence([PostProcessor])
    /// Offsets only: no id changes.
    case byteLevel
    /// `single` around one text, `pair` around two, the special tokens' ids in `specialTokens`.
    case template(single: [TemplatePiece], pair: [TemplatePiece], specialTokens: [TemplateSpecialToken])
    /// `cls A sep` and `cls A sep sep B sep`.
    case roberta(cls: NamedTokenId, sep: NamedTokenId)
    /// `cls A sep` and `cls A sep B sep`.
    case bert(cls: NamedTokenId, sep: NamedTokenId)

    /// Whether this post-processor (or one in its sequence) adds tokens.
    var addsTokens: Bool {
        switch self {
        case .sequence(let inner): return inner.contains { $0.addsTokens }
        case .byteLevel: return false
        case .template, .roberta, .bert: return true
        }
    }

    /// The templates this post-processor applies, with the special tokens resolved to ids; nil
    /// when it adds no tokens. `key` names the post-processor in errors.
    func specialTokenTemplate(key: String) throws(TemplateError) -> SpecialTokenTemplate? {
        switch self {
        case .sequence(let inner):
            var found: SpecialTokenTemplate? = nil
            for (index, processor) in inner.enumerated() {
                guard let template = try processor.specialTokenTemplate(key: "\(key).processors[\(index)]") else { continue }
                if found != nil { throw TemplateError(key: key, reason: "holds more than one post-processor that adds tokens; not supported") }
                found = template
            }
            return found
        case .byteLevel:
            return nil
        case .roberta(let cls, let sep):
            return SpecialTokenTemplate(
                single: [.ids([cls.id]), .sequence(0), .ids([sep.id])],
                pair: [.ids([cls.id]), .sequence(0), .ids([sep.id, sep.id]), .sequence(1), .ids([sep.id])])
        case .bert(let cls, let sep):
            return SpecialTokenTemplate(
                single: [.ids([cls.id]), .sequence(0), .ids([sep.id])],
                pair: [.ids([cls.id]), .sequence(0), .ids([sep.id]), .sequence(1), .ids([sep.id])])
        case .template(let single, let pair, let specialTokens):
            var idsByName: [String: [Int32]] = [:]
            for token in specialTokens { idsByName[token.id] = token.ids }
            func resolve(_ pieces: [TemplatePiece], name: String, sequences: Int) throws(TemplateError) -> [SpecialTokenTemplate.Part] {
                var parts: [SpecialTokenTemplate.Part] = []
                var used = [Int](repeating: 0, count: 2)
                for (index, piece) in pieces.enumerated() {
                    switch piece {
                    case .sequence(let sequence, _):
                        guard sequence < sequences else {
                            throw TemplateError(key: "\(key).\(name)[\(index)]", reason: "is $B in the single template; only $A is allowed there")
                        }
                        used[sequence] += 1
                        parts.append(.sequence(sequence))
                    case .specialToken(let token, _):
                        guard let ids = idsByName[token] else {
                            throw TemplateError(key: "\(key).\(name)[\(index)]", reason: "names \(TokenizerFile.quote(token)), which is not in '\(key).special_tokens'")
                        }
                        parts.append(.ids(ids))
                    }
                }
                for sequence in 0..<sequences where used[sequence] != 1 {
                    throw TemplateError(key: "\(key).\(name)", reason: "uses $\(sequence == 0 ? "A" : "B") \(used[sequence]) times; exactly once is supported")
                }
                return parts
            }
            // A template without `pair` (never written so by the library) joins $B after `single`.
            let singleParts = try resolve(single, name: "single", sequences: 1)
            return SpecialTokenTemplate(
                single: singleParts,
                pair: pair.isEmpty ? singleParts + [.sequence(1)] : try resolve(pair, name: "pair", sequences: 2))
        }
    }
}

/// A post-processor that cannot be applied, with the key at fault.
struct TemplateError: Error {
    let key: String
    let reason: String
}

/// The single and pair templates of a post-processor with their special tokens as ids: what
/// `encode` puts around the ids of one text or of two.
struct SpecialTokenTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        /// Special-token ids, added only when special tokens are asked for.
        case ids([Int32])
        /// The ids of the first (0) or second (1) text.
        case sequence(Int)
    }

    /// Holds `.sequence(0)` exactly once.
    let single: [Part]
    /// Holds `.sequence(0)` and `.sequence(1)` exactly once each.
    let pair: [Part]

    /// Every id the templates add.
    var ids: [Int32] {
        (single + pair).flatMap { part -> [Int32] in
            if case .ids(let ids) = part { return ids }
            return []
        }
    }

    /// The ids put before and after a single text.
    var around: (before: [Int32], after: [Int32]) {
        var before: [Int32] = [], after: [Int32] = []
        var seen = false
        for part in single {
            switch part {
            case .sequence: seen = true
            case .ids(let ids): if seen { after += ids } else { before += ids }
            }
        }
        return (before, after)
    }

    /// `sequences` (one text or two) in the single or pair template, with its special tokens
    /// when `addSpecialTokens`.
    func apply(_ sequences: [[Int32]], addSpecialTokens: Bool) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(sequences.reduce(8) { $0 + $1.count })
        for part in sequences.count == 1 ? single : pair {
            switch part {
            case .sequence(let index): ids += sequences[index]
            case .ids(let special): if addSpecialTokens { ids += special }
            }
        }
        return ids
    }
}
