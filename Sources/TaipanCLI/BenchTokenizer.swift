// BenchTokenizer.swift — `taipan bench tokenizer`: encoding speed in MB/s, checked for
// thread-count equality (and round trips counted) before it is timed.

import ArgumentParser
import Foundation
import TaipanData
import TaipanTokenizers

struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encoding speed in MB/s (median of several runs).",
        discussion: """
            The file is cut into documents at blank lines ("\\n\\n"), as Python's \
            str.split("\\n\\n") does, and the documents are encoded on --threads threads. \
            Before timing, the ids are checked to be the same on one thread and on --threads \
            threads, and the documents that do not decode back to themselves are counted.
            """)

    @OptionGroup var options: TokenizerOptions

    @Option(help: "Threads to encode on.")
    var threads = 1

    @Option(help: "Timed runs (the median is printed).")
    var runs = 5

    @Argument(help: "A UTF-8 text file.")
    var file: String

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        let tokenizer = try options.load()
        let text = try readText(file)
        let documents = Self.paragraphs(text)
        let bytes = text.utf8.count - 2 * (documents.count - 1)

        let ids = tokenizer.encode(documents, threads: threads)
        guard ids == tokenizer.encode(documents, threads: 1) else {
            throw InputError(description: "\(file): ids differ between 1 and \(threads) threads")
        }
        // Decoding is lossy for some tokenizers on some text (normalisers, special tokens written
        // in the text, which SentencePiece-style decoders give back with a space): counted, not fatal.
        var lossy = 0
        for (document, documentIds) in zip(documents, ids) where try tokenizer.decode(documentIds) != document { lossy += 1 }

        var rates: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            let encoded = tokenizer.encode(documents, threads: threads)
            rates.append(Double(bytes) / 1e6 / (ContinuousClock.now - start).seconds)
            if encoded.count != documents.count {
                throw InputError(description: "\(file): a timed run lost documents")
            }
        }
        rates.sort()
        let median = rates[rates.count / 2]
        let tokens = ids.reduce(0) { $0 + $1.count }
        print("\(file): \(String(format: "%.2f", Double(bytes) / 1e6)) MB, \(documents.count) documents, \(tokens) tokens, \(lossy) not decoding back to themselves")
        print("threads \(threads): \(String(format: "%.2f", median)) MB/s (median of \(runs); runs \(rates.map { String(format: "%.2f", $0) }.joined(separator: " ")))")
    }

    /// `text` cut at each "\n\n", left to right.
    static func paragraphs(_ text: String) -> [String] {
        var documents: [String] = []
        let utf8 = Array(text.utf8)
        var start = 0
        var index = 0
        while index + 1 < utf8.count {
            if utf8[index] == 0x0A, utf8[index + 1] == 0x0A {
                documents.append(String(decoding: utf8[start..<index], as: UTF8.self))
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        documents.append(String(decoding: utf8[start...], as: UTF8.self))
        return documents
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
