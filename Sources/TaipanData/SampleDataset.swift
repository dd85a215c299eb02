// SampleDataset.swift — `taipan data sample`: a small Pile-style dataset (`train-*.jsonl.zst`,
// `val-*.jsonl.zst`, one `{"text", "meta": {"pile_set_name"}}` record a line) built from real
// text every Debian machine has: licence texts, the copyright files of Debian's Essential
// packages, Python's standard library and Perl's core modules. Files are chosen by a fixed
// rule that does not depend on what else is installed: the files dpkg lists for named
// packages (base-files, the Essential set, libpython3.X-minimal/-stdlib of the default
// python3, perl-modules-5.X), sorted by path. So the sample has the same bytes on every
// machine with the same Debian, Python and Perl releases; `sample.json` records its SHA-256
// and those releases, and a rebuild that comes out different says so. A file whose bytes come
// out the same is left untouched (its modification time too), so re-running it does not make
// the token shards look stale.
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
    /// When set, only files that dpkg lists for these installed packages are taken (then
    /// filtered by `roots`, `suffixes` and `excluding`), so that other packages installed on
    /// the machine cannot change the source.
    public var packages: [String]?

    public init(
        name: String, roots: [String], suffixes: [String], excluding: [String] = [], byteLimit: Int, debianPackage: String,
        packages: [String]? = nil
    ) {
        self.name = name
        self.roots = roots
        self.suffixes = suffixes
        self.excluding = excluding
        self.byteLimit = byteLimit
        self.debianPackage = debianPackage
        self.packages = packages
    }

    /// Where dpkg keeps the file lists of installed packages.
    public static let dpkgInfo = "/var/lib/dpkg/info"

    /// The sources of the standard sample on a Debian machine.
    public static func debianDefaults() -> [SampleSource] {
        let python = SampleDataset.pythonVersion()
        let perlModules = ((try? FileManager.default.contentsOfDirectory(atPath: dpkgInfo)) ?? [])
            .filter { $0.hasPrefix("perl-modules-5.") && $0.hasSuffix(".list") }.map { String($0.dropLast(5)) }.sorted()
        let pythonPackages = python.map { ["libpython\($0)-minimal", "libpython\($0)-stdlib"] } ?? []
        return [
            SampleSource(name: "Licenses", roots: ["/usr/share/common-licenses"], suffixes: [""],
                         byteLimit: 3 << 20, debianPackage: "base-files", packages: ["base-files"]),
            SampleSource(name: "DebianCopyright", roots: ["/usr/share/doc"], suffixes: ["/copyright"],
                         byteLimit: 3 << 20, debianPackage: "base-files", packages: SampleDataset.essentialPackages()),
            SampleSource(name: "PythonStdlib", roots: python.map { ["/usr/lib/python" + $0] } ?? [], suffixes: [".py"],
                         excluding: ["/dist-packages/", "/site-packages/"], byteLimit: 3 << 20, debianPackage: "python3",
                         packages: pythonPackages),
            SampleSource(name: "PerlModules", roots: ["/usr/share/perl"], suffixes: [".pm", ".pod"],
                         byteLimit: 3 << 20, debianPackage: "perl", packages: perlModules),
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
    /// The SHA-256 of the sample's records (before compression), in file order.
    public var sha256 = ""
    /// The releases the sample was built from ("debian", "python", "perl").
    public var releases: [String: String] = [:]
    /// The SHA-256 and releases `sample.json` held before, when they differ from these.
    public var previous: (sha256: String, releases: [String: String])?
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
        var recordHash = SHA256()
        for document in train {
            shard.append(document)
            shardSize += document.text.utf8.count
            if shardSize >= shardBytes {
                try write(shard, to: directory, name: "train", number: shardNumber, into: &summary, hashing: &recordHash)
                shard = []
                shardSize = 0
                shardNumber += 1
            }
        }
        if !shard.isEmpty { try write(shard, to: directory, name: "train", number: shardNumber, into: &summary, hashing: &recordHash) }
        try write(validation, to: directory, name: "val", number: 0, into: &summary, hashing: &recordHash)
        summary.sha256 = recordHash.hexDigest()
        summary.releases = releases(of: sources)
        try writeRecord(of: &summary, directory: directory)
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

    /// The files of `source`, sorted by path within each root: those dpkg lists for its
    /// `packages` when it names them, else every file under its roots.
    static func files(of source: SampleSource, dpkgInfo: String = SampleSource.dpkgInfo) -> [String] {
        if let packages = source.packages {
            let listed = Set(packages.flatMap { dpkgFiles(of: $0, info: dpkgInfo) ?? [] })
            var found: [String] = []
            for root in source.roots {
                found += listed.filter { path in
                    path.hasPrefix(root + "/") && source.suffixes.contains(where: { path.hasSuffix($0) })
                        && !source.excluding.contains(where: { path.contains($0) })
                }.filter { path in
                    var isDirectory: ObjCBool = false
                    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                }.sorted()
            }
            return found
        }
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

    /// Writes `documents` as `NAME-NUMBER.jsonl.zst` (see `write(_:to:into:)`), adding the
    /// file's name and records to `hasher`.
    static func write(_ documents: [Document], to directory: String, name: String, number: Int,
                      into summary: inout SampleSummary, hashing hasher: inout SHA256) throws {
        let fileName = name + "-" + String(format: "%05d", number) + ".jsonl.zst"
        let lines = documents.map(jsonLine)
        hasher.update(Array((fileName + "\n").utf8))
        for line in lines { hasher.update(Array(line.utf8)) }
        try write(lines, to: directory + "/" + fileName, into: &summary)
    }

    /// The name of the record of what the sample is.
    public static let recordName = "sample.json"

    /// Writes `sample.json` (SHA-256, releases, documents and bytes per source) unless it
    /// already says the same; notes in `summary` what an earlier one said when it differs.
    static func writeRecord(of summary: inout SampleSummary, directory: String) throws {
        let path = directory + "/" + recordName
        if let data = FileManager.default.contents(atPath: path),
           let old = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let sha = old["sha256"] as? String, sha != summary.sha256 {
            summary.previous = (sha, old["releases"] as? [String: String] ?? [:])
        }
        func object(_ values: [String: Int]) -> String {
            "{" + values.keys.sorted().map { "\(TokenizerFile.quote($0)): \(values[$0]!)" }.joined(separator: ", ") + "}"
        }
        let releases = "{\n" + summary.releases.keys.sorted().map { "    \(TokenizerFile.quote($0)): \(TokenizerFile.quote(summary.releases[$0]!))" }.joined(separator: ",\n") + "\n  }"
        let text = "{\n  \"sha256\": \"\(summary.sha256)\",\n  \"releases\": \(releases),\n"
            + "  \"documents\": \(object(summary.documents)),\n  \"bytes\": \(object(summary.bytes))\n}\n"
        if FileManager.default.contents(atPath: path) == Data(text.utf8) { return }
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw DataError.io(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// The default python3's version ("3.11"), from where /usr/bin/python3 points.
    static func pythonVersion() -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/usr/bin/python3") else { return nil }
        let name = (target as NSString).lastPathComponent
        return name.hasPrefix("python") ? String(name.dropFirst(6)) : nil
    }

    /// The installed packages that Debian marks Essential (always installed, whatever else is).
    static func essentialPackages(status: String = "/var/lib/dpkg/status") -> [String] {
        installedPackages(status: status).filter(\.value.essential).keys.sorted()
    }

    /// The installed packages of dpkg's status file: version, and whether Essential.
    static func installedPackages(status: String = "/var/lib/dpkg/status") -> [String: (version: String, essential: Bool)] {
        guard let text = try? String(contentsOfFile: status, encoding: .utf8) else { return [:] }
        var packages: [String: (version: String, essential: Bool)] = [:]
        for stanza in text.components(separatedBy: "\n\n") {
            var name: String?, version = "", essential = false, installed = false
            for line in stanza.split(separator: "\n") {
                if line.hasPrefix("Package: ") { name = String(line.dropFirst(9)) }
                if line.hasPrefix("Version: ") { version = String(line.dropFirst(9)) }
                if line == "Essential: yes" { essential = true }
                if line.hasPrefix("Status: ") && line.hasSuffix(" installed") { installed = true }
            }
            if let name, installed { packages[name] = (version, essential) }
        }
        return packages
    }

    /// What the sample's bytes depend on: Debian's release (/etc/debian_version), Python's
    /// and Perl's, and the version of every package that `sources` take files from.
    static func releases(of sources: [SampleSource]) -> [String: String] {
        var releases: [String: String] = [:]
        if let debian = try? String(contentsOfFile: "/etc/debian_version", encoding: .utf8) {
            releases["debian"] = debian.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let python = pythonVersion() { releases["python"] = python }
        let perl = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/share/perl")) ?? []).sorted().last
        if let perl { releases["perl"] = perl }
        let installed = installedPackages()
        for package in sources.flatMap({ $0.packages ?? [] }) {
            if let version = installed[package]?.version { releases["package " + package] = version }
        }
        return releases
    }

    /// The files dpkg lists for `package` (its `NAME.list` or `NAME:ARCH.list`), or nil when
    /// the package is not installed.
    static func dpkgFiles(of package: String, info: String = SampleSource.dpkgInfo) -> [String]? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: info)) ?? []
        guard let list = names.sorted().first(where: { $0 == package + ".list" || ($0.hasPrefix(package + ":") && $0.hasSuffix(".list")) }),
              let text = try? String(contentsOfFile: info + "/" + list, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").map(String.init)
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
