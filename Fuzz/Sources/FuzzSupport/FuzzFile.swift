// FuzzFile.swift — puts a fuzzer input where a parser that only opens paths can read it.

import FuzzDriver

#if canImport(Glibc)
import Glibc
#endif

/// Files written for the fuzz targets, in a directory of this process under /dev/shm
/// (memory-backed, so a run does not wear the disk), removed when the process exits normally.
public enum FuzzFile {
    /// `/dev/shm/taipan-fuzz-<pid>` (or under `/tmp` where /dev/shm is missing).
    public static let directory: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        let path = "\(base)/taipan-fuzz-\(getpid())"
        mkdir(path, 0o700)
        atexit { FuzzFile.removeDirectory() }
        return path
    }()

    /// Writes `bytes` to `name` in `directory` (replacing it) and returns its path.
    @discardableResult
    public static func write(_ bytes: UnsafeRawBufferPointer, name: String) -> String {
        let path = directory + "/" + name
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(descriptor >= 0, "fuzz harness: cannot create \(path)")
        defer { close(descriptor) }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            precondition(written > 0, "fuzz harness: cannot write \(path)")
            offset += written
        }
        return path
    }

    /// Writes `bytes` to `name` in `directory` and returns its path.
    @discardableResult
    public static func write(_ bytes: [UInt8], name: String) -> String {
        bytes.withUnsafeBytes { write($0, name: name) }
    }

    /// Removes `name` from `directory` (nothing when it is not there).
    public static func remove(_ name: String) {
        unlink(directory + "/" + name)
    }

    private static func removeDirectory() {
        guard let stream = opendir(directory) else { return }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { unlink(directory + "/" + name) }
        }
        closedir(stream)
        rmdir(directory)
    }
}

/// The fuzzer input as a buffer (libFuzzer passes a null pointer for an empty input).
public func fuzzInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> UnsafeRawBufferPointer {
    guard let start, count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: start, count: count)
}

/// Runs libFuzzer on `test` with the program's arguments. SwiftPM links an executable target's
/// `main` to `<Target>_main`, which libFuzzer's own `main` cannot satisfy, so each target
/// defines that symbol with `@_cdecl` and calls this.
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, test)
}
