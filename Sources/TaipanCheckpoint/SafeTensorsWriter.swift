// SafeTensorsWriter.swift — writes F32 and I64 tensors in the safetensors format
// (https://github.com/huggingface/safetensors): names sorted, tensors laid out back to back
// in name order, the JSON header padded with spaces to a multiple of 8 bytes so the data
// section starts aligned. The file is written atomically (see AtomicFile.swift).

/// Collects named tensors and writes them as one safetensors file.
public struct SafeTensorsWriter: Sendable {
    /// What a tensor holds.
    public enum Contents: Sendable {
        /// Float32 values, written as F32.
        case floats([Float])
        /// 64-bit integers (token ids), written as I64.
        case integers([Int64])
    }

    /// One tensor to write.
    public struct Entry: Sendable {
        /// The tensor name.
        public let name: String
        /// The shape, outermost dimension first.
        public let shape: [Int]
        /// The values, row-major.
        public let contents: Contents
    }

    /// The tensors added so far, in the order added.
    public private(set) var entries: [Entry] = []
    /// The `__metadata__` map written into the header.
    public var metadata: [String: String]

    /// Creates an empty writer with the given `__metadata__`.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds a Float32 tensor.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) {
        entries.append(Entry(name: name, shape: shape, contents: .floats(floats)))
    }

    /// Adds a Float32 tensor, copying `floats`.
    public mutating func add(_ name: String, shape: [Int], floats: UnsafeBufferPointer<Float>) {
        add(name, shape: shape, floats: Array(floats))
    }

    /// Adds an I64 tensor.
    public mutating func add(_ name: String, shape: [Int], integers: [Int64]) {
        entries.append(Entry(name: name, shape: shape, contents: .integers(integers)))
    }

    /// The header JSON (padded with spaces to a multiple of 8 bytes) and the entries in file
    /// order, after checking names and shapes; `path` is only for error messages.
    func layout(path: String) throws(CheckpointError) -> (header: String, ordered: [Entry]) {
        let ordered = entries.sorted { $0.name < $1.name }
        var members: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) }
            members.append((key: "__metadata__", value: .object(pairs)))
        }
        var offset = 0
        for (index, entry) in ordered.enumerated() {
            func fail(_ message: String) -> CheckpointError {
                CheckpointError.invalidTensor(path: path, tensor: entry.name, message: message)
            }
            if entry.name.isEmpty || entry.name == "__metadata__" { throw fail("is not a valid tensor name") }
            if index > 0 && ordered[index - 1].name == entry.name { throw fail("added twice") }
            if entry.shape.contains(where: { $0 < 0 }) { throw fail("shape \(entry.shape) has a negative size") }
            let (dtype, count, elementSize) =
                switch entry.contents {
                case .floats(let values): ("F32", values.count, 4)
                case .integers(let values): ("I64", values.count, 8)
                }
            let expected = entry.shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            guard count == expected else {
                throw fail("shape \(entry.shape) needs \(expected) elements, but \(count) were given")
            }
            let end = offset + count * elementSize
            let description: JSONValue = .object([
                (key: "dtype", value: .string(dtype)),
                (key: "shape", value: .array(entry.shape.map { .integer($0) })),
                (key: "data_offsets", value: .array([.integer(offset), .integer(end)])),
            ])
            members.append((key: entry.name, value: description))
            offset = end
        }
        let json = JSONValue.object(members).serialized()
        let padding = (8 - json.utf8.count % 8) % 8
        return (json + String(repeating: " ", count: padding), ordered)
    }

    /// Writes the tensors to `path`, atomically: a complete file appears under `path` or, on
    /// error, whatever was there stays.
    public func write(to path: String) throws(CheckpointError) {
        let (header, ordered) = try layout(path: path)
        try writeAtomically(path: path) { file throws(CheckpointError) in
            var length = UInt64(header.utf8.count).littleEndian
            try withUnsafeBytes(of: &length) { bytes throws(CheckpointError) in try file.write(bytes) }
            try file.write(header)
            for entry in ordered {
                switch entry.contents {
                case .floats(let values):
                    try Self.writeLittleEndian(values.lazy.map { $0.bitPattern }, to: file)
                case .integers(let values):
                    try Self.writeLittleEndian(values, to: file)
                }
            }
        }
    }

    /// Writes `values` as little-endian bytes through a small staging buffer, so a large
    /// tensor is never copied whole.
    private static func writeLittleEndian<Values: Collection>(
        _ values: Values, to file: AtomicFileWriter
    ) throws(CheckpointError) where Values.Element: FixedWidthInteger {
        let chunkLength = 16_384
        var staging: [Values.Element] = []
        staging.reserveCapacity(chunkLength)
        var index = values.startIndex
        while index != values.endIndex {
            staging.removeAll(keepingCapacity: true)
            while index != values.endIndex && staging.count < chunkLength {
                staging.append(values[index].littleEndian)
                values.formIndex(after: &index)
            }
            let result: Result<Void, CheckpointError> = staging.withUnsafeBytes { bytes in
                do throws(CheckpointError) {
                    try file.write(bytes)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            try result.get()
        }
    }
}
