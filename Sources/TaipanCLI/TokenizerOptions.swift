// TokenizerOptions.swift — the `--tokenizer` option shared by every command that encodes
// text (one loader, `LoadedTokenizer`, for `byte` and tokenizer.json paths), and reading
// text inputs (UTF-8 checked, errors naming the file).

import ArgumentParser
import Foundation
import TaipanData
import TaipanTokenizers

/// `--tokenizer PATH|byte`: a Hugging Face BPE `tokenizer.json` (or a directory holding one), or
/// the byte tokenizer.
struct TokenizerOptions: ParsableArguments {
    @Option(help: "A BPE tokenizer.json (or a directory holding one), or 'byte' for the byte tokenizer.")
    var tokenizer: String

    /// The tokenizer and the identity a manifest records for it.
    func loadWithIdentity() throws -> LoadedTokenizer { try LoadedTokenizer(named: tokenizer) }

    func load() throws -> any Tokenizer { try loadWithIdentity().tokenizer }
}

/// An input that cannot be used, with the file (and line) at fault.
struct InputError: Error, CustomStringConvertible {
    let description: String
}

/// The contents of `path` (standard input for `nil`) as UTF-8 text.
func readText(_ path: String?) throws -> String {
    let name = path ?? "standard input"
    let data: Data
    if let path {
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw InputError(description: "\(path): cannot be read (\(error.localizedDescription))")
        }
    } else {
        data = FileHandle.standardInput.readDataToEndOfFile()
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw InputError(description: "\(name): is not valid UTF-8 text")
    }
    return text
}
