// SampleDataset.swift — `taipan data sample`: a small Pile-style dataset (`train-*.jsonl.zst`,
// `val-*.jsonl.zst`, one `{"text", "meta": {"pile_set_name"}}` record a line) built from real
// text every Debian machine has: licence texts, package copyright files, Python's standard
// library and Perl's modules. File lists are sorted, so the sample depends only on the
// machine's installed packages; a file whose bytes come out the same is left untouched (its
// modification time too), so re-running it does not make the token shards look stale.
//
// It also writes a small fine-tuning set made from the sample's Python files
// (`finetune-train.jsonl.zst`, and every tenth example in `finetune-val.jsonl.zst`): one
// `{"prompt", "completion"}` example per short function that has a docstring, the prompt its
// `def` line(s) and docstring, the completion its body.

import Foundation
import TaipanTokenizers

/// Where one source of the sample takes its documents from.
public struct SampleSource: Sendable {
    /// The `pile_set_name` of its documents.
    public var name: String
    /// Directories searched recursively (missing ones are ignored).
    public var roots: [String]
    /// A file is taken when its path ends in one of these.
    public var suffixes: [String]
    /// Paths containing one of these are left out.
    public var excluding: [String]
    /// The source stops taking files once it holds this many bytes.
    public var byteLimit: Int
    /// The Debian package that provides the files, for messages.
    public var debianPackage: String

    public init(name: String, roots: [String], suffixes: [String], excluding: [String] = [], byteLimit: Int, debianPackage: String) {
        self.name = name
        self.roots = roots
        self.suffixes = suffixes
        self.excluding = excluding
        self.byteLimit = byteLimit
        self.debianPackage = debianPackage
    }

    /// The sources of the standard sample on a Debian machine.
    public static func debianDefaults() -> [SampleSource] {
        let pythonRoots = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? [])
            .filter { $0.hasPrefix("python3.") }.sorted().map { "/usr/lib/" + $0 }
        return [
            SampleSource(name: "Licenses", roots: ["/usr/share/common-licenses"], suffixes: [""],
                         byteLimit: 3 << 20, debianPackage: "base-files"),
            SampleSource(name: "DebianCopyright", roots: ["/usr/share/doc"], suffixes: ["/copyright"],
                         byteLimit: 3 << 20, debianPackage: "base-files"),
            SampleSource(name: "PythonStdlib", roots: pythonRoots, suffixes: [".py"],
                         excluding: ["/dist-packages/", "/site-packages/"], byteLimit: 3 << 20, debianPackage: "python3"),
            SampleSource(name: "PerlModules", roots: ["/usr/share/perl", "/usr/share/perl5"], suffixes: [".pm", ".pod"],
                         byteLimit: 3 << 20, debianPackage: "perl"),
        ]
    }
}

/// What `SampleDataset.build` wrote.
public struct SampleSummary: Sendable {
    /// Files of the sample, in order.
    public var files: [String]
    /// Those of `files` that already held exactly these bytes and were left as they were.
    public var unchanged: [String]
    /// Documents and text bytes per source.
    public var documents: [String: Int]
    public var bytes: [String: Int]
    /// Prompt/completion examples in the fine-tuning set, by split ("train", "val").
    public var examples: [String: Int] = [:]
    public var totalBytes: Int { bytes.values.reduce(0, +) }
}

/// Builds the sample dataset.
public enum SampleDataset {
    /// Files above this size are left out, so no single file dominates a source.
    public static let largestFile = 256 << 10
    /// Fine-tuning examples longer than this (prompt and completion, in bytes) are left out,
    /// so that an example fits a row of 256 tokens of the sample's tokenizer.
    public static let largestExample = 512
    /// Every this-many-th fine-tuning example goes to its validation file.
    public static let exampleValidationEvery = 10

    /// Writes `train-NNNNN.jsonl.zst` shards of about `shardBytes` of text and one
    /// `val-00000.jsonl.zst` (every `validationEvery`-th document) into `directory`.
    /// Fails unless the sources give at least `minimumBytes` from `minimumSources` sources.
    public static func build(directory: String, sources: [SampleSource] = SampleSource.debianDefaults(),
                             shardBytes: Int = 2 << 20, validationEvery: Int = 20,
                             minimumBytes: Int = 5_000_000, minimumSources: Int = 3) throws -> SampleSummary {
        var perSource: [[Document]] = []
        var seen = Set<String>()
        for source in sources {
            var documents: [Document] = []
            var total = 0
            for path in files(of: source) where total < source.byteLimit {
                guard let data = FileManager.default.contents(atPath: path), data.count <= largestFile, !data.isEmpty,
                      let text = String(validating: data, as: UTF8.self), !text.contains("\0")
                else { continue }
                // Many packages ship the same licence text; keep each text once.
                guard seen.insert(SHA256.hash(data)).inserted else { continue }
                documents.append(Document(text: text, source: source.name))
                total += data.count
            }
            perSource.append(documents)
        }
        let used = zip(sources, perSource).filter { !$0.1.isEmpty }
        let totalBytes = perSource.joined().reduce(0) { $0 + $1.text.utf8.count }
        guard used.count >= minimumSources, totalBytes >= minimumBytes else {
            let packages = Set(sources.map(\.debianPackage)).sorted().joined(separator: " ")
            throw DataError.notEnoughData(
                "found \(totalBytes) bytes of text in \(used.count) source(s) (\(used.map(\.0.name).joined(separator: ", "))); "
                    + "the sample needs \(minimumBytes) bytes from \(minimumSources) sources: install the Debian packages \(packages)")
        }
        // Interleave the sources so every shard mixes them.
        var ordered: [Document] = []
        for index in 0..<(perSource.map(\.count).max() ?? 0) {
            for documents in perSource where index < documents.count { ordered.append(documents[index]) }
        }
        try createDirectory(directory)
        var summary = SampleSummary(files: [], unchanged: [], documents: [:], bytes: [:])
        var train: [Document] = [], validation: [Document] = []
        for (index, document) in ordered.enumerated() {
            if index % validationEvery == validationEvery - 1 { validation.append(document) } else { train.append(document) }
            summary.documents[document.source, default: 0] += 1
            summary.bytes[document.source, default: 0] += document.text.utf8.count
        }
        var shard: [Document] = [], shardSize = 0, shardNumber = 0
        for document in train {
            shard.append(document)
            shardSize += document.text.utf8.count
            if shardSize >= shardBytes {
                try write(shard, to: directory, name: "train", number: shardNumber, into: &summary)
                shard = []
                shardSize = 0
                shardNumber += 1
            }
        }
        if !shard.isEmpty { try write(shard, to: directory, name: "train", number: shardNumber, into: &summary) }
        try write(validation, to: directory, name: "val", number: 0, into: &summary)
        let python = Set(sources.filter { $0.suffixes.contains(".py") }.map(\.name))
        let examples = ordered.filter { python.contains($0.source) }.flatMap { document in
            functionExamples(python: document.text, source: document.source, largest: largestExample)
        }
        for (split, held) in [("train", false), ("val", true)] {
            let chosen = examples.indices.filter { ($0 % exampleValidationEvery == exampleValidationEvery - 1) == held }.map { examples[$0] }
            try write(chosen.map(jsonLine), to: directory + "/finetune-" + split + ".jsonl.zst", into: &summary)
            summary.examples[split] = chosen.count
        }
        return summary
    }

    /// Prompt/completion examples from Python source: for each function (`def` or `async def`,
    /// at any depth) whose signature is followed at once by a docstring and whose body is not
    /// empty, the prompt is the signature and the docstring, the completion the body (each
    /// line with a newline), all without the `def` line's indentation. Examples longer than
    /// `largest` bytes are left out.
    static func functionExamples(python text: String, source: String, largest: Int) -> [Example] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        func indentation(_ line: Substring) -> Int { line.prefix { $0 == " " }.count }
        func isBlank(_ line: Substring) -> Bool { line.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" } }
        var examples: [Example] = []
        for (start, line) in lines.enumerated() {
            let indent = indentation(line), code = line.dropFirst(indent)
            guard code.hasPrefix("def ") || code.hasPrefix("async def ") else { continue }
            // The signature ends at the first line ending in ':' outside brackets.
            var depth = 0, signatureEnd: Int?
            for index in start..<min(lines.count, start + 20) {
                for character in lines[index] {
                    if "([{".contains(character) { depth += 1 } else if ")]}".contains(character) { depth -= 1 }
                }
                if depth == 0 && lines[index].reversed().drop(while: \.isWhitespace).first == ":" {
                    signatureEnd = index
                    break
                }
            }
            guard let signatureEnd, signatureEnd + 1 < lines.count else { continue }
            let first = lines[signatureEnd + 1]
            let opening = first.dropFirst(indentation(first))
            guard indentation(first) > indent,
                  let prefix = [#"""""#, "'''", #"r""""#, "r'''"].first(where: { opening.hasPrefix($0) })
            else { continue }
            let quote = String(prefix.suffix(3))
            // The docstring ends on the line holding the closing quotes.
            var docstringEnd: Int?
            for index in (signatureEnd + 1)..<lines.count {
                if (index == signatureEnd + 1 ? opening.dropFirst(prefix.count) : lines[index]).contains(quote) {
                    docstringEnd = index
                    break
                }
            }
            guard let docstringEnd else { continue }
            // The body: the lines after it, up to the first non-blank line at the def's
            // indentation or less (blank lines inside it kept, after it dropped).
            var bodyEnd = docstringEnd + 1
            for index in (docstringEnd + 1)..<lines.count where !isBlank(lines[index]) {
                if indentation(lines[index]) <= indent { break }
                bodyEnd = index + 1
            }
            guard bodyEnd > docstringEnd + 1 else { continue }
            func dedented(_ range: Range<Int>) -> String {
                lines[range].map { isBlank($0) ? "\n" : String($0.dropFirst(indent)) + "\n" }.joined()
            }
            let example = Example(
                prompt: dedented(start..<(docstringEnd + 1)), completion: dedented((docstringEnd + 1)..<bodyEnd), source: source)
            if example.prompt.utf8.count + example.completion.utf8.count <= largest { examples.append(example) }
        }
        return examples
    }

    /// The files of `source`, sorted by path within each root.
    static func files(of source: SampleSource) -> [String] {
        var found: [String] = []
        for root in source.roots {
            guard let walker = FileManager.default.enumerator(atPath: root) else { continue }
            var paths: [String] = []
            while let relative = walker.nextObject() as? String {
                let path = root + "/" + relative
                guard source.suffixes.contains(where: { path.hasSuffix($0) }),
                      !source.excluding.contains(where: { path.contains($0) }) else { continue }
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                    paths.append(path)
                }
            }
            found += paths.sorted()
        }
        return found
    }

    /// Writes `documents` as `NAME-NUMBER.jsonl.zst` (see `write(_:to:into:)`).
    static func write(_ documents: [Document], to directory: String, name: String, number: Int,
                      into summary: inout SampleSummary) throws {
        try write(documents.map(jsonLine), to: directory + "/" + name + "-" + String(format: "%05d", number) + ".jsonl.zst", into: &summary)
    }

    /// Writes `lines` to `path` as zstd through a temporary file, which replaces the file
    /// unless that already holds the same bytes; records the path in `summary`.
    static func write(_ lines: [String], to path: String, into summary: inout SampleSummary) throws {
        let temporary = path + ".tmp"
        let writer = try ZstdWriter(path: temporary, level: 9)
        for line in lines {
            try writer.write(line)
        }
        try writer.finish()
        summary.files.append(path)
        if let existing = FileManager.default.contents(atPath: path), existing == FileManager.default.contents(atPath: temporary) {
            try removeFile(temporary)
            summary.unchanged.append(path)
            return
        }
        if rename(temporary, path) != 0 { throw DataError.io(path: path, reason: "cannot rename into place: \(errnoMessage())") }
    }

    /// `{"text": …, "meta": {"pile_set_name": …}}` and a newline.
    static func jsonLine(_ document: Document) -> String {
        "{\"text\": \(TokenizerFile.quote(document.text)), \"meta\": {\"pile_set_name\": \(TokenizerFile.quote(document.source))}}\n"
    }

    /// `{"prompt": …, "completion": …, "meta": {"pile_set_name": …}}` and a newline.
    static func jsonLine(_ example: Example) -> String {
        "{\"prompt\": \(TokenizerFile.quote(example.prompt)), \"completion\": \(TokenizerFile.quote(example.completion)), "
            + "\"meta\": {\"pile_set_name\": \(TokenizerFile.quote(example.source))}}\n"
    }

}
