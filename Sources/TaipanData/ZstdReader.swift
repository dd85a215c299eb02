// ZstdReader.swift — streaming Zstandard decompression (RFC 8878) through libzstd's
// `ZSTD_decompressStream`: a fixed-size input buffer, never the whole file in memory.
// Files holding several concatenated frames decode as one stream.

import CZstd

/// Decompresses a `.zst` file as it is read.
public final class ZstdReader: ByteSource {
    public var path: String { file.path }
    /// The compressed file underneath, whose `bytesRead` tracks progress through it.
    public let file: FileReader
    private let context: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer  // (bufferSize,) compressed bytes
    private var inputStart = 0, inputEnd = 0
    private var fileEnded = false
    /// True between frames: nothing read yet, or the last frame was complete.
    private var atFrameBoundary = true
    /// True when the last call may have left decoded bytes inside libzstd.
    private var outputMayBePending = false

    /// Decompresses `file`, reading it `bufferSize` bytes at a time.
    public init(file: FileReader, bufferSize: Int = 1 << 20) {
        self.file = file
        context = ZSTD_createDStream()
        input = .allocate(byteCount: max(bufferSize, 1), alignment: 64)
    }

    deinit {
        ZSTD_freeDStream(context)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let outputBase = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            if inputStart == inputEnd && !fileEnded && !outputMayBePending {
                inputEnd = try file.read(into: input)
                inputStart = 0
                fileEnded = inputEnd == 0
            }
            if inputStart == inputEnd && fileEnded && !outputMayBePending {
                if !atFrameBoundary {
                    throw DataError.corrupt(path: path, reason: "truncated zstd stream: the file ends inside a frame")
                }
                return 0
            }
            var source = ZSTD_inBuffer(src: input.baseAddress! + inputStart, size: inputEnd - inputStart, pos: 0)
            var destination = ZSTD_outBuffer(dst: outputBase, size: buffer.count, pos: 0)
            let hint = ZSTD_decompressStream(context, &destination, &source)
            if ZSTD_isError(hint) != 0 {
                let message = String(cString: ZSTD_getErrorName(hint))
                throw DataError.corrupt(path: path, reason: "corrupt zstd data: \(message)")
            }
            inputStart += source.pos
            atFrameBoundary = hint == 0
            // A full output buffer may mean libzstd holds more decoded bytes for us.
            outputMayBePending = destination.pos == buffer.count
            if destination.pos > 0 { return destination.pos }
        }
    }
}
