// ZipArchive.swift — the entries of a zip archive whose members are stored uncompressed, read
// in place from a mapped file (PKWARE APPNOTE.TXT: the end-of-central-directory record, its
// zip64 locator and record, the central directory, the local file headers). `torch.save`
// writes such archives (stored entries, zip64 records, storages aligned to 64 bytes), so the
// storages of a `pytorch_model.bin` are handed out as pointers into the mapping, never copied.
//
// Every offset and size comes from the file and is checked before it is used; compressed or
// encrypted entries are refused rather than inflated.

/// The stored entries of a zip archive, each as a byte range of the mapped file.
struct ZipArchive {
    /// The mapped archive.
    let file: MappedFile
    /// The entry names in the order of the central directory.
    let names: [String]
    private let ranges: [String: Range<Int>]

    // Signatures and fixed sizes of the records (APPNOTE 4.3).
    private static let localHeaderSignature: UInt32 = 0x0403_4b50
    private static let centralHeaderSignature: UInt32 = 0x0201_4b50
    private static let endSignature: UInt32 = 0x0605_4b50
    private static let zip64EndSignature: UInt32 = 0x0606_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    private static let endRecordSize = 22
    private static let zip64LocatorSize = 20
    private static let centralHeaderSize = 46
    private static let localHeaderSize = 30

    /// Reads the central directory of `file` and locates every entry's data.
    init(file: MappedFile) throws(CheckpointError) {
        let bytes = file.bytes
        func fail(_ message: String) -> CheckpointError { CheckpointError.invalidHeader(path: file.path, message: message) }

        // The end record is the last 22 bytes, unless a comment (up to 65,535 bytes) follows it.
        var endOffset: Int?
        var candidate = bytes.count - Self.endRecordSize
        while candidate >= max(0, bytes.count - Self.endRecordSize - 0xFFFF) {
            if bytes.littleEndian(UInt32.self, at: candidate) == Self.endSignature {
                endOffset = candidate
                break
            }
            candidate -= 1
        }
        guard let endOffset else {
            if bytes.littleEndian(UInt32.self, at: 0) == Self.localHeaderSignature {
                throw fail("truncated zip archive: no end-of-central-directory record in its \(bytes.count) bytes")
            }
            throw fail("not a zip archive (torch.save has written zip archives since PyTorch 1.6; older files are not read)")
        }
        var entryCount = Int(bytes.littleEndian(UInt16.self, at: endOffset + 10) ?? 0)
        var directorySize = UInt64(bytes.littleEndian(UInt32.self, at: endOffset + 12) ?? 0)
        var directoryOffset = UInt64(bytes.littleEndian(UInt32.self, at: endOffset + 16) ?? 0)
        var directoryLimit = endOffset

        // Archives over 4 GB, or with more than 65,535 entries, keep the true figures in a zip64
        // end record, found through the locator just before the end record.
        let locator = endOffset - Self.zip64LocatorSize
        if bytes.littleEndian(UInt32.self, at: locator) == Self.zip64LocatorSignature {
            guard let recordOffset = bytes.littleEndian(UInt64.self, at: locator + 8), recordOffset < UInt64(locator),
                bytes.littleEndian(UInt32.self, at: Int(recordOffset)) == Self.zip64EndSignature,
                let count = bytes.littleEndian(UInt64.self, at: Int(recordOffset) + 32),
                let size = bytes.littleEndian(UInt64.self, at: Int(recordOffset) + 40),
                let offset = bytes.littleEndian(UInt64.self, at: Int(recordOffset) + 48)
            else { throw fail("the zip64 end-of-central-directory locator points to no zip64 end record") }
            guard count <= UInt64(bytes.count / Self.centralHeaderSize) else {
                throw fail("the zip64 end record claims \(count) entries, more than the file can hold")
            }
            entryCount = Int(count)
            directorySize = size
            directoryOffset = offset
            directoryLimit = Int(recordOffset)
        }
        guard directoryOffset <= UInt64(directoryLimit), directorySize <= UInt64(directoryLimit) - directoryOffset else {
            throw fail(
                "the central directory (\(directorySize) bytes at offset \(directoryOffset)) runs past its end record at \(directoryLimit): the archive is truncated or corrupt")
        }
        let directoryEnd = Int(directoryOffset + directorySize)

        var names: [String] = []
        var ranges: [String: Range<Int>] = [:]
        var position = Int(directoryOffset)
        for index in 0..<entryCount {
            guard position + Self.centralHeaderSize <= directoryEnd,
                bytes.littleEndian(UInt32.self, at: position) == Self.centralHeaderSignature,
                let flags = bytes.littleEndian(UInt16.self, at: position + 8),
                let method = bytes.littleEndian(UInt16.self, at: position + 10),
                let compressedSize32 = bytes.littleEndian(UInt32.self, at: position + 20),
                let size32 = bytes.littleEndian(UInt32.self, at: position + 24),
                let nameLength = bytes.littleEndian(UInt16.self, at: position + 28),
                let extraLength = bytes.littleEndian(UInt16.self, at: position + 30),
                let commentLength = bytes.littleEndian(UInt16.self, at: position + 32),
                let localOffset32 = bytes.littleEndian(UInt32.self, at: position + 42)
            else { throw fail("central directory entry \(index) of \(entryCount) is malformed or truncated") }
            let nameStart = position + Self.centralHeaderSize
            let extraStart = nameStart + Int(nameLength)
            let next = extraStart + Int(extraLength) + Int(commentLength)
            guard next <= directoryEnd else {
                throw fail("central directory entry \(index) of \(entryCount) runs past the central directory")
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[nameStart..<extraStart])
            let name = String(decoding: nameBytes, as: UTF8.self)
            func entryFailure(_ message: String) -> CheckpointError { fail("zip entry \"\(name)\": \(message)") }

            let extra = UnsafeRawBufferPointer(rebasing: bytes[extraStart..<(extraStart + Int(extraLength))])
            var sizes = [UInt64(size32), UInt64(compressedSize32), UInt64(localOffset32)]
            guard Self.applyZip64Extra(extra, to: &sizes) else {
                throw entryFailure("its zip64 extra field is shorter than the sizes it must hold")
            }
            let (size, compressedSize, localOffset) = (sizes[0], sizes[1], sizes[2])
            guard flags & 1 == 0 else { throw entryFailure("is encrypted") }
            guard method == 0 else {
                throw entryFailure(
                    "is compressed (method \(method)\(method == 8 ? ", deflate" : "")); torch.save stores entries uncompressed, and only stored entries are read")
            }
            guard compressedSize == size else {
                throw entryFailure("is stored, yet its compressed size \(compressedSize) differs from its size \(size)")
            }
            // The data follows the local header, whose name and extra field may differ in
            // length from the central directory's (torch.save pads the local extra field to
            // align storages).
            guard localOffset < directoryOffset,
                let localSignature = bytes.littleEndian(UInt32.self, at: Int(localOffset)),
                localSignature == Self.localHeaderSignature,
                let localNameLength = bytes.littleEndian(UInt16.self, at: Int(localOffset) + 26),
                let localExtraLength = bytes.littleEndian(UInt16.self, at: Int(localOffset) + 28)
            else { throw entryFailure("no local header at offset \(localOffset)") }
            let localName = Int(localOffset) + Self.localHeaderSize
            let dataStart = localName + Int(localNameLength) + Int(localExtraLength)
            guard localNameLength == nameLength, dataStart <= Int(directoryOffset),
                UnsafeRawBufferPointer(rebasing: bytes[localName..<(localName + Int(nameLength))]).elementsEqual(nameBytes)
            else { throw entryFailure("its local header at offset \(localOffset) names another entry") }
            guard size <= UInt64(Int(directoryOffset) - dataStart) else {
                throw entryFailure(
                    "its \(size) bytes at offset \(dataStart) run into the central directory at \(directoryOffset): the archive is truncated or corrupt")
            }
            guard ranges.updateValue(dataStart..<(dataStart + Int(size)), forKey: name) == nil else {
                throw entryFailure("appears twice in the central directory")
            }
            names.append(name)
            position = next
        }
        self.file = file
        self.names = names
        self.ranges = ranges
    }

    /// The data of the entry `name`, or `nil` when the archive has no such entry.
    func contents(_ name: String) -> UnsafeRawBufferPointer? {
        guard let range = ranges[name] else { return nil }
        return UnsafeRawBufferPointer(rebasing: file.bytes[range])
    }

    /// Replaces the saturated (0xFFFFFFFF) values among the size, compressed size and local
    /// header offset by those of the zip64 extra field (header id 1), which holds exactly the
    /// saturated ones, in that order (APPNOTE 4.5.3); false when the field is too short.
    private static func applyZip64Extra(_ extra: UnsafeRawBufferPointer, to values: inout [UInt64]) -> Bool {
        var position = 0
        while let id = extra.littleEndian(UInt16.self, at: position),
            let length = extra.littleEndian(UInt16.self, at: position + 2)
        {
            let body = position + 4
            if id == 1 {
                var field = body
                for index in values.indices where values[index] == 0xFFFF_FFFF {
                    guard field + 8 <= body + Int(length), let value = extra.littleEndian(UInt64.self, at: field) else {
                        return false
                    }
                    values[index] = value
                    field += 8
                }
                return true
            }
            position = body + Int(length)
        }
        return !values.contains(0xFFFF_FFFF)
    }
}
