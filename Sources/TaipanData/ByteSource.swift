// ByteSource.swift — a stream of bytes read in fixed-size pieces (a plain file, or a zstd
// file through `ZstdReader`), and `FileReader`, the plain-file stream over a POSIX descriptor.

#if canImport(Glibc)
import Glibc
#endif

/// A stream of bytes, read front to back into caller-owned buffers.
public protocol ByteSource: AnyObject {
    /// The file the bytes come from, for error messages.
    var path: String { get }
    /// Fills the front of `buffer` and returns how many bytes it wrote; 0 means the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Reads a plain file through a POSIX descriptor, counting the bytes read so far.
public final class FileReader: ByteSource {
    public let path: String
    /// Bytes read from the file so far.
    public private(set) var bytesRead: Int = 0
    private let descriptor: Int32
    private var hasher: SHA256?

    /// Opens `path` for reading; with `hashing`, `sha256()` gives the hash of what was read.
    public init(path: String, hashing: Bool = false) throws {
        self.path = path
        hasher = hashing ? SHA256() : nil
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 { throw DataError.io(path: path, reason: "cannot open: \(errnoMessage())") }
        var info = stat()
        if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(descriptor)
            throw DataError.io(path: path, reason: "is a directory, not a file")
        }
    }

    deinit { close(descriptor) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let count = Glibc.read(descriptor, base, buffer.count)
            if count >= 0 {
                bytesRead += count
                hasher?.update(UnsafeRawBufferPointer(start: base, count: count))
                return count
            }
            if errno != EINTR { throw DataError.io(path: path, reason: "read failed: \(errnoMessage())") }
        }
    }
}

extension FileReader {
    /// The SHA-256 of the bytes read so far (the whole file, once read to the end), if hashing.
    public func sha256() -> String? { hasher?.hexDigest() }
}
