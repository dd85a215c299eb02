// PrepareShare.swift — `taipan data prepare` split across the ranks of an MPI job. Each rank
// decodes and tokenises its share of the input files into one part file per input; then
// rank 0 feeds the parts, in input order, through the same code a one-process run feeds its
// batches through (held-out draws, bad-record policy, shard cuts), so the shards and the
// manifest are byte-identical to a one-process run's. The three steps are separate calls so
// that the caller, who owns the communicator, puts the barriers between them:
//
//   rank 0: beginShared()  →  every rank: tokenizeShare(rank:ranks:)  →  rank 0: assembleShares()
//
// Part file, little-endian: magic "TAIPANPT", u32 version 2, the input's SHA-256 as 64 hex
// bytes, then per record: u8 kind, u64 line number, and for a document u32 byte count + the
// source name in UTF-8 and u32 count + int32 tokens (for an example, u32 prompt count
// before them); for a bad record with a detail, u32 byte count + the detail in UTF-8.
// Written as NAME.tmp and renamed once complete.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a shared preparation stands after its first step.
public enum SharedPreparationStart: Sendable {
    /// The directory already holds this preparation: nothing to do.
    case done(PrepareResult)
    /// The directory is ready for the ranks' parts (`restarted`: an interrupted run's output
    /// was discarded first).
    case started(restarted: Bool)
}

extension DataPreparation {
    /// The folder of the output directory where the ranks leave their parts.
    public static let partsDirectoryName = ".prepare-parts"

    var partsDirectory: String { options.outputDirectory + "/" + Self.partsDirectoryName }

    func partPath(input: Int) -> String { partsDirectory + "/" + String(format: "part-%05d", input) }

    /// Step 1, on rank 0 before the others start: checks the options and the directory as
    /// `run()` does, and says whether there is anything to do.
    public func beginShared() throws -> SharedPreparationStart {
        let plan = try begin()
        if let done = plan.existing { return .done(done) }
        try createDirectory(partsDirectory)
        return .started(restarted: plan.restarted)
    }

    /// Step 2, on every rank: tokenises this rank's share of the inputs into part files.
    /// `progress` hears this rank's share only.
    public func tokenizeShare(rank: Int, ranks: Int, progress: ((PrepareProgress) -> Void)? = nil) throws {
        let inputs = try expandedInputs()
        let mine = Self.shares(of: inputs, ranks: ranks)[rank]
        var run = try PrepareRun(preparation: self, inputs: inputs, progress: progress)
        let shareBytes = mine.reduce(0) { $0 + inputs[$1].bytes }
        var writer: PartWriter?
        var tokens = 0, documents = 0
        try run.tokenize(mine, eachInputApart: true) { run, batch, outcomes in
            let input = batch.inputIndices[0]
            if writer == nil { writer = try PartWriter(path: partPath(input: input)) }
            for index in 0..<batch.count {
                try writer?.write(outcomes[index], line: batch.lines[index])
                if case .tokens(let ids, _, _) = outcomes[index] {
                    tokens += ids.count
                    documents += 1
                }
            }
        } progress: { run, bytesRead in
            run.reportShare(bytesRead: bytesRead, totalBytes: shareBytes, tokens: tokens, documents: documents)
        } inputDone: { run, input in
            // An input without records has no batch: its part holds the header alone.
            let part = try writer ?? PartWriter(path: partPath(input: input))
            try part.finish(sha256: run.inputs[input].sha256)
            writer = nil
        }
    }

    /// Step 3, on rank 0 once every rank has finished step 2: writes the shards and the
    /// manifest from the parts, then removes them.
    public func assembleShares(restarted: Bool, progress: ((PrepareProgress) -> Void)? = nil) throws -> PrepareResult {
        let inputs = try expandedInputs()
        var run = try PrepareRun(preparation: self, inputs: inputs, progress: progress)
        let totalBytes = inputs.reduce(0) { $0 + $1.bytes }
        var bytesDone = 0
        for input in inputs.indices {
            let reader = try PartReader(path: partPath(input: input))
            while let (outcome, line) = try reader.next() {
                try run.consume(outcome, inputIndex: input, line: line)
            }
            run.inputs[input].sha256 = reader.sha256
            bytesDone += inputs[input].bytes
            run.report(bytesRead: bytesDone, totalBytes: totalBytes, force: false)
        }
        let manifest = try run.manifest(totalBytes: totalBytes)
        try removeShareParts()
        return try finish(manifest, restarted: restarted)
    }

    /// Deletes the parts folder of an earlier or finished shared run.
    func removeShareParts() throws {
        let manager = FileManager.default
        guard manager.fileExists(atPath: partsDirectory) else { return }
        do { try manager.removeItem(atPath: partsDirectory) } catch {
            throw DataError.io(path: partsDirectory, reason: "cannot remove: \(error.localizedDescription)")
        }
    }

    /// The input indices each of `ranks` ranks tokenises: the largest input first, each to
    /// the rank with the fewest bytes so far (ties to the lowest rank); each share in input
    /// order.
    static func shares(of inputs: [DataManifest.Input], ranks: Int) -> [[Int]] {
        var shares = [[Int]](repeating: [], count: ranks), loads = [Int](repeating: 0, count: ranks)
        for index in inputs.indices.sorted(by: { (inputs[$0].bytes, $1) > (inputs[$1].bytes, $0) }) {
            let rank = loads.indices.min { (loads[$0], $0) < (loads[$1], $1) } ?? 0
            shares[rank].append(index)
            loads[rank] += inputs[index].bytes
        }
        return shares.map { $0.sorted() }
    }
}

extension PrepareRun {
    /// Progress of one rank's share (tokens and documents are counted by the caller, since
    /// nothing is appended to shards in this step).
    mutating func reportShare(bytesRead: Int, totalBytes: Int, tokens: Int, documents: Int) {
        guard let progress else { return }
        let now = DispatchTime.now()
        guard now.uptimeNanoseconds - lastReport.uptimeNanoseconds >= 500_000_000 else { return }
        lastReport = now
        progress(PrepareProgress(bytesRead: bytesRead, totalBytes: totalBytes, tokens: tokens, documents: documents,
                                 seconds: Double(now.uptimeNanoseconds - started.uptimeNanoseconds) / 1e9))
    }
}

/// The part file's record kinds.
private enum PartKind: UInt8 {
    case document = 0, blank, empty, invalidJSON, missingText, textNotString, invalidUTF8, example, chatMessages
}

private let partMagic = Array("TAIPANPT".utf8)
private let partVersion: UInt32 = 2

/// Writes one input's outcomes to `path.tmp`; `finish` renames it to `path`.
private final class PartWriter {
    let path: String
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    init(path: String) throws {
        self.path = path
        descriptor = open(path + ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 { throw DataError.io(path: path + ".tmp", reason: "cannot create: \(errnoMessage())") }
        buffer.reserveCapacity(1 << 20)
        buffer += partMagic
        append(partVersion)
        // The hash is known only at the end: a placeholder, rewritten by `finish`.
        buffer += [UInt8](repeating: UInt8(ascii: "0"), count: 64)
    }

    deinit { close(descriptor) }

    func write(_ outcome: PrepareRun.Outcome, line: Int) throws {
        switch outcome {
        case .tokens(let tokens, let promptCount, let source):
            // An example without a prompt reads back the same as a document.
            buffer.append((promptCount > 0 ? PartKind.example : PartKind.document).rawValue)
            append(UInt64(line))
            appendString(source)
            if promptCount > 0 { append(UInt32(promptCount)) }
            append(UInt32(tokens.count))
            for token in tokens { append(UInt32(bitPattern: token)) }
        case .other(let decoded):
            switch decoded {
            case .document, .example:
                preconditionFailure("tokenised documents arrive as .tokens")
            case .blank: header(.blank, line)
            case .empty: header(.empty, line)
            case .bad(.invalidJSON(let detail)): header(.invalidJSON, line); appendString(detail)
            case .bad(.missingText(let field)): header(.missingText, line); appendString(field)
            case .bad(.textNotString(let field)): header(.textNotString, line); appendString(field)
            case .bad(.invalidUTF8): header(.invalidUTF8, line)
            case .bad(.chatMessages(let field)): header(.chatMessages, line); appendString(field)
            }
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Writes the rest with the input's hash in the header and renames the file into place.
    func finish(sha256: String) throws {
        try flush()
        let hash = Array(sha256.utf8)
        guard hash.count == 64 else { throw DataError.io(path: path, reason: "no SHA-256 of the input") }
        let written = hash.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, 64, off_t(partMagic.count + 4)) }
        if written != 64 { throw DataError.io(path: path + ".tmp", reason: "cannot write: \(errnoMessage())") }
        if rename(path + ".tmp", path) != 0 { throw DataError.io(path: path, reason: "cannot rename into place: \(errnoMessage())") }
    }

    private func flush() throws {
        try buffer.withUnsafeBytes { try writeAll($0, to: descriptor, path: path + ".tmp") }
        buffer.removeAll(keepingCapacity: true)
    }

    private func header(_ kind: PartKind, _ line: Int) {
        buffer.append(kind.rawValue)
        append(UInt64(line))
    }

    private func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { buffer += $0 }
    }

    private func appendString(_ text: String) {
        let bytes = Array(text.utf8)
        append(UInt32(bytes.count))
        buffer += bytes
    }
}

/// Reads a part file record by record, memory-mapped; every read is checked against the
/// file's length.
private final class PartReader {
    let path: String
    /// The input's SHA-256, as the rank that read it computed it.
    private(set) var sha256 = ""
    private var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
    private var offset = 0

    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 { throw DataError.io(path: path, reason: "cannot open (\(errnoMessage())): a rank did not finish its share") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw DataError.io(path: path, reason: "cannot stat: \(errnoMessage())") }
        let size = Int(info.st_size)
        guard size >= partMagic.count + 4 + 64 else { throw DataError.io(path: path, reason: "not a prepare part file (\(size) bytes)") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw DataError.io(path: path, reason: "cannot map: \(errnoMessage())")
        }
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
        guard Array(bytes[0..<partMagic.count]) == partMagic else { throw DataError.io(path: path, reason: "not a prepare part file") }
        offset = partMagic.count
        let version: UInt32 = try read()
        guard version == partVersion else { throw DataError.io(path: path, reason: "part file version \(version), expected \(partVersion)") }
        sha256 = String(decoding: bytes[offset..<(offset + 64)], as: UTF8.self)
        offset += 64
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// The next record's outcome and line, or nil at the end.
    func next() throws -> (PrepareRun.Outcome, Int)? {
        guard offset < bytes.count else { return nil }
        let kindByte = bytes[offset]
        offset += 1
        guard let kind = PartKind(rawValue: kindByte) else { throw DataError.io(path: path, reason: "unknown record kind \(kindByte)") }
        let line = Int(try read() as UInt64)
        switch kind {
        case .document, .example:
            let source = try readString()
            let promptCount = kind == .example ? Int(try read() as UInt32) : 0
            let count = Int(try read() as UInt32)
            guard promptCount <= count else { throw DataError.io(path: path, reason: "an example's prompt is longer than the example") }
            guard offset + 4 * count <= bytes.count else { throw truncated() }
            var tokens = [Int32](repeating: 0, count: count)
            tokens.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 4 * count)])) }
            offset += 4 * count
            return (.tokens(tokens.map { Int32(littleEndian: $0) }, promptCount: promptCount, source: source), line)
        case .blank: return (.other(.blank), line)
        case .empty: return (.other(.empty), line)
        case .invalidJSON: return (.other(.bad(.invalidJSON(try readString()))), line)
        case .missingText: return (.other(.bad(.missingText(field: try readString()))), line)
        case .textNotString: return (.other(.bad(.textNotString(field: try readString()))), line)
        case .invalidUTF8: return (.other(.bad(.invalidUTF8)), line)
        case .chatMessages: return (.other(.bad(.chatMessages(field: try readString()))), line)
        }
    }

    private func truncated() -> DataError { DataError.io(path: path, reason: "truncated at byte \(offset)") }

    private func read<T: FixedWidthInteger>() throws -> T {
        let size = MemoryLayout<T>.size
        guard offset + size <= bytes.count else { throw truncated() }
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])) }
        offset += size
        return T(littleEndian: value)
    }

    private func readString() throws -> String {
        let count = Int(try read() as UInt32)
        guard offset + count <= bytes.count else { throw truncated() }
        defer { offset += count }
        return String(decoding: bytes[offset..<(offset + count)], as: UTF8.self)
    }
}
