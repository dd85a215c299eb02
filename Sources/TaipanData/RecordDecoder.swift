// RecordDecoder.swift — turns one raw record of a text shard into a document: a JSON Lines
// record (`{"text": …, "meta": {"pile_set_name": …}}`, as The Pile and SlimPajama ship
// them) or the whole of a plain-text file; or, for fine-tuning data, into an example
// (`{"prompt": …, "completion": …}`, the field names configurable). Decoding is pure, so
// batches decode in parallel; the bad-record policy is applied afterwards, in input order.

/// A document of a text shard: its text and the name of the source it came from.
public struct Document: Equatable, Sendable {
    public var text: String
    public var source: String

    public init(text: String, source: String) {
        self.text = text
        self.source = source
    }
}

/// A prompt/completion example of a fine-tuning set: the loss counts the completion only.
public struct Example: Equatable, Sendable {
    public var prompt: String
    public var completion: String
    public var source: String

    public init(prompt: String, completion: String, source: String) {
        self.prompt = prompt
        self.completion = completion
        self.source = source
    }
}

/// What the records of the inputs hold.
public enum DataFormat: String, Sendable, Codable, CaseIterable {
    /// Documents of text (`text_field`), every token a target.
    case text
    /// Examples with a prompt and a completion (`prompt_field`, `completion_field`), the
    /// completion's tokens (and the end-of-text) the only targets.
    case promptCompletion = "prompt_completion"
}

/// The layout of a text shard, chosen by its file name.
public enum ShardFormat: Sendable {
    /// JSON Lines, one record a line (`.jsonl`, `.jsonl.zst`).
    case jsonLines
    /// Plain text (`.txt`, `.txt.zst`): the whole file one document, or one document a line
    /// (`RecordOptions.plainTextDocuments`).
    case plainText

    /// The format of the file at `path`, or nil when its name has no known extension.
    public init?(path: String) {
        let name = path.hasSuffix(".zst") ? String(path.dropLast(4)) : path
        if name.hasSuffix(".jsonl") { self = .jsonLines } else if name.hasSuffix(".txt") { self = .plainText } else { return nil }
    }

    /// The extensions accepted, for messages.
    public static let extensions = [".jsonl", ".jsonl.zst", ".txt", ".txt.zst"]
}

/// What a document of a plain-text file is.
public enum PlainTextDocuments: String, Sendable, Codable, CaseIterable {
    /// The whole file is one document (the data pipeline's rule).
    case file
    /// Each line, with its line ending, is one document: how the Hugging Face `tokenizers`
    /// trainer reads the files it is given (`train(files)`), which the BPE trainer follows.
    case lines
}

/// How records become documents.
public struct RecordOptions: Sendable {
    /// The dotted key path of the text in a JSON record.
    public var textField: String
    /// The dotted key path of the source name in a JSON record.
    public var sourceField: String
    /// The source name of a JSON record without one.
    public var defaultSource: String
    /// What to do with bad records.
    public var policy: BadRecordPolicy
    /// Whether a plain-text file is one document or a document per line.
    public var plainTextDocuments: PlainTextDocuments
    /// Documents or prompt/completion examples.
    public var format: DataFormat
    /// The dotted key path of an example's prompt.
    public var promptField: String
    /// The dotted key path of an example's completion.
    public var completionField: String

    public init(textField: String = "text", sourceField: String = "meta.pile_set_name",
                defaultSource: String = "unknown", policy: BadRecordPolicy = .fail,
                plainTextDocuments: PlainTextDocuments = .file, format: DataFormat = .text,
                promptField: String = "prompt", completionField: String = "completion") {
        self.textField = textField
        self.sourceField = sourceField
        self.defaultSource = defaultSource
        self.policy = policy
        self.plainTextDocuments = plainTextDocuments
        self.format = format
        self.promptField = promptField
        self.completionField = completionField
    }
}

/// The outcome of decoding one record.
public enum DecodedRecord: Sendable {
    case document(Document)
    /// A prompt/completion example (`DataFormat.promptCompletion` only).
    case example(Example)
    /// A record whose text (or prompt and completion) is empty.
    case empty
    /// A JSON Lines line holding only whitespace.
    case blank
    case bad(BadRecordReason)
}

/// Decodes records under fixed `RecordOptions`.
public struct RecordDecoder: Sendable {
    public let options: RecordOptions
    private let extractor: JSONFieldExtractor

    /// The key of a chat record's message list, recognised only to refuse it clearly.
    static let chatMessagesField = "messages"

    public init(options: RecordOptions) {
        self.options = options
        switch options.format {
        case .text: extractor = JSONFieldExtractor(paths: [options.textField, options.sourceField])
        case .promptCompletion:
            extractor = JSONFieldExtractor(
                paths: [options.sourceField, options.promptField, options.completionField, Self.chatMessagesField])
        }
    }

    /// Decodes `record`; `plainTextSource` names the source of a plain-text file.
    public func decode(_ record: UnsafeBufferPointer<UInt8>, format: ShardFormat, plainTextSource: String) -> DecodedRecord {
        switch format {
        case .plainText:
            guard isValidUTF8(record) else { return .bad(.invalidUTF8) }
            if record.isEmpty { return .empty }
            return .document(Document(text: String(decoding: record, as: UTF8.self), source: plainTextSource))
        case .jsonLines:
            if record.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return .blank }
            let fields: [JSONField]
            do {
                fields = try extractor.extract(record)
            } catch {
                switch error.kind {
                case .invalidUTF8: return .bad(.invalidUTF8)
                case .syntax: return .bad(.invalidJSON("\(error.message) at byte \(error.offset + 1)"))
                }
            }
            var source = options.defaultSource
            switch options.format {
            case .text:
                if case .string(let value) = fields[1], !value.isEmpty { source = value }
                return decodeDocument(fields[0], source: source)
            case .promptCompletion:
                if case .string(let value) = fields[0], !value.isEmpty { source = value }
                return decodeExample(prompt: fields[1], completion: fields[2], messages: fields[3], source: source)
            }
        }
    }

    private func decodeDocument(_ field: JSONField, source: String) -> DecodedRecord {
        switch field {
        case .missing: return .bad(.missingText(field: options.textField))
        case .notString: return .bad(.textNotString(field: options.textField))
        case .string(let text): return text.isEmpty ? .empty : .document(Document(text: text, source: source))
        }
    }

    private func decodeExample(prompt: JSONField, completion: JSONField, messages: JSONField, source: String) -> DecodedRecord {
        if prompt == .missing && messages != .missing { return .bad(.chatMessages(field: Self.chatMessagesField)) }
        var texts: [String] = []
        for (field, name) in [(prompt, options.promptField), (completion, options.completionField)] {
            switch field {
            case .missing: return .bad(.missingText(field: name))
            case .notString: return .bad(.textNotString(field: name))
            case .string(let text): texts.append(text)
            }
        }
        if texts[0].isEmpty && texts[1].isEmpty { return .empty }
        return .example(Example(prompt: texts[0], completion: texts[1], source: source))
    }

    /// Applies the bad-record policy to a decoded record: returns its document (an example's
    /// prompt followed by its completion), nil for a record to skip (counted in `skipped`), or
    /// throws for a bad record under `.fail`.
    public func accept(_ decoded: DecodedRecord, path: String, line: Int, skipped: inout SkippedRecords) throws -> Document? {
        switch decoded {
        case .document(let document): return document
        case .example(let example): return Document(text: example.prompt + example.completion, source: example.source)
        case .blank: return nil
        case .empty:
            skipped.emptyDocuments += 1
            return nil
        case .bad(let reason):
            if options.policy == .fail { throw DataError.badRecord(path: path, line: line, reason: reason) }
            skipped.count(reason)
            return nil
        }
    }
}
