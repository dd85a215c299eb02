// StopSignal.swift — SIGINT and SIGTERM ask a run to stop cleanly: either the current step
// finishes and a checkpoint is written, or (with a handler, the command line's prompt stop) the
// handler saves the last finished step at once. A second signal stops at once (the last
// complete checkpoint stays valid: saves are staged and renamed).

import Dispatch
import Foundation
import Synchronization

/// Watches SIGINT and SIGTERM while it lives.
final class StopSignal: @unchecked Sendable {
    private let requested = Atomic<Bool>(false)
    private var sources: [DispatchSourceSignal] = []
    private static let signals = [SIGINT, SIGTERM]

    /// `ranks`: the processes of the job; with several, a signal may also mean that a rank
    /// died and the launcher is ending the job, so the step may not finish. Only a process
    /// that `announces` says what it does about a signal.
    /// `onFirstSignal` runs on the signal's queue after the first signal is recorded.
    init(ranks: Int = 1, announces: Bool = true, onFirstSignal: (@Sendable () -> Void)? = nil) {
        let notice = ranks == 1
            ? "\nstop requested: finishing this step and saving a checkpoint (signal again to quit now)\n"
            : "\nstop requested: the ranks finish this step together and save a checkpoint, unless the launcher is ending the job (a rank failed), which keeps the last complete checkpoint\n"
        for number in Self.signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                if self.requested.exchange(true, ordering: .relaxed) {
                    FileHandle.standardError.write(Data("\nsecond signal: stopping now; the last complete checkpoint is kept\n".utf8))
                    exit(130)
                }
                if announces { FileHandle.standardError.write(Data(notice.utf8)) }
                onFirstSignal?()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// True once a signal arrived.
    var isRequested: Bool { requested.load(ordering: .relaxed) }

    deinit {
        for source in sources { source.cancel() }
        for number in Self.signals { signal(number, SIG_DFL) }
    }
}
