// SafeTensorsFile.swift — a memory-mapped reader for the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON header (padded with spaces), then the data section. Each header entry has
// `dtype`, `shape` and `data_offsets` [begin, end) relative to the data section; the optional
// `__metadata__` entry is a string-to-string map.
//
// The header is validated in full when the file is opened, so every later read is in bounds.

/// Where one tensor lives in a safetensors file and what it holds.
public struct SafeTensorsInfo: Equatable, Sendable {
    /// The element type as stored.
    public let dtype: SafeTensorsDType
    /// The shape, outermost dimension first; `[]` for a scalar.
    public let shape: [Int]
    /// The byte range within the data section (for a `pytorch_model.bin` tensor, within its
    /// storage, from its first element to its last).
    public let byteRange: Range<Int>

    /// The number of elements, the product of `shape`.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// The operations shared by a single safetensors file and a sharded checkpoint.
public protocol SafeTensorsSource: AnyObject, Sendable {
    /// Every tensor name, sorted.
    var names: [String] { get }
    /// Whether a tensor named `name` exists.
    func contains(_ name: String) -> Bool
    /// The dtype, shape and location of the tensor `name`.
    func info(_ name: String) throws(CheckpointError) -> SafeTensorsInfo
    /// Writes the tensor `name`, converted to Float32, into `destination`, which must hold
    /// exactly its element count.
    func readFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws(CheckpointError)
    /// The tensor `name` (I64 or I32) as 64-bit integers.
    func integers(_ name: String) throws(CheckpointError) -> [Int64]
}

extension SafeTensorsSource {
    /// The tensor `name` (F32, F16, BF16 or F64) converted to Float32, row-major.
    public func floats(_ name: String) throws(CheckpointError) -> [Float] {
        let count = try info(name).elementCount
        if count == 0 {
            // Not through `Array(unsafeUninitializedCapacity:)`: for 0 the standard library
            // (Swift 6.3) writes the count into the empty-array singleton that every empty
            // array shares, which ThreadSanitizer reports as a race with any thread reading
            // another empty array (found by `make sanitize-thread`).
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 1)
            defer { scratch.deallocate() }
            try readFloats(name, into: UnsafeMutableBufferPointer(start: scratch, count: 0))
            return []
        }
        var failure: CheckpointError?
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(CheckpointError) {
                try readFloats(name, into: buffer)
            } catch {
                failure = error
                buffer.initialize(repeating: 0)
            }
            initialized = count
        }
        if let failure { throw failure }
        return values
    }
}

/// A safetensors file, mapped into memory and validated.
public final class SafeTensorsFile: SafeTensorsSource, @unchecked Sendable {
    /// The path the file was opened from, used in error messages.
    public let path: String
    /// Every tensor name, sorted.
    public let names: [String]
    /// The `__metadata__` map; empty when the file has none.
    public let metadata: [String: String]

    private let entries: [String: SafeTensorsInfo]
    // Keeps alive the mapping that `dataSection` points into.
    private let file: MappedFile
    private let dataSection: UnsafeRawPointer

    /// The largest header accepted, as in the reference implementation (100 MB).
    public static let maximumHeaderLength = 100_000_000

    /// Opens and validates the safetensors file at `path`.
    public init(path: String) throws(CheckpointError) {
        let file = try MappedFile(path: path)
        let fileSize = file.bytes.count
        guard let headerLength = file.bytes.littleEndian(UInt64.self, at: 0), let start = file.bytes.baseAddress else {
            throw CheckpointError.invalidHeader(
                path: path, message: "the file is \(fileSize) bytes, too short for the 8-byte header length")
        }
        guard headerLength <= UInt64(fileSize - 8) else {
            throw CheckpointError.invalidHeader(
                path: path, message: "header length \(headerLength) runs past the end of the \(fileSize)-byte file")
        }
        guard headerLength <= UInt64(Self.maximumHeaderLength) else {
            throw CheckpointError.invalidHeader(
                path: path, message: "header length \(headerLength) exceeds \(Self.maximumHeaderLength)")
        }
        let header = UnsafeRawBufferPointer(start: start + 8, count: Int(headerLength))
        let dataLength = fileSize - 8 - Int(headerLength)
        let (entries, metadata) = try Self.parseHeader(header, dataLength: dataLength, path: path)
        self.path = path
        self.entries = entries
        self.metadata = metadata
        self.names = entries.keys.sorted()
        self.file = file
        self.dataSection = start + 8 + Int(headerLength)
    }

    /// Whether a tensor named `name` exists.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The dtype, shape and location of the tensor `name`.
    public func info(_ name: String) throws(CheckpointError) -> SafeTensorsInfo {
        guard let info = entries[name] else { throw CheckpointError.missingTensor(path: path, tensor: name) }
        return info
    }

    /// Writes the tensor `name` (F32, F16, BF16 or F64), converted to Float32, into
    /// `destination`, which must hold exactly its element count.
    public func readFloats(
        _ name: String, into destination: UnsafeMutableBufferPointer<Float>
    ) throws(CheckpointError) {
        let info = try info(name)
        guard destination.count == info.elementCount else {
            throw CheckpointError.invalidTensor(
                path: path, tensor: name,
                message: "has \(info.elementCount) elements, the destination holds \(destination.count)")
        }
        // The format does not promise an aligned data section: widen reads unaligned.
        guard info.dtype.widen(from: dataSection + info.byteRange.lowerBound, elementStride: 1, into: destination) else {
            throw CheckpointError.invalidTensor(
                path: path, tensor: name, message: "dtype \(info.dtype.rawValue) cannot be read as floats")
        }
    }

    /// The tensor `name` (I64 or I32) as 64-bit integers, row-major.
    public func integers(_ name: String) throws(CheckpointError) -> [Int64] {
        let info = try info(name)
        let source = dataSection + info.byteRange.lowerBound
        switch info.dtype {
        case .I64:
            return (0..<info.elementCount).map {
                Int64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))
            }
        case .I32:
            return (0..<info.elementCount).map {
                Int64(Int32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)))
            }
        default:
            throw CheckpointError.invalidTensor(
                path: path, tensor: name, message: "dtype \(info.dtype.rawValue) cannot be read as integers")
        }
    }

    /// Parses and validates the JSON header: every entry well-formed, sizes consistent, and
    /// the byte ranges tiling the data section exactly, without overlaps or holes.
    private static func parseHeader(
        _ header: UnsafeRawBufferPointer, dataLength: Int, path: String
    ) throws(CheckpointError) -> ([String: SafeTensorsInfo], [String: String]) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(header)
        } catch {
            throw CheckpointError.invalidHeader(path: path, message: "header is not valid JSON: \(error)")
        }
        guard case .object(let members) = json else {
            throw CheckpointError.invalidHeader(
                path: path, message: "header is \(json.kindDescription), not a JSON object")
        }
        var entries: [String: SafeTensorsInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, path: path)
            } else {
                entries[name] = try parseEntry(value, name: name, dataLength: dataLength, path: path)
            }
        }
        let ordered = entries.sorted {
            ($0.value.byteRange.lowerBound, $0.value.byteRange.upperBound, $0.key)
                < ($1.value.byteRange.lowerBound, $1.value.byteRange.upperBound, $1.key)
        }
        var covered = 0
        var previous: String?
        for (name, info) in ordered {
            let begin = info.byteRange.lowerBound
            if begin < covered {
                throw CheckpointError.invalidTensor(
                    path: path, tensor: name,
                    message: "bytes [\(begin), \(info.byteRange.upperBound)) overlap tensor \"\(previous ?? "")\"")
            }
            if begin > covered {
                let after = previous.map { "after tensor \"\($0)\"" } ?? "at the start of the data section"
                throw CheckpointError.invalidTensor(
                    path: path, tensor: name,
                    message: "starts at byte \(begin), leaving a hole of \(begin - covered) bytes \(after)")
            }
            covered = info.byteRange.upperBound
            previous = name
        }
        if covered != dataLength {
            throw CheckpointError.invalidHeader(
                path: path,
                message: "the data section holds \(dataLength - covered) bytes after the last tensor"
                    + (previous.map { " \"\($0)\"" } ?? ""))
        }
        return (entries, metadata)
    }

    private static func parseMetadata(_ value: JSONValue, path: String) throws(CheckpointError) -> [String: String] {
        guard case .object(let members) = value else {
            throw CheckpointError.invalidHeader(
                path: path, message: "__metadata__ is \(value.kindDescription), not an object")
        }
        var metadata: [String: String] = [:]
        for (key, entry) in members {
            guard let text = entry.stringValue else {
                throw CheckpointError.invalidHeader(
                    path: path, message: "__metadata__ key \"\(key)\" is \(entry.kindDescription), not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(
        _ value: JSONValue, name: String, dataLength: Int, path: String
    ) throws(CheckpointError) -> SafeTensorsInfo {
        func fail(_ message: String) -> CheckpointError {
            CheckpointError.invalidTensor(path: path, tensor: name, message: message)
        }
        guard case .object(let members) = value else { throw fail("entry is \(value.kindDescription), not an object") }
        for (key, _) in members where !["dtype", "shape", "data_offsets"].contains(key) {
            throw fail("unknown key \"\(key)\"")
        }
        guard let dtypeValue = value["dtype"] else { throw fail("missing \"dtype\"") }
        guard let dtypeName = dtypeValue.stringValue else { throw fail("dtype is \(dtypeValue.kindDescription), not a string") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else { throw fail("unknown dtype \"\(dtypeName)\"") }

        guard case .array(let dimensions)? = value["shape"] else { throw fail("shape is missing or not an array") }
        var shape: [Int] = []
        var elementCount = 1
        for dimension in dimensions {
            guard let size = dimension.integerValue, size >= 0 else {
                throw fail("shape \(JSONValue.array(dimensions).serialized()) is not a list of non-negative integers")
            }
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("shape \(JSONValue.array(dimensions).serialized()) is too large") }
            shape.append(size)
            elementCount = product
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw fail("shape \(shape) is too large") }

        guard case .array(let offsets)? = value["data_offsets"], offsets.count == 2,
            let begin = offsets[0].integerValue, let end = offsets[1].integerValue
        else { throw fail("data_offsets is not a pair of integers") }
        guard 0 <= begin, begin <= end else { throw fail("data_offsets [\(begin), \(end)) is not a valid range") }
        guard end <= dataLength else {
            throw fail("data_offsets [\(begin), \(end)) runs past the \(dataLength)-byte data section")
        }
        guard end - begin == byteCount else {
            throw fail(
                "data_offsets [\(begin), \(end)) hold \(end - begin) bytes, but shape \(shape) of \(dtype.rawValue) needs \(byteCount)")
        }
        return SafeTensorsInfo(dtype: dtype, shape: shape, byteRange: begin..<end)
    }
}
