// TestSupport.swift — fixture paths, scratch directories and a byte-level safetensors
// builder for hand-crafting valid and corrupt files.

import Foundation

/// The `Tests/Fixtures/mamba-tiny` directory.
let mambaTinyDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/mamba-tiny").path

/// The `Tests/Fixtures/torch-bin` directory (made by scripts/make-torch-bin-fixtures.sh).
let torchBinDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/torch-bin").path

/// A fresh empty directory, removed when the value is released.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("taipan-checkpoint-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside the directory.
    func file(_ name: String) -> String { path + "/" + name }

    /// The names of the files in the directory, sorted.
    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    /// Writes a safetensors file byte by byte: the little-endian length of `header` (or
    /// `declaredLength` when given), the header text, then `data`.
    @discardableResult
    func rawSafeTensors(
        _ name: String, header: String, data: [UInt8], declaredLength: UInt64? = nil
    ) throws -> String {
        let headerBytes = Array(header.utf8)
        var bytes: [UInt8] = []
        let length = declaredLength ?? UInt64(headerBytes.count)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        bytes += headerBytes + data
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
        return file(name)
    }
}

/// The description of the error `body` throws, or "" when it throws none.
func errorMessage(_ body: () throws -> Void) -> String {
    do {
        try body()
        return ""
    } catch {
        return "\(error)"
    }
}

/// The little-endian bytes of each value.
func littleEndianBytes<Value: FixedWidthInteger>(_ values: [Value]) -> [UInt8] {
    values.flatMap { value in
        (0..<(Value.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
}

/// A zip archive of stored entries, built byte by byte as `torch.save` lays them out (a local
/// header, the data, then the central directory). With `zip64`, every size and offset is
/// saturated in the classic fields and given in zip64 extra fields and records, as archives
/// over 4 GB have them. `localNames` replaces the names written in the local headers.
func storedZip(_ entries: [(name: String, data: [UInt8])], zip64: Bool = false, localNames: [String]? = nil, comment: String = "") -> [UInt8] {
    func u16(_ value: Int) -> [UInt8] { littleEndianBytes([UInt16(value)]) }
    func u32(_ value: Int) -> [UInt8] { littleEndianBytes([UInt32(value)]) }
    func u64(_ value: Int) -> [UInt8] { littleEndianBytes([UInt64(value)]) }
    let saturated = u32(0xFFFF_FFFF)
    var archive: [UInt8] = [], directory: [UInt8] = []
    for (index, (name, data)) in entries.enumerated() {
        let offset = archive.count
        let localName = Array((localNames?[index] ?? name).utf8)
        archive += u32(0x0403_4b50) + u16(45) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) + u32(data.count) + u32(data.count)
        archive += u16(localName.count) + u16(0) + localName + data
        directory += u32(0x0201_4b50) + u16(45) + u16(45) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0)
        directory += zip64 ? saturated + saturated : u32(data.count) + u32(data.count)
        directory += u16(name.utf8.count) + u16(zip64 ? 28 : 0) + u16(0) + u16(0) + u16(0) + u32(0)
        directory += (zip64 ? saturated : u32(offset)) + Array(name.utf8)
        if zip64 { directory += u16(1) + u16(24) + u64(data.count) + u64(data.count) + u64(offset) }
    }
    let directoryOffset = archive.count
    archive += directory
    if zip64 {
        let record = archive.count
        archive += u32(0x0606_4b50) + u64(44) + u16(45) + u16(45) + u32(0) + u32(0) + u64(entries.count) + u64(entries.count)
        archive += u64(directory.count) + u64(directoryOffset)
        archive += u32(0x0706_4b50) + u32(0) + u64(record) + u32(1)
    }
    let count = zip64 ? 0xFFFF : entries.count
    archive += u32(0x0605_4b50) + u16(0) + u16(0) + u16(count) + u16(count)
    archive += (zip64 ? saturated + saturated : u32(directory.count) + u32(directoryOffset)) + u16(comment.utf8.count) + Array(comment.utf8)
    return archive
}

/// The `Tests/Fixtures/mamba2-tiny` directory.
let mamba2TinyDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/mamba2-tiny").path
