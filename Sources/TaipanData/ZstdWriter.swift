// ZstdWriter.swift — streaming Zstandard compression (RFC 8878) through libzstd's
// `ZSTD_compressStream2`, writing one frame with a content checksum to a file.

import CZstd
#if canImport(Glibc)
import Glibc
#endif

/// Compresses bytes into a `.zst` file as they are written.
public final class ZstdWriter {
    public let path: String
    private let descriptor: Int32
    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer  // (ZSTD_CStreamOutSize(),) compressed bytes
    private var finished = false

    /// Creates (or truncates) `path` and compresses into it at `level`.
    public init(path: String, level: Int32 = 3) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 { throw DataError.io(path: path, reason: "cannot create: \(errnoMessage())") }
        context = ZSTD_createCCtx()
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        output = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 64)
    }

    deinit {
        ZSTD_freeCCtx(context)
        output.deallocate()
        close(descriptor)
    }

    /// Compresses `bytes` into the file.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var source = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while source.pos < source.size {
            try step(&source, ZSTD_e_continue)
        }
    }

    /// Compresses the UTF-8 bytes of `text` into the file.
    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Ends the frame, flushes everything to the file and syncs it to disk.
    public func finish() throws {
        guard !finished else { return }
        var source = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&source, ZSTD_e_end) != 0 {}
        if fsync(descriptor) != 0 { throw DataError.io(path: path, reason: "fsync failed: \(errnoMessage())") }
        finished = true
    }

    /// Runs one compression call and writes what it produced; returns libzstd's "bytes left to flush".
    @discardableResult
    private func step(_ source: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        var destination = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let remaining = ZSTD_compressStream2(context, &destination, &source, directive)
        if ZSTD_isError(remaining) != 0 {
            throw DataError.io(path: path, reason: "zstd compression failed: \(String(cString: ZSTD_getErrorName(remaining)))")
        }
        try writeAll(UnsafeRawBufferPointer(start: output.baseAddress, count: destination.pos), to: descriptor, path: path)
        return remaining
    }
}

/// Writes all of `bytes` to `descriptor`, retrying short writes.
func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, path: String) throws {
    var offset = 0
    while offset < bytes.count {
        let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            throw DataError.io(path: path, reason: "write failed: \(errnoMessage())")
        }
        offset += written
    }
}
