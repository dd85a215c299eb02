// BadRecord.swift — what can be wrong with a record of a text shard, what to do about it
// (stop with an error, or skip and count), and the counts of what was skipped.

/// Why a record of a text shard cannot become a document.
public enum BadRecordReason: Equatable, Sendable {
    /// The line is not a JSON object; the detail says where and why.
    case invalidJSON(String)
    /// The record has no value at the text field.
    case missingText(field: String)
    /// The value at the text field is not a string.
    case textNotString(field: String)
    /// The record (or text file) is not valid UTF-8.
    case invalidUTF8
    /// A chat record (a `messages` list and no prompt), which prompt/completion data does not take.
    case chatMessages(field: String)

    /// A one-line explanation for error messages.
    public var message: String {
        switch self {
        case .invalidJSON(let detail): return "invalid JSON: \(detail)"
        case .missingText(let field): return "no \"\(field)\" field"
        case .textNotString(let field): return "the \"\(field)\" field is not a string"
        case .invalidUTF8: return "invalid UTF-8"
        case .chatMessages(let field):
            return "a chat record (\"\(field)\" and no prompt): chat data is not supported; write each example as a prompt and a completion"
        }
    }

    /// The key under which skipped records of this kind are counted.
    public var category: String {
        switch self {
        case .invalidJSON: return "invalidJSON"
        case .missingText: return "missingText"
        case .textNotString: return "textNotString"
        case .invalidUTF8: return "invalidUTF8"
        case .chatMessages: return "chatMessages"
        }
    }
}

/// What to do with a bad record.
public enum BadRecordPolicy: String, Sendable, Codable, CaseIterable {
    /// Stop with an error naming the file and line.
    case fail
    /// Skip the record, count it, and report the counts at the end.
    case skip
}

/// Counts of records that did not become documents, by kind.
public struct SkippedRecords: Codable, Equatable, Sendable {
    /// Bad records by `BadRecordReason.category`.
    public var bad: [String: Int] = [:]
    /// Records whose text was empty (always skipped; not an error).
    public var emptyDocuments = 0

    public init() {}

    /// The number of bad records of all kinds.
    public var badTotal: Int { bad.values.reduce(0, +) }

    /// Counts one bad record.
    public mutating func count(_ reason: BadRecordReason) { bad[reason.category, default: 0] += 1 }

    /// Adds the counts of `other`.
    public mutating func add(_ other: SkippedRecords) {
        for (key, value) in other.bad { bad[key, default: 0] += value }
        emptyDocuments += other.emptyDocuments
    }

    /// A one-line summary, e.g. "3 bad records skipped (invalidJSON: 2, invalidUTF8: 1), 4 empty documents".
    public var summary: String {
        let kinds = bad.keys.sorted().map { "\($0): \(bad[$0, default: 0])" }.joined(separator: ", ")
        let badPart = badTotal == 0 ? "no bad records" : "\(badTotal) bad records skipped (\(kinds))"
        return "\(badPart), \(emptyDocuments) empty documents skipped"
    }
}
