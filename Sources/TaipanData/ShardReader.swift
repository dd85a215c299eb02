// ShardReader.swift — iterates the documents of one text shard (`.jsonl`, `.jsonl.zst`,
// `.txt`, `.txt.zst`), streaming: lines are read through a fixed buffer, zstd is decoded as
// it is read, and only the current record (a JSON line, a text file or a text line) is held
// in memory.

/// Reads the records and documents of one text shard.
public final class ShardReader {
    public let path: String
    public let format: ShardFormat
    public let decoder: RecordDecoder
    /// Records skipped so far (bad ones under the `.skip` policy, and empty ones).
    public private(set) var skipped = SkippedRecords()
    /// The source name of a plain-text file: the name of the directory holding it.
    public let plainTextSource: String
    private let file: FileReader
    private let source: ByteSource
    private let lines: LineReader
    private let readSize: Int
    private var plainTextDone = false
    private var record: [UInt8] = []

    /// Opens `path`; its name must end in one of `ShardFormat.extensions`.
    /// With `hashing`, `fileSHA256()` gives the hash of the file once it has been read.
    public init(path: String, options: RecordOptions = RecordOptions(), bufferSize: Int = 1 << 20, hashing: Bool = false) throws {
        guard let format = ShardFormat(path: path) else {
            throw DataError.invalidArgument("\(path): unknown input format (expected a name ending in \(ShardFormat.extensions.joined(separator: ", ")))")
        }
        self.path = path
        self.format = format
        decoder = RecordDecoder(options: options)
        file = try FileReader(path: path, hashing: hashing)
        source = path.hasSuffix(".zst") ? ZstdReader(file: file, bufferSize: bufferSize) : file
        lines = LineReader(source: source, bufferSize: bufferSize)
        readSize = max(bufferSize, 1)
        plainTextSource = Self.plainTextSource(path: path)
    }

    /// The source name of the plain-text file at `path`: its directory's name.
    public static func plainTextSource(path: String) -> String {
        let components = path.split(separator: "/")
        return components.count >= 2 ? String(components[components.count - 2]) : "text"
    }

    /// Bytes of the file (compressed, for `.zst`) consumed so far, for progress reports.
    public var fileBytesRead: Int { file.bytesRead }

    /// The SHA-256 of the file's bytes read so far, when opened with `hashing`.
    public func fileSHA256() -> String? { file.sha256() }

    /// Appends the next raw record to `bytes` and returns its line number, or nil at the end.
    public func nextRecord(appendingTo bytes: inout [UInt8]) throws -> Int? {
        switch format {
        case .jsonLines:
            return try lines.readLine(appendingTo: &bytes) ? lines.lineNumber : nil
        case .plainText where decoder.options.plainTextDocuments == .lines:
            return try lines.readLine(appendingTo: &bytes, keepingLineEnding: true) ? lines.lineNumber : nil
        case .plainText:
            guard !plainTextDone else { return nil }
            plainTextDone = true
            while true {
                let filled = bytes.count
                bytes.append(contentsOf: repeatElement(0, count: readSize))
                let count = try bytes.withUnsafeMutableBytes { try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
                bytes.removeLast(readSize - count)
                if count == 0 { return 1 }
            }
        }
    }

    /// The next document, skipping (and counting) what the policy skips; nil at the end.
    public func next() throws -> Document? {
        while true {
            record.removeAll(keepingCapacity: true)
            guard let line = try nextRecord(appendingTo: &record) else { return nil }
            let decoded = record.withUnsafeBufferPointer { decoder.decode($0, format: format, plainTextSource: plainTextSource) }
            if let document = try decoder.accept(decoded, path: path, line: line, skipped: &skipped) { return document }
        }
    }
}
