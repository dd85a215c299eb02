// ProgressReporter.swift — how long-running work shows its progress. On a terminal, one line
// rewritten in place as often as the work reports. Anywhere else (a log file, a pipe, a
// cluster job's output) carriage returns would glue every update into one endless line, so
// progress comes as whole lines, no more often than an interval.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Turns frequent progress updates into what suits the output they go to.
public final class ProgressReporter {
    /// Whether the output is a terminal (updates rewrite one line).
    public let inPlace: Bool
    /// The least time between two lines when not in place.
    public let interval: Double
    private let write: (String) -> Void
    private var lastLine: UInt64?
    private var pending = false

    /// Reports to `write` (which adds nothing: the reporter writes its own "\r" and "\n").
    /// `inPlace` defaults to whether `descriptor` is a terminal.
    public init(descriptor: Int32 = STDERR_FILENO, inPlace: Bool? = nil, interval: Double = 10, write: @escaping (String) -> Void) {
        self.inPlace = inPlace ?? (isatty(descriptor) == 1)
        self.interval = interval
        self.write = write
    }

    /// The work's latest state: shown now on a terminal, else as a line when `interval` has
    /// passed since the last one (the first update is always shown).
    public func update(_ text: String) {
        if inPlace {
            write("\r" + text)
            pending = true
            return
        }
        let now = DispatchTime.now().uptimeNanoseconds
        if let lastLine, Double(now - lastLine) / 1e9 < interval { return }
        lastLine = now
        write(text + "\n")
    }

    /// The final state, always shown, ending the line.
    public func finish(_ text: String) {
        write((inPlace ? "\r" : "") + text + "\n")
        pending = false
    }

    /// Ends an in-place line without a final state (before other output).
    public func endLine() {
        if inPlace && pending { write("\n") }
        pending = false
    }
}
