// AtomicFile.swift — writing a file so that its final name only ever holds a complete file:
// write a temporary file in the same directory, fsync it, rename it over the final name,
// then fsync the directory so the rename itself survives a crash.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes bytes to an open temporary file, retrying short writes and interrupted calls.
public struct AtomicFileWriter {
    /// The final path, used in error messages.
    public let path: String
    fileprivate let descriptor: Int32

    /// Appends `bytes` to the file.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(CheckpointError) {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = writeBytes(descriptor, pointer, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.io(path: path, message: "write failed: \(systemErrorMessage())")
            }
            pointer += written
            remaining -= written
        }
    }

    /// Appends the UTF-8 bytes of `text`.
    public func write(_ text: String) throws(CheckpointError) {
        var text = text
        let result: Result<Void, CheckpointError> = text.withUTF8 { utf8 in
            do throws(CheckpointError) {
                try write(UnsafeRawBufferPointer(utf8))
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}

/// The C `write`, under a name the writer's own `write` methods do not shadow.
private func writeBytes(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, pointer, count)
}

/// The message for the current `errno`.
func systemErrorMessage() -> String { String(cString: strerror(errno)) }

/// Writes the file at `path` through `body`, atomically: either the complete new file ends
/// up under `path` or, on any error, `path` keeps what it held before and the temporary file
/// is removed.
public func writeAtomically(
    path: String, _ body: (AtomicFileWriter) throws(CheckpointError) -> Void
) throws(CheckpointError) {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    let baseName = slash.map { String(path[path.index(after: $0)...]) } ?? path
    guard !baseName.isEmpty else { throw CheckpointError.io(path: path, message: "the path names no file") }
    let temporaryPath =
        (slash.map { String(path[...$0]) } ?? "")
        + ".\(baseName).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
        throw CheckpointError.io(
            path: path, message: "cannot create a temporary file in \(directory): \(systemErrorMessage())")
    }
    var closed = false
    do throws(CheckpointError) {
        try body(AtomicFileWriter(path: path, descriptor: descriptor))
        guard fsync(descriptor) == 0 else {
            throw CheckpointError.io(path: path, message: "fsync failed: \(systemErrorMessage())")
        }
        closed = true
        guard close(descriptor) == 0 else {
            throw CheckpointError.io(path: path, message: "close failed: \(systemErrorMessage())")
        }
        guard rename(temporaryPath, path) == 0 else {
            throw CheckpointError.io(path: path, message: "rename failed: \(systemErrorMessage())")
        }
    } catch {
        if !closed { close(descriptor) }
        unlink(temporaryPath)
        throw error
    }
    let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard directoryDescriptor >= 0 else {
        throw CheckpointError.io(
            path: path, message: "cannot open \(directory) to sync the rename: \(systemErrorMessage())")
    }
    defer { close(directoryDescriptor) }
    guard fsync(directoryDescriptor) == 0 else {
        throw CheckpointError.io(path: path, message: "fsync of \(directory) failed: \(systemErrorMessage())")
    }
}
