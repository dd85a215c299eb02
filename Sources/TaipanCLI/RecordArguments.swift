// RecordArguments.swift — the options shared by the commands that read text shards
// (`data prepare`, `tokenizer train`): where a JSON record's text is, and what to do with
// bad records.

import ArgumentParser
import TaipanData

/// `--text-field` and `--bad-records`.
struct RecordArguments: ParsableArguments {
    @Option(help: "The dotted JSON key path of a record's text.")
    var textField = "text"

    @Option(help: "What to do with bad records: fail (stop with an error naming the file and line) or skip (count and report).")
    var badRecords = "fail"

    func validate() throws {
        guard BadRecordPolicy(rawValue: badRecords) != nil else {
            throw ValidationError("--bad-records must be 'fail' or 'skip' (got '\(badRecords)')")
        }
        guard !textField.isEmpty else { throw ValidationError("--text-field must not be empty") }
    }

    /// The record options these arguments ask for.
    func recordOptions(sourceField: String = "meta.pile_set_name", plainTextDocuments: PlainTextDocuments = .file) -> RecordOptions {
        RecordOptions(textField: textField, sourceField: sourceField,
                      policy: BadRecordPolicy(rawValue: badRecords) ?? .fail, plainTextDocuments: plainTextDocuments)
    }
}
