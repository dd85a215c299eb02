// Tokenize.swift — `taipan tokenize`: text to token ids, or ids back to text with `--decode`.

import ArgumentParser
import Foundation
import TaipanData

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text into token ids (space-separated), or decode ids back into text.")

    @OptionGroup var options: TokenizerOptions

    @Flag(help: "Read token ids (separated by whitespace) and print the text they stand for.")
    var decode = false

    @Flag(inversion: .prefixedNo, help: "Encoding: put the post-processor's special tokens (Llama's begin-of-text token) around the ids, as Hugging Face encode(text) does.")
    var addSpecialTokens = true

    @Flag(help: "Decoding: leave the special tokens' text out (Hugging Face skip_special_tokens).")
    var skipSpecialTokens = false

    @Argument(help: "The input file (standard input when left out).")
    var file: String?

    func run() throws {
        let tokenizer = try options.load()
        let text = try readText(file)
        if decode {
            var ids: [Int32] = []
            for (lineIndex, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for field in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
                    guard let id = Int32(field) else {
                        throw InputError(description: "\(file ?? "standard input"):\(lineIndex + 1): '\(field)' is not a token id")
                    }
                    ids.append(id)
                }
            }
            let decoded: String
            do {
                decoded = try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
            } catch {
                throw InputError(description: "\(file ?? "standard input"): \(error)")
            }
            FileHandle.standardOutput.write(Data(decoded.utf8))
        } else {
            let ids = tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
