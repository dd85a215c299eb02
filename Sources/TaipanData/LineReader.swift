// LineReader.swift — splits a byte stream into lines ('\n', with an optional '\r' before it)
// in linear time: one fixed read buffer, scanned with memchr; a line longer than the buffer
// is assembled piece by piece in the caller's output.

#if canImport(Glibc)
import Glibc
#endif

/// Reads lines from a `ByteSource`.
public final class LineReader {
    public let source: ByteSource
    /// The 1-based number of the line most recently returned.
    public private(set) var lineNumber = 0
    private let buffer: UnsafeMutableRawBufferPointer  // (bufferSize,) bytes read but not yet returned
    private var start = 0, end = 0
    private var ended = false

    /// Reads `source` through a buffer of `bufferSize` bytes.
    public init(source: ByteSource, bufferSize: Int = 1 << 20) {
        self.source = source
        buffer = .allocate(byteCount: max(bufferSize, 1), alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Appends the next line to `line`, without its line ending unless `keepingLineEnding`;
    /// returns false at the end of the stream. A last line without a final newline still
    /// counts as a line.
    public func readLine(appendingTo line: inout [UInt8], keepingLineEnding: Bool = false) throws -> Bool {
        let initialCount = line.count
        var sawBytes = false
        while true {
            if start == end {
                if ended { break }
                start = 0
                end = try source.read(into: buffer)
                if end == 0 {
                    ended = true
                    break
                }
            }
            let base = buffer.baseAddress! + start
            if let found = memchr(base, 0x0A, end - start) {
                let length = found - base
                let kept = keepingLineEnding ? length + 1 : length
                line.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: kept))
                start += length + 1
                lineNumber += 1
                if !keepingLineEnding { dropCarriageReturn(&line, keeping: initialCount) }
                return true
            }
            line.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: end - start))
            start = end
            sawBytes = true
        }
        guard sawBytes else { return false }
        lineNumber += 1
        if !keepingLineEnding { dropCarriageReturn(&line, keeping: initialCount) }
        return true
    }

    /// Drops a '\r' that ends this line (never a byte of what `line` held before).
    private func dropCarriageReturn(_ line: inout [UInt8], keeping initialCount: Int) {
        if line.count > initialCount && line.last == 0x0D { line.removeLast() }
    }
}
