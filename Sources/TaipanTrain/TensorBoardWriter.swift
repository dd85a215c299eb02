// TensorBoardWriter.swift — TensorBoard scalar event files, written without TensorFlow.
// An event file is a TFRecord stream: each record is
//   u64 length (LE) | u32 masked crc32c(length bytes) | data | u32 masked crc32c(data)
// with CRC-32C (Castagnoli) masked as ((c >> 15) | (c << 17)) &+ 0xa282ead8. Each record's data
// is a protobuf `tensorboard.Event`, encoded here by hand from the few fields scalars need:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }
// The first event of a file carries file_version "brain.Event:2" and nothing else.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error creating or writing a training log file; it names the file.
public struct LogFileError: Error, Equatable, CustomStringConvertible {
    /// The file or directory at fault.
    public let path: String
    /// What went wrong.
    public let message: String

    public var description: String { "\(path): \(message)" }
}

/// Writes scalars (loss, learning rate, …) to a TensorBoard event file in a run directory.
///
/// Scalars are buffered and written by `flush()`; `add(scalars:step:)` flushes by itself, so a
/// run that is killed keeps every step it logged. Errors are thrown, never fatal: a trainer can
/// report them and carry on training.
public final class TensorBoardWriter {
    /// The event file being written: `DIRECTORY/events.out.tfevents.<seconds>.<host>.<pid>.<n>`.
    public let path: String
    private var handle: FileHandle?
    private var pending: [UInt8] = []

    /// Creates `directory` (and its parents) if needed and starts a new event file in it.
    public init(directory: String) throws(LogFileError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw LogFileError(path: directory, message: "cannot create the directory: \(error.localizedDescription)")
        }
        let now = Date().timeIntervalSince1970
        let prefix = "events.out.tfevents.\(Int(now)).\(Self.hostName()).\(getpid())"
        // <n> tells apart writers opened by one process within one second; O_EXCL never reuses a file.
        var number = 0
        var descriptor: Int32 = -1
        var candidate = ""
        repeat {
            candidate = (directory as NSString).appendingPathComponent("\(prefix).\(number)")
            descriptor = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            number += 1
        } while descriptor < 0 && errno == EEXIST
        path = candidate
        guard descriptor >= 0 else {
            throw LogFileError(path: candidate, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        Self.appendRecord(Self.fileVersionEvent(wallTime: now), to: &pending)
        try flush()
    }

    deinit {
        try? close()
    }

    /// Buffers one scalar; `wallTime` (seconds since 1970) defaults to now. Call `flush()` after
    /// a step's scalars.
    public func addScalar(_ tag: String, _ value: Float, step: Int, wallTime: Double? = nil) {
        Self.appendRecord(
            Self.scalarsEvent([(tag, value)], step: step, wallTime: wallTime ?? Date().timeIntervalSince1970),
            to: &pending)
    }

    /// Writes one step's scalars as a single event and flushes them to the file.
    public func add(scalars: [(String, Float)], step: Int, wallTime: Double? = nil) throws(LogFileError) {
        Self.appendRecord(
            Self.scalarsEvent(scalars, step: step, wallTime: wallTime ?? Date().timeIntervalSince1970),
            to: &pending)
        try flush()
    }

    /// Writes the buffered records to the file. On failure they are dropped, not retried, so a
    /// record is never written twice.
    public func flush() throws(LogFileError) {
        guard !pending.isEmpty else { return }
        defer { pending.removeAll(keepingCapacity: true) }
        guard let handle else { throw LogFileError(path: path, message: "the writer is closed") }
        do {
            try handle.write(contentsOf: pending)
        } catch {
            throw LogFileError(path: path, message: "write failed: \(error.localizedDescription)")
        }
    }

    /// Flushes and closes the file; later calls do nothing.
    public func close() throws(LogFileError) {
        guard let open = handle else { return }
        defer { handle = nil }
        try flush()
        do {
            try open.close()
        } catch {
            throw LogFileError(path: path, message: "close failed: \(error.localizedDescription)")
        }
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name.replacingOccurrences(of: "/", with: "_")
    }

    // MARK: Records

    /// Appends `data` framed as one TFRecord.
    static func appendRecord(_ data: [UInt8], to output: inout [UInt8]) {
        var length: [UInt8] = []
        appendLittleEndian(UInt64(data.count), to: &length)
        output += length
        appendLittleEndian(maskedCRC32C(length), to: &output)
        output += data
        appendLittleEndian(maskedCRC32C(data), to: &output)
    }

    /// The CRC as TFRecord stores it: rotated and offset, because a CRC of data that itself
    /// holds CRCs is weak.
    static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
    }

    private static func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
        mask(crc32c(bytes))
    }

    // MARK: Protobuf

    /// The first event of every file: `Event { wall_time, file_version: "brain.Event:2" }`.
    static func fileVersionEvent(wallTime: Double) -> [UInt8] {
        var event: [UInt8] = []
        appendDouble(field: 1, wallTime, to: &event)
        appendBytes(field: 3, Array("brain.Event:2".utf8), to: &event)
        return event
    }

    /// `Event { wall_time, step, summary: Summary { value: [Value { tag, simple_value }] } }`.
    static func scalarsEvent(_ scalars: [(String, Float)], step: Int, wallTime: Double) -> [UInt8] {
        var summary: [UInt8] = []
        for (tag, value) in scalars {
            var entry: [UInt8] = []
            appendBytes(field: 1, Array(tag.utf8), to: &entry)
            appendFloat(field: 2, value, to: &entry)
            appendBytes(field: 1, entry, to: &summary)
        }
        var event: [UInt8] = []
        appendDouble(field: 1, wallTime, to: &event)
        appendVarint(field: 2, UInt64(bitPattern: Int64(step)), to: &event)
        appendBytes(field: 5, summary, to: &event)
        return event
    }

    // Wire types: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit; a key is (field << 3) | type.

    private static func appendVarint(_ value: UInt64, to output: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            output.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        output.append(UInt8(rest))
    }

    private static func appendVarint(field: Int, _ value: UInt64, to output: inout [UInt8]) {
        appendVarint(UInt64(field << 3 | 0), to: &output)
        appendVarint(value, to: &output)
    }

    private static func appendDouble(field: Int, _ value: Double, to output: inout [UInt8]) {
        appendVarint(UInt64(field << 3 | 1), to: &output)
        appendLittleEndian(value.bitPattern, to: &output)
    }

    private static func appendBytes(field: Int, _ bytes: [UInt8], to output: inout [UInt8]) {
        appendVarint(UInt64(field << 3 | 2), to: &output)
        appendVarint(UInt64(bytes.count), to: &output)
        output += bytes
    }

    private static func appendFloat(field: Int, _ value: Float, to output: inout [UInt8]) {
        appendVarint(UInt64(field << 3 | 5), to: &output)
        appendLittleEndian(value.bitPattern, to: &output)
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to output: inout [UInt8]) {
        for shift in stride(from: 0, to: T.bitWidth, by: 8) {
            output.append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }
}

// MARK: CRC-32C

/// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF.
func crc32c(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    bytes.withUnsafeBufferPointer { buffer in
        crc32cTable.withUnsafeBufferPointer { table in
            for byte in buffer {
                crc = table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] ^ (crc >> 8)
            }
        }
    }
    return ~crc
}

/// `crc32cTable[i]` is the CRC register after shifting byte `i` through it bit by bit.
private let crc32cTable: [UInt32] = (0..<256).map { index in
    var crc = UInt32(index)
    for _ in 0..<8 {
        crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
    }
    return crc
}
