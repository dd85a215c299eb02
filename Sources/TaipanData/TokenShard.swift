// TokenShard.swift — Taipan's token shard file: a 64-byte little-endian header, then the
// token ids, each 2 bytes (uint16) or 4 bytes (uint32) as the vocabulary size requires.
//
//   offset  size  field
//        0     8  magic "TAIPANTS"
//        8     4  version (1)
//       12     4  bytes per token (2 or 4)
//       16     8  token count
//       24     8  document count
//       32     4  vocabulary size
//       36    28  zero
//       64     …  token ids
//
// The writer fills a temporary file, writes the header last, fsyncs and renames it into
// place, so a shard under its final name is always complete. The reader memory-maps it.

#if canImport(Glibc)
import Glibc
#endif

/// The layout constants of a token shard.
public enum TokenShardFormat {
    public static let magic: [UInt8] = Array("TAIPANTS".utf8)
    public static let version: UInt32 = 1
    public static let headerSize = 64

    /// Bytes per token for a vocabulary of `vocabularySize` ids: 2 while every id fits in
    /// a uint16 (at most 65536 ids), 4 beyond.
    public static func tokenWidth(vocabularySize: Int) -> Int { vocabularySize <= 65536 ? 2 : 4 }

    /// The 64 header bytes for a shard with these contents.
    public static func header(tokenWidth: Int, tokenCount: Int, documentCount: Int, vocabularySize: Int) -> [UInt8] {
        var bytes = magic
        func append<Integer: FixedWidthInteger>(_ value: Integer) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(version)
        append(UInt32(tokenWidth))
        append(UInt64(tokenCount))
        append(UInt64(documentCount))
        append(UInt32(vocabularySize))
        bytes.append(contentsOf: repeatElement(0, count: headerSize - bytes.count))
        return bytes
    }
}

/// Writes one token shard: appends documents' ids, then `finish()` puts it in place.
public final class TokenShardWriter {
    /// The final path of the shard.
    public let path: String
    /// The temporary path written until `finish()`.
    public let temporaryPath: String
    public let vocabularySize: Int
    public let tokenWidth: Int
    public private(set) var tokenCount = 0
    public private(set) var documentCount = 0
    private var descriptor: Int32
    private var pending: [UInt8] = []  // (≤ flushSize,) encoded ids not yet written
    private var hasher = SHA256()
    private static let flushSize = 1 << 20

    /// Starts a shard at `path` (written as `path.tmp` until finished) for ids below `vocabularySize`.
    public init(path: String, vocabularySize: Int) throws {
        guard vocabularySize >= 1, vocabularySize <= 1 << 32 else {
            throw DataError.invalidArgument("vocabulary size \(vocabularySize) does not fit a token shard (1…\(1 << 32))")
        }
        self.path = path
        temporaryPath = path + ".tmp"
        self.vocabularySize = vocabularySize
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

    /// Appends the ids of one document (with its end-of-text id, if any, already included).
    public func append(document ids: UnsafeBufferPointer<Int32>) throws {
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
        tokenCount += ids.count
        documentCount += 1
        if pending.count >= Self.flushSize { try flush() }
    }

    /// Appends the ids of one document.
    public func append(document ids: [Int32]) throws {
        try ids.withUnsafeBufferPointer { try append(document: $0) }
    }

    /// Writes the header, syncs the file, renames it to `path` and syncs the directory.
    public func finish() throws {
        try flush()
        let header = TokenShardFormat.header(
            tokenWidth: tokenWidth, tokenCount: tokenCount, documentCount: documentCount, vocabularySize: vocabularySize)
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
        let count = field(16, UInt64.self)
        let problem: String?
        if magic != TokenShardFormat.magic {
            problem = "not a Taipan token shard (bad magic number)"
        } else if version != TokenShardFormat.version {
            problem = "unsupported token shard version \(version) (this build reads \(TokenShardFormat.version))"
        } else if width != 2 && width != 4 {
            problem = "invalid token width \(width) (expected 2 or 4)"
        } else if count > UInt64(Int.max / 8) || TokenShardFormat.headerSize + Int(count) * width != fileSize {
            problem = "incomplete or corrupt: the header promises \(count) tokens of \(width) bytes but the file holds \(fileSize - TokenShardFormat.headerSize) bytes of tokens"
        } else {
            problem = nil
        }
        if let problem {
            munmap(mapped, fileSize)
            throw DataError.corrupt(path: path, reason: problem)
        }
        tokenWidth = width
        tokenCount = Int(count)
        documentCount = Int(clamping: field(24, UInt64.self))
        vocabularySize = Int(field(32, UInt32.self))
        mapping = base
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
