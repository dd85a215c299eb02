// MappedFile.swift — a regular file mapped read-only into memory, and bounds-checked
// little-endian reads from raw bytes. The weight readers (safetensors, the zip archives of
// `pytorch_model.bin`) hand out pointers into the mapping instead of copying the file.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file mapped read-only into memory, unmapped when released.
final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from, used in error messages.
    let path: String
    /// The whole file. The mapping is read-only and never changes, which is what makes sharing
    /// the instance across threads safe.
    let bytes: UnsafeRawBufferPointer

    /// Opens and maps the regular file at `path`; an empty file maps to an empty buffer.
    init(path: String) throws(CheckpointError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CheckpointError.io(path: path, message: "cannot open: \(systemErrorMessage())")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw CheckpointError.io(path: path, message: "cannot stat: \(systemErrorMessage())")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.io(path: path, message: "not a regular file")
        }
        let size = Int(status.st_size)
        self.path = path
        // mmap refuses a length of zero.
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw CheckpointError.io(path: path, message: "cannot map: \(systemErrorMessage())")
        }
        bytes = UnsafeRawBufferPointer(start: mapping, count: size)
    }

    deinit {
        if let start = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: start), bytes.count) }
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian integer at byte `offset`, or `nil` where it would reach outside the
    /// buffer.
    func littleEndian<Value: FixedWidthInteger>(_: Value.Type, at offset: Int) -> Value? {
        guard offset >= 0, offset <= count - MemoryLayout<Value>.size else { return nil }
        return Value(littleEndian: loadUnaligned(fromByteOffset: offset, as: Value.self))
    }
}
