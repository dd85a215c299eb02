// RunDirectoryLock.swift — `RUN/.lock`: while a process trains in a run directory it holds a
// POSIX record lock on this file (written with its process id), so that a second `taipan
// train` on the same directory is refused instead of interleaving its checkpoints with the
// first's. The lock goes with the process however it ends (SIGKILL included); the file stays
// and means nothing by itself. Record locks belong to the process, so trainers created one
// after another in one process (as tests do) never lock each other out.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A held lock on a run directory; released when the value is released or the process ends.
final class RunDirectoryLock {
    static let fileName = ".lock"
    private let descriptor: Int32

    /// Locks `directory` (creating it), or throws naming the process that holds it.
    init(directory: String) throws {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw TrainError.run("\(directory): cannot create the run directory: \(error.localizedDescription)")
        }
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TrainError.run("\(path): cannot open the run directory's lock file: \(String(cString: strerror(errno)))")
        }
        guard lockf(descriptor, F_TLOCK, 0) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw TrainError.run(
                "\(directory) is in use by another taipan process\(holder.isEmpty ? "" : " (pid \(holder))"); wait for it to finish or stop it (its checkpoints stay valid), then run again")
        }
        let text = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    deinit { close(descriptor) }
}
