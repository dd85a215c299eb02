// TokenShard.swift — Taipan's token shard file: a 64-byte little-endian header, then the
// token ids, each 2 bytes (uint16) or 4 bytes (uint32) as the vocabulary size requires, and in
// version 2 the examples of prompt/completion data after them.
//
//   offset      size     field
//        0         8     magic "TAIPANTS"
//        8         4     version: 1 (text: ids only) or 2 (examples: ids, starts, loss mask)
//       12         4     bytes per token w (2 or 4)
//       16         8     token count T
//       24         8     document (example) count E
//       32         4     vocabulary size
//       36        28     zero
//       64       T·w     token ids
//   version 2 only:
//   64 + T·w  8·(E+1)    uint64 example starts: example e is ids starts[e] ..< starts[e+1]
//                        (starts[0] = 0, starts[E] = T)
//   …         ⌈T / 8⌉    the loss mask, one bit an id (bit t mod 8 of byte ⌊t / 8⌋): set when
//                        id t is a target the loss counts (a completion id or the end-of-text)
//
// Text shards stay version 1, byte for byte what earlier builds wrote and read; a build that
// reads only version 1 refuses a version 2 shard instead of training on prompts as text.
// The writer fills a temporary file, writes the header last, fsyncs and renames it into
// place, so a shard under its final name is always complete. The reader memory-maps it.

#if canImport(Glibc)
import Glibc
#endif

/// The layout constants of a token shard.
public enum TokenShardFormat {
    public static let magic: [UInt8] = Array("TAIPANTS".utf8)
    /// The version of a shard of text documents.
    public static let version: UInt32 = 1
    /// The version of a shard of examples (with starts and a loss mask).
    public static let examplesVersion: UInt32 = 2
    public static let headerSize = 64

    /// Bytes per token for a vocabulary of `vocabularySize` ids: 2 while every id fits in
    /// a uint16 (at most 65536 ids), 4 beyond.
    public static func tokenWidth(vocabularySize: Int) -> Int { vocabularySize <= 65536 ? 2 : 4 }

    /// The 64 header bytes for a shard with these contents.
    public static func header(
        tokenWidth: Int, tokenCount: Int, documentCount: Int, vocabularySize: Int, examples: Bool = false
    ) -> [UInt8] {
        var bytes = magic
        func append<Integer: FixedWidthInteger>(_ value: Integer) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(examples ? examplesVersion : version)
        append(UInt32(tokenWidth))
        append(UInt64(tokenCount))
        append(UInt64(documentCount))
        append(UInt32(vocabularySize))
        bytes.append(contentsOf: repeatElement(0, count: headerSize - bytes.count))
        return bytes
    }
}

/// Writes one token shard: appends documents' ids (or examples' ids and where their
/// completions start), then `finish()` puts it in place.
public final class TokenShardWriter {
    /// The final path of the shard.
    public let path: String
    /// The temporary path written until `finish()`.
    public let temporaryPath: String
    public let vocabularySize: Int
    public let tokenWidth: Int
    public private(set) var tokenCount = 0
    public private(set) var documentCount = 0
    /// True for a shard of examples (version 2).
    public let examples: Bool
    /// Ids the loss counts so far (examples only).
    public private(set) var countedCount = 0
    private var starts: [UInt64] = [0]  // (E+1,) example starts, examples only
    private var mask: [UInt8] = []  // (⌈T/8⌉,) loss-mask bits, examples only
    private var descriptor: Int32
    private var pending: [UInt8] = []  // (≤ flushSize,) encoded ids not yet written
    private var hasher = SHA256()
    private static let flushSize = 1 << 20

    /// Starts a shard at `path` (written as `path.tmp` until finished) for ids below
    /// `vocabularySize`; a shard of `examples` records where each one's completion starts.
    public init(path: String, vocabularySize: Int, examples: Bool = false) throws {
        guard vocabularySize >= 1, vocabularySize <= 1 << 32 else {
            throw DataError.invalidArgument("vocabulary size \(vocabularySize) does not fit a token shard (1…\(1 << 32))")
        }
        self.path = path
        temporaryPath = path + ".tmp"
        self.vocabularySize = vocabularySize
        self.examples = examples
        tokenWidth = TokenShardFormat.tokenWidth(vocabularySize: vocabularySize)
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 { throw DataError.io(path: temporaryPath, reason: "cannot create: \(errnoMessage())") }
        pending.reserveCapacity(Self.flushSize + 4096)
        // A zero header holds the place; the real one is written once the counts are known.
        pending.append(contentsOf: repeatElement(0, count: TokenShardFormat.headerSize))
    }

    deinit {
        if descriptor >= 0 {
            close(descriptor)
            unlink(temporaryPath)
        }
    }

    /// Appends the ids of one document (with its end-of-text id, if any, already included). In
    /// a shard of examples, `promptCount` leading ids are the prompt, which the loss does not
    /// count; the rest (completion and end-of-text) it counts.
    public func append(document ids: UnsafeBufferPointer<Int32>, promptCount: Int = 0) throws {
        precondition(examples || promptCount == 0, "a text shard has no prompts")
        precondition(promptCount >= 0 && promptCount <= ids.count, "prompt longer than its example")
        let limit = Int64(vocabularySize)
        let start = pending.count
        pending.append(contentsOf: repeatElement(0, count: ids.count * tokenWidth))
        let valid = pending.withUnsafeMutableBytes { raw -> Bool in
            let output = raw.baseAddress! + start
            for index in 0..<ids.count {
                let id = ids[index]
                guard id >= 0, Int64(id) < limit else { return false }
                if tokenWidth == 2 {
                    output.storeBytes(of: UInt16(truncatingIfNeeded: id).littleEndian, toByteOffset: 2 * index, as: UInt16.self)
                } else {
                    output.storeBytes(of: UInt32(truncatingIfNeeded: id).littleEndian, toByteOffset: 4 * index, as: UInt32.self)
                }
            }
            return true
        }
        guard valid else {
            pending.removeLast(ids.count * tokenWidth)
            throw DataError.invalidArgument("\(path): a token id is outside the vocabulary (size \(vocabularySize))")
        }
        if examples {
            mask.append(contentsOf: repeatElement(0, count: (tokenCount + ids.count + 7) / 8 - mask.count))
            for index in (tokenCount + promptCount)..<(tokenCount + ids.count) { mask[index >> 3] |= 1 << UInt8(index & 7) }
            starts.append(UInt64(tokenCount + ids.count))
            countedCount += ids.count - promptCount
        }
        tokenCount += ids.count
        documentCount += 1
        if pending.count >= Self.flushSize { try flush() }
    }

    /// Appends the ids of one document (in a shard of examples, after `promptCount` prompt ids).
    public func append(document ids: [Int32], promptCount: Int = 0) throws {
        try ids.withUnsafeBufferPointer { try append(document: $0, promptCount: promptCount) }
    }

    /// Writes the header, syncs the file, renames it to `path` and syncs the directory.
    public func finish() throws {
        if examples {
            for start in starts { withUnsafeBytes(of: start.littleEndian) { pending.append(contentsOf: $0) } }
            pending += mask
        }
        try flush()
        let header = TokenShardFormat.header(
            tokenWidth: tokenWidth, tokenCount: tokenCount, documentCount: documentCount, vocabularySize: vocabularySize,
            examples: examples)
        let written = header.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        if written != header.count { throw DataError.io(path: temporaryPath, reason: "writing the header failed: \(errnoMessage())") }
        if fsync(descriptor) != 0 { throw DataError.io(path: temporaryPath, reason: "fsync failed: \(errnoMessage())") }
        close(descriptor)
        descriptor = -1
        if rename(temporaryPath, path) != 0 {
            throw DataError.io(path: path, reason: "cannot rename \(temporaryPath) into place: \(errnoMessage())")
        }
        try syncDirectory(containing: path)
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        try pending.withUnsafeBytes { try writeAll($0, to: descriptor, path: temporaryPath) }
        pending.removeAll(keepingCapacity: true)
    }
}

/// A memory-mapped token shard, checked against its header.
public final class TokenShard: @unchecked Sendable {
    public let path: String
    public let tokenWidth: Int
    public let tokenCount: Int
    public let documentCount: Int
    public let vocabularySize: Int
    /// True for a shard of examples (version 2): `exampleRange` and `isCounted` answer.
    public let hasExamples: Bool
    private let mapping: UnsafeRawPointer  // (fileSize,) the whole file, read-only
    private let fileSize: Int

    /// Maps the shard at `path`; a file whose header or size is wrong is an error.
    public init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 { throw DataError.io(path: path, reason: "cannot open: \(errnoMessage())") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw DataError.io(path: path, reason: "cannot stat: \(errnoMessage())") }
        fileSize = Int(info.st_size)
        guard fileSize >= TokenShardFormat.headerSize else {
            throw DataError.corrupt(path: path, reason: "too short for a token shard header (\(fileSize) bytes)")
        }
        guard let mapped = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw DataError.io(path: path, reason: "mmap failed: \(errnoMessage())")
        }
        let base = UnsafeRawPointer(mapped)
        func field<Integer: FixedWidthInteger>(_ offset: Int, _ type: Integer.Type) -> Integer {
            Integer(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: Integer.self))
        }
        let magic = Array(UnsafeRawBufferPointer(start: base, count: 8))
        let version = field(8, UInt32.self)
        let width = Int(field(12, UInt32.self))
        let count = field(16, UInt64.self), documents = field(24, UInt64.self)
        let examples = version == TokenShardFormat.examplesVersion
        let problem: String?
        if magic != TokenShardFormat.magic {
            problem = "not a Taipan token shard (bad magic number)"
        } else if version != TokenShardFormat.version && !examples {
            problem = "unsupported token shard version \(version) (this build reads \(TokenShardFormat.version) and \(TokenShardFormat.examplesVersion))"
        } else if width != 2 && width != 4 {
            problem = "invalid token width \(width) (expected 2 or 4)"
        } else if Self.size(tokens: count, width: width, examples: examples ? documents : nil) != fileSize {
            problem = "incomplete or corrupt: the header promises \(count) tokens of \(width) bytes"
                + (examples ? " and \(documents) examples" : "") + " but the file holds \(fileSize - TokenShardFormat.headerSize) bytes after the header"
        } else if examples, let bad = Self.badExampleStarts(base + TokenShardFormat.headerSize + Int(count) * width, examples: Int(documents), tokens: Int(count)) {
            problem = bad
        } else {
            problem = nil
        }
        if let problem {
            munmap(mapped, fileSize)
            throw DataError.corrupt(path: path, reason: problem)
        }
        tokenWidth = width
        tokenCount = Int(count)
        documentCount = Int(clamping: documents)
        vocabularySize = Int(field(32, UInt32.self))
        hasExamples = examples
        mapping = base
    }

    /// The size of a shard of `tokens` ids `width` bytes wide and, in version 2, `examples`
    /// examples (their starts and the loss mask after the ids); nil when it would overflow an
    /// Int, so that a header promising absurd counts is refused, not trapped on.
    static func size(tokens: UInt64, width: Int, examples: UInt64?) -> Int? {
        guard tokens <= UInt64(Int.max / 8), (1...4).contains(width) else { return nil }
        let ids = TokenShardFormat.headerSize + Int(tokens) * width  // at most 64 + Int.max / 2
        guard let examples else { return ids }
        guard examples < UInt64(Int.max / 16) else { return nil }
        let (withStarts, startsOverflow) = ids.addingReportingOverflow(8 * (Int(examples) + 1))
        let (total, maskOverflow) = withStarts.addingReportingOverflow((Int(tokens) + 7) / 8)
        return startsOverflow || maskOverflow ? nil : total
    }

    /// Why the example starts at `starts` are not an increasing walk from 0 to `tokens`, or nil.
    private static func badExampleStarts(_ starts: UnsafeRawPointer, examples: Int, tokens: Int) -> String? {
        var previous: UInt64 = 0
        for index in 0...examples {
            let start = UInt64(littleEndian: starts.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
            let valid = index == 0 ? start == 0 : (start > previous && (index < examples || start == UInt64(tokens)))
            if !valid || start > UInt64(tokens) { return "corrupt example starts: example \(index) starts at \(start)" }
            previous = start
        }
        return nil
    }

    /// The ids of example `index` (0 ≤ index < documentCount) of a shard of examples.
    public func exampleRange(_ index: Int) -> Range<Int> {
        precondition(hasExamples && index >= 0 && index < documentCount, "example \(index) out of range")
        let starts = mapping + TokenShardFormat.headerSize + tokenCount * tokenWidth
        let start = UInt64(littleEndian: starts.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
        let end = UInt64(littleEndian: starts.loadUnaligned(fromByteOffset: 8 * index + 8, as: UInt64.self))
        return Int(start)..<Int(end)
    }

    /// Whether the loss counts id `index` as a target: always in a text shard; in a shard of
    /// examples, for completion ids and end-of-text ids only.
    public func isCounted(_ index: Int) -> Bool {
        precondition(index >= 0 && index < tokenCount, "token index \(index) out of range 0..<\(tokenCount)")
        guard hasExamples else { return true }
        let mask = mapping + TokenShardFormat.headerSize + tokenCount * tokenWidth + 8 * (documentCount + 1)
        return mask.load(fromByteOffset: index >> 3, as: UInt8.self) & (1 << UInt8(index & 7)) != 0
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: mapping), fileSize) }

    /// The id at `index` (0 ≤ index < tokenCount).
    public subscript(index: Int) -> Int32 {
        precondition(index >= 0 && index < tokenCount, "token index \(index) out of range 0..<\(tokenCount)")
        let data = mapping + TokenShardFormat.headerSize
        if tokenWidth == 2 { return Int32(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))) }
        return Int32(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
    }

    /// Copies ids `start ..< start + count` into `output` as Int32.
    public func copyTokens(from start: Int, count: Int, into output: UnsafeMutablePointer<Int32>) {
        precondition(start >= 0 && count >= 0 && start + count <= tokenCount, "token range out of bounds")
        let data = mapping + TokenShardFormat.headerSize
        if tokenWidth == 2 {
            let ids = data.assumingMemoryBound(to: UInt16.self) + start
            for index in 0..<count { output[index] = Int32(UInt16(littleEndian: ids[index])) }
        } else {
            let ids = data.assumingMemoryBound(to: UInt32.self) + start
            for index in 0..<count { output[index] = Int32(bitPattern: UInt32(littleEndian: ids[index])) }
        }
    }
}

/// fsyncs the directory holding `path`, so a rename into it survives a crash.
func syncDirectory(containing path: String) throws {
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let descriptor = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if descriptor < 0 { throw DataError.io(path: directory, reason: "cannot open directory: \(errnoMessage())") }
    defer { close(descriptor) }
    if fsync(descriptor) != 0 { throw DataError.io(path: directory, reason: "fsync failed: \(errnoMessage())") }
}
