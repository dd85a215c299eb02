import Foundation
import Testing
import TaipanCheckpoint
@testable import TaipanTrain

/// A new empty directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("taipan-train-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// One protobuf field as the wire format carries it (no schema needed to read it).
enum WireValue: Equatable {
    case varint(UInt64)
    case fixed64(UInt64)
    case bytes([UInt8])
    case fixed32(UInt32)
}

/// Splits a protobuf message into (field number, value) pairs; nil if it is malformed.
func decodeProtobuf(_ bytes: [UInt8]) -> [(Int, WireValue)]? {
    var fields: [(Int, WireValue)] = []
    var position = 0
    func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count, shift < 64 {
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        return nil
    }
    func littleEndian(_ count: Int) -> UInt64? {
        guard position + count <= bytes.count else { return nil }
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += count
        return value
    }
    while position < bytes.count {
        guard let key = varint() else { return nil }
        let field = Int(key >> 3)
        switch key & 7 {
        case 0:
            guard let value = varint() else { return nil }
            fields.append((field, .varint(value)))
        case 1:
            guard let value = littleEndian(8) else { return nil }
            fields.append((field, .fixed64(value)))
        case 2:
            guard let length = varint(), position + Int(length) <= bytes.count else { return nil }
            fields.append((field, .bytes(Array(bytes[position..<position + Int(length)]))))
            position += Int(length)
        case 5:
            guard let value = littleEndian(4) else { return nil }
            fields.append((field, .fixed32(UInt32(value))))
        default:
            return nil
        }
    }
    return fields
}

/// The parts of a `tensorboard.Event` the writer uses.
struct DecodedEvent {
    var wallTime: Double?
    var step: Int64 = 0
    var fileVersion: String?
    var scalars: [(tag: String, value: Float)] = []
}

func decodeEvent(_ bytes: [UInt8]) -> DecodedEvent? {
    guard let fields = decodeProtobuf(bytes) else { return nil }
    var event = DecodedEvent()
    for (field, value) in fields {
        switch (field, value) {
        case (1, .fixed64(let bits)): event.wallTime = Double(bitPattern: bits)
        case (2, .varint(let raw)): event.step = Int64(bitPattern: raw)
        case (3, .bytes(let text)): event.fileVersion = String(decoding: text, as: UTF8.self)
        case (5, .bytes(let summary)):
            guard let values = decodeProtobuf(summary) else { return nil }
            for case (1, .bytes(let entry)) in values {
                guard let parts = decodeProtobuf(entry) else { return nil }
                var tag: String?
                var number: Float?
                for part in parts {
                    if case (1, .bytes(let text)) = part { tag = String(decoding: text, as: UTF8.self) }
                    if case (2, .fixed32(let bits)) = part { number = Float(bitPattern: bits) }
                }
                guard let tag, let number else { return nil }
                event.scalars.append((tag, number))
            }
        default: return nil
        }
    }
    return event
}

/// Reads a TFRecord file record by record, checking both masked CRCs of every record.
func readRecords(_ path: String) throws -> [[UInt8]] {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    func littleEndian(_ offset: Int, _ count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
    var records: [[UInt8]] = []
    var offset = 0
    while offset < bytes.count {
        try #require(offset + 12 <= bytes.count, "truncated record header at byte \(offset)")
        let length = Int(littleEndian(offset, 8))
        #expect(UInt32(littleEndian(offset + 8, 4)) == TensorBoardWriter.mask(crc32c(Array(bytes[offset..<offset + 8]))))
        let start = offset + 12
        try #require(start + length + 4 <= bytes.count, "truncated record data at byte \(offset)")
        let data = Array(bytes[start..<start + length])
        #expect(UInt32(littleEndian(start + length, 4)) == TensorBoardWriter.mask(crc32c(data)))
        records.append(data)
        offset = start + length + 4
    }
    return records
}

func eventFiles(in directory: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path)
        .filter { $0.hasPrefix("events.out.tfevents.") }.sorted()
}

@Suite struct TensorBoardWriterTests {
    @Test func crc32cMatchesPublishedCheckValues() {
        // The CRC catalogue's check value for CRC-32C, and the iSCSI vectors of RFC 3720 B.4.
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(crc32c([]) == 0)
        #expect(crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(crc32c([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(crc32c((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(crc32c((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
    }

    @Test func maskRotatesRightBy15AndAddsTheConstant() {
        #expect(TensorBoardWriter.mask(0) == 0xA282_EAD8)
        #expect(TensorBoardWriter.mask(0x0000_8000) == 0xA282_EAD9)  // bit 15 rotates to bit 0
        #expect(TensorBoardWriter.mask(0x0000_0001) == 0xA284_EAD8)  // bit 0 rotates to bit 17
        #expect(TensorBoardWriter.mask(0xFFFF_FFFF) == 0xA282_EAD7)  // the addition wraps
    }

    @Test func fileVersionEventBytes() {
        let expected: [UInt8] = [
            0x09,  // key: field 1 (wall_time), wire type 1 (64-bit) -> 1 << 3 | 1
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,  // 2.0 = 0x4000000000000000, little-endian
            0x1A,  // key: field 3 (file_version), wire type 2 (length-delimited) -> 3 << 3 | 2
            0x0D,  // length 13
            0x62, 0x72, 0x61, 0x69, 0x6E, 0x2E, 0x45, 0x76, 0x65, 0x6E, 0x74, 0x3A, 0x32,  // "brain.Event:2"
        ]
        #expect(TensorBoardWriter.fileVersionEvent(wallTime: 2.0) == expected)
    }

    @Test func recordBytesOfAScalarEvent() {
        // Event { wall_time: 1.5, step: 300, summary { value { tag: "loss", simple_value: 2.5 } } }
        let event: [UInt8] = [
            0x09,  // key: field 1 (wall_time), wire type 1 (64-bit)
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF8, 0x3F,  // 1.5 = 0x3FF8000000000000, little-endian
            0x10,  // key: field 2 (step), wire type 0 (varint) -> 2 << 3 | 0
            0xAC, 0x02,  // 300 = 0b10_0101100: low 7 bits 0x2C with the continuation bit (0xAC), then 0x02
            0x2A,  // key: field 5 (summary), wire type 2 -> 5 << 3 | 2
            0x0D,  // Summary length 13 = 2 + 11
            0x0A,  // Summary key: field 1 (value), wire type 2
            0x0B,  // Value length 11 = (1 + 1 + 4) + (1 + 4)
            0x0A,  // Value key: field 1 (tag), wire type 2
            0x04,  // length 4
            0x6C, 0x6F, 0x73, 0x73,  // "loss"
            0x15,  // Value key: field 2 (simple_value), wire type 5 (32-bit) -> 2 << 3 | 5
            0x00, 0x00, 0x20, 0x40,  // 2.5 = 0x40200000, little-endian
        ]
        #expect(TensorBoardWriter.scalarsEvent([("loss", 2.5)], step: 300, wallTime: 1.5) == event)

        // The raw CRC-32C values were computed bit by bit (no table) outside Swift:
        // crc32c(length bytes) = 0x9121388D and crc32c(event) = 0xD748577C. Masking by hand,
        // ((c >> 15) | (c << 17)) + 0xA282EAD8 mod 2^32:
        //   length: 0x9121388D >> 15 = 0x00012242, << 17 = 0x711A0000, or = 0x711B2242,
        //           + 0xA282EAD8 = 0x139E0D1A
        //   data:   0xD748577C >> 15 = 0x0001AE90, << 17 = 0xAEF80000, or = 0xAEF9AE90,
        //           + 0xA282EAD8 = 0x517C9968
        var expected: [UInt8] = [
            0x1B, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // length 27, u64 little-endian
            0x1A, 0x0D, 0x9E, 0x13,  // masked crc32c of the 8 length bytes, 0x139E0D1A little-endian
        ]
        expected += event
        expected += [0x68, 0x99, 0x7C, 0x51]  // masked crc32c of the data, 0x517C9968 little-endian
        var record: [UInt8] = []
        TensorBoardWriter.appendRecord(event, to: &record)
        #expect(record == expected)
    }

    @Test func writesAFileThatReadsBackRecordByRecord() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let before = Int(Date().timeIntervalSince1970)
        let writer = try TensorBoardWriter(directory: directory.path)
        let after = Int(Date().timeIntervalSince1970)
        try writer.add(scalars: [("train/loss", 3.25), ("train/learning_rate", 0.001)], step: 1, wallTime: 100)
        writer.addScalar("eval/loss", .nan, step: 2, wallTime: 101)
        writer.addScalar("train/loss", -.infinity, step: 2)
        try writer.close()

        let name = (writer.path as NSString).lastPathComponent
        #expect(try eventFiles(in: directory) == [name])
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count >= 7)
        #expect(parts.prefix(3) == ["events", "out", "tfevents"])
        // The file is named after the second it was created in.
        #expect(Int(parts[3]).map { (before...after).contains($0) } == true, "\(parts[3]) not in \(before)...\(after)")
        #expect(parts[parts.count - 2] == "\(getpid())")
        #expect(parts.last == "0")

        let events = try readRecords(writer.path).map { try #require(decodeEvent($0)) }
        try #require(events.count == 4)
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[0].scalars.isEmpty)
        #expect(events[1].wallTime == 100 && events[1].step == 1)
        #expect(events[1].scalars.map(\.tag) == ["train/loss", "train/learning_rate"])
        #expect(events[1].scalars.map(\.value) == [3.25, 0.001])
        #expect(events[2].wallTime == 101 && events[2].step == 2)
        #expect(events[2].scalars.count == 1 && events[2].scalars[0].tag == "eval/loss")
        #expect(events[2].scalars[0].value.isNaN)
        #expect(events[3].scalars.map(\.value) == [-.infinity])
        #expect(events[3].wallTime.map { abs($0 - Date().timeIntervalSince1970) < 600 } == true)
    }

    @Test func flushWritesBufferedScalarsForAKilledRun() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try TensorBoardWriter(directory: directory.path)
        #expect(try readRecords(writer.path).count == 1)  // the file_version event is on disk at once
        writer.addScalar("loss", 1, step: 1)
        #expect(try readRecords(writer.path).count == 1)
        try writer.flush()
        #expect(try readRecords(writer.path).count == 2)
        try writer.add(scalars: [("loss", 0.5)], step: 2)
        #expect(try readRecords(writer.path).count == 3)
        try writer.close()
        #expect(throws: LogFileError.self) { try writer.add(scalars: [("loss", 0.25)], step: 3) }
    }

    @Test func writersInOneDirectoryNeverShareAFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writers = try (0..<3).map { _ in try TensorBoardWriter(directory: directory.path) }
        #expect(Set(writers.map(\.path)).count == 3)
        #expect(try eventFiles(in: directory).count == 3)
    }

    @Test func anUnusableDirectoryIsAnErrorNamingIt() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("not-a-directory")
        try Data("x".utf8).write(to: file)
        let target = file.appendingPathComponent("run").path
        #expect {
            _ = try TensorBoardWriter(directory: target)
        } throws: { error in
            (error as? LogFileError)?.description.contains(target) == true
        }
    }

    /// Writes a known run; with TAIPAN_TENSORBOARD_OUT=DIR it also copies the event file and the
    /// scalars it was given (`expected.json`) to DIR for scripts/check-tensorboard.sh, which
    /// reads them back with TensorBoard's own reader.
    @Test func writesAFileForTheCheckScript() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var expected: [String: [[MetricValue]]] = [:]
        func record(_ tag: String, _ step: Int, _ wallTime: Double, _ value: Float) {
            let number: MetricValue = value.isNaN ? "nan" : value.isInfinite ? (value > 0 ? "inf" : "-inf") : .double(Double(value))
            expected[tag, default: []].append([.int(step), .double(wallTime), number])
        }
        let writer = try TensorBoardWriter(directory: directory.path)
        for step in 0..<20 {
            let wallTime = 1_700_000_000 + Double(step) * 0.75
            let gradientNorm: Float = step == 7 ? .infinity : step == 13 ? .nan : Float(step) * 0.5
            let scalars: [(String, Float)] = [
                ("train/loss", 10 / Float(step + 1)),
                ("train/learning_rate", 6e-4 * Float(step) / 19),
                ("train/grad_norm", gradientNorm),
            ]
            try writer.add(scalars: scalars, step: step, wallTime: wallTime)
            for (tag, value) in scalars { record(tag, step, wallTime, value) }
            if step % 5 == 4 {
                writer.addScalar("eval/loss", 3 - Float(step) / 8, step: step, wallTime: wallTime + 0.5)
                try writer.flush()
                record("eval/loss", step, wallTime + 0.5, 3 - Float(step) / 8)
            }
        }
        try writer.close()
        let events = try readRecords(writer.path).compactMap(decodeEvent)
        #expect(events.count == 1 + 20 + 4)
        #expect(events.reduce(0) { $0 + $1.scalars.count } == expected.values.reduce(0) { $0 + $1.count })

        guard let out = ProcessInfo.processInfo.environment["TAIPAN_TENSORBOARD_OUT"] else { return }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let copy = (out as NSString).appendingPathComponent((writer.path as NSString).lastPathComponent)
        try FileManager.default.copyItem(atPath: writer.path, toPath: copy)
        let json = "{" + expected.keys.sorted().map { tag in
            let points = expected[tag, default: []].map { point in
                "[" + point.map { MetricsLog.json($0) }.joined(separator: ", ") + "]"
            }
            return JSONValue.string(tag).serialized() + ": [" + points.joined(separator: ", ") + "]"
        }.joined(separator: ",\n ") + "}\n"
        try Data(json.utf8).write(to: URL(fileURLWithPath: out).appendingPathComponent("expected.json"))
    }
}
