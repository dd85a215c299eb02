// CheckpointStore.swift — the `RUN/checkpoints/` directory of a training run: one directory per
// saved step (`step-00001200/`), written in a staging directory, fsynced, renamed into place
// atomically, and marked `COMPLETE` last. A directory without the marker is never trusted, so a
// run killed mid-save resumes from the previous checkpoint.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The checkpoints of one run, under `root`.
public struct CheckpointStore: Sendable {
    /// The directory that holds the step directories (`RUN/checkpoints`).
    public let root: String
    /// The marker file a checkpoint directory holds once it is complete.
    public static let completeMarker = "COMPLETE"

    public init(root: String) { self.root = root }

    /// `step-00001200`: the directory name of `step`'s checkpoint.
    public static func directoryName(step: Int) -> String { "step-" + String(format: "%08d", step) }

    /// The step of a checkpoint directory of this store, from its path.
    public func step(ofPath path: String) -> Int? {
        let name = (path as NSString).lastPathComponent
        guard (path as NSString).deletingLastPathComponent == root, name.hasPrefix("step-"), name.count == 13 else { return nil }
        return Int(name.dropFirst(5))
    }

    /// The path of `step`'s checkpoint directory.
    public func path(step: Int) -> String { (root as NSString).appendingPathComponent(Self.directoryName(step: step)) }

    /// Saves `step`'s checkpoint: `write` fills a staging directory (each file written with
    /// `writeAtomically`, so fsynced), which is then renamed to its final name, the rename
    /// synced, and the `COMPLETE` marker written last. Replaces an earlier checkpoint of the
    /// same step. Returns the final path.
    @discardableResult
    public func save(step: Int, _ write: (_ directory: String) throws -> Void) throws -> String {
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.io(path: root, message: "cannot create the checkpoint directory: \(error.localizedDescription)")
        }
        let final = path(step: step)
        let staging = (root as NSString).appendingPathComponent(".\(Self.directoryName(step: step)).partial-\(getpid())")
        try? manager.removeItem(atPath: staging)
        do {
            try manager.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw CheckpointError.io(path: staging, message: "cannot create the staging directory: \(error.localizedDescription)")
        }
        do {
            try write(staging)
        } catch {
            try? manager.removeItem(atPath: staging)
            throw error
        }
        if manager.fileExists(atPath: final) {
            // Unmark first: a crash between here and the rename must not leave a marked,
            // half-deleted directory.
            unlink((final as NSString).appendingPathComponent(Self.completeMarker))
            try? manager.removeItem(atPath: final)
        }
        guard rename(staging, final) == 0 else {
            throw CheckpointError.io(path: final, message: "cannot rename the staging directory into place: \(systemErrorMessage())")
        }
        try syncDirectory(root)
        try writeAtomically(path: (final as NSString).appendingPathComponent(Self.completeMarker)) { file throws(CheckpointError) in
            try file.write("step \(step)\n")
        }
        return final
    }

    /// The steps of every complete checkpoint, oldest first.
    public func completeSteps() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("step-"), name.count == 13, let step = Int(name.dropFirst(5)) else { return nil }
            let marker = (path(step: step) as NSString).appendingPathComponent(Self.completeMarker)
            return FileManager.default.fileExists(atPath: marker) ? step : nil
        }.sorted()
    }

    /// The newest complete checkpoint's step, if any.
    public var latestStep: Int? { completeSteps().last }

    /// Deletes complete checkpoints except the newest `keepLast` and, when `keepEvery` > 0,
    /// those whose step is a multiple of it; also clears staging directories and unmarked
    /// step directories left by interrupted saves. Checkpoints after step `through` (when
    /// given) are left alone and not counted. Returns the deleted steps.
    @discardableResult
    public func prune(keepLast: Int, keepEvery: Int, through last: Int? = nil) -> [Int] {
        let manager = FileManager.default
        let complete = completeSteps().filter { step in last.map { step <= $0 } ?? true }
        let kept = Set(complete.suffix(max(keepLast, 1)))
        var deleted: [Int] = []
        for step in complete where !kept.contains(step) && !(keepEvery > 0 && step % keepEvery == 0) {
            let directory = path(step: step)
            unlink((directory as NSString).appendingPathComponent(Self.completeMarker))
            try? manager.removeItem(atPath: directory)
            deleted.append(step)
        }
        for name in (try? manager.contentsOfDirectory(atPath: root)) ?? [] {
            let isStaging = name.hasPrefix(".step-") && name.contains(".partial-")
            let isUnmarked = name.hasPrefix("step-") && !manager.fileExists(
                atPath: ((root as NSString).appendingPathComponent(name) as NSString).appendingPathComponent(Self.completeMarker))
            if isStaging || isUnmarked { try? manager.removeItem(atPath: (root as NSString).appendingPathComponent(name)) }
        }
        return deleted
    }

    private func syncDirectory(_ directory: String) throws(CheckpointError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CheckpointError.io(path: directory, message: "cannot open to sync: \(systemErrorMessage())") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw CheckpointError.io(path: directory, message: "fsync failed: \(systemErrorMessage())") }
    }
}
