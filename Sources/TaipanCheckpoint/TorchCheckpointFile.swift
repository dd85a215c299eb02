// TorchCheckpointFile.swift — a `pytorch_model.bin` as `torch.save(state_dict)` writes it (the
// format of the original state-spaces/mamba-* releases): a zip archive whose entries sit in one
// folder, `<folder>/data.pkl` (the pickled state dict, read by TorchUnpickler) and one raw
// little-endian storage per key, `<folder>/data/<key>`. Tensors are views of storages: an
// offset, a shape and strides, several tensors possibly sharing one storage (a tied head).
//
// Every tensor's extent is checked against its storage when the file is opened, so reads are in
// bounds; they gather strided tensors into contiguous float32.

import TaipanTensor

/// A `torch.save` state dict file, mapped into memory and validated.
public final class TorchCheckpointFile: SafeTensorsSource, @unchecked Sendable {
    /// The path the file was opened from, used in error messages.
    public let path: String
    /// Every tensor name, sorted.
    public let names: [String]

    private struct Entry {
        let info: SafeTensorsInfo
        let strides: [Int]
        /// The storage's bytes.
        let storage: UnsafeRawBufferPointer
    }

    // Immutable after init, pointing into the archive's read-only mapping, which it keeps alive.
    private let archive: ZipArchive
    private let tensors: [String: Entry]

    /// Opens the archive at `path`, reads its state dict and checks every tensor against its
    /// storage.
    public init(path: String) throws(CheckpointError) {
        let archive = try ZipArchive(file: try MappedFile(path: path))
        // torch.save puts every entry in one folder, named after the file or "archive".
        let pickles = archive.names.filter { $0.hasSuffix("/data.pkl") && $0.split(separator: "/").count == 2 }
        guard pickles.count == 1, let pickleName = pickles.first, let pickle = archive.contents(pickleName) else {
            throw CheckpointError.invalidHeader(
                path: path, message: "holds \(pickles.count) FOLDER/data.pkl entries, not one: not a torch.save archive")
        }
        let folder = String(pickleName.dropLast("data.pkl".count))
        if let order = archive.contents(folder + "byteorder"), !order.elementsEqual("little".utf8) {
            throw CheckpointError.invalidHeader(
                path: path, message: "\(folder)byteorder says \"\(String(decoding: order, as: UTF8.self))\"; only little-endian storages are read")
        }

        var tensors: [String: Entry] = [:]
        var storageTypes: [String: (dtype: SafeTensorsDType, count: Int)] = [:]
        for (name, layout) in try TorchUnpickler.stateDict(from: pickle, path: path, entry: pickleName) {
            func fail(_ message: String) -> CheckpointError {
                CheckpointError.invalidTensor(path: path, tensor: name, message: message)
            }
            let entry = folder + "data/" + layout.storageKey
            guard let storage = archive.contents(entry) else { throw fail("its storage \(entry) is not in the archive") }
            let declared = (dtype: layout.dtype, count: layout.storageElementCount)
            if let other = storageTypes.updateValue(declared, forKey: layout.storageKey), other != declared {
                throw fail(
                    "storage \(entry) is declared as \(declared.count) \(declared.dtype.rawValue) elements here and as \(other.count) \(other.dtype.rawValue) elsewhere")
            }
            let elementSize = layout.dtype.byteSize
            let (storageBytes, tooLarge) = layout.storageElementCount.multipliedReportingOverflow(by: elementSize)
            guard !tooLarge, storageBytes <= storage.count else {
                throw fail(
                    "its storage \(entry) holds \(storage.count) bytes, fewer than its \(layout.storageElementCount) \(layout.dtype.rawValue) elements need")
            }
            guard let elements = Self.elementRange(of: layout) else {
                throw fail(
                    "shape \(describeShape(layout.shape)), strides \(describeShape(layout.strides)) and offset \(layout.offset) reach past the \(layout.storageElementCount) elements of storage \(entry)")
            }
            let info = SafeTensorsInfo(
                dtype: layout.dtype, shape: layout.shape,
                byteRange: (elements.lowerBound * elementSize)..<(elements.upperBound * elementSize))
            tensors[name] = Entry(info: info, strides: layout.strides, storage: storage)
        }
        self.path = path
        self.names = tensors.keys.sorted()
        self.archive = archive
        self.tensors = tensors
    }

    /// The storage elements from the tensor's first to its last, or nil when they do not all
    /// lie within the storage (or their indices overflow).
    private static func elementRange(of layout: TorchTensorLayout) -> Range<Int>? {
        var last = layout.offset
        var count = 1
        for (size, stride) in zip(layout.shape, layout.strides) {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { return nil }
            count = product
            if size > 0 {
                let (step, stepOverflow) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, sumOverflow) = last.addingReportingOverflow(step)
                guard !stepOverflow, !sumOverflow else { return nil }
                last = sum
            }
        }
        if count == 0 { return layout.offset <= layout.storageElementCount ? layout.offset..<layout.offset : nil }
        return last < layout.storageElementCount ? layout.offset..<(last + 1) : nil
    }

    /// Whether a tensor named `name` exists.
    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The dtype (F32, F16 or BF16), shape and location of the tensor `name`; `byteRange` is
    /// the span of its storage from its first element to its last.
    public func info(_ name: String) throws(CheckpointError) -> SafeTensorsInfo {
        guard let tensor = tensors[name] else { throw CheckpointError.missingTensor(path: path, tensor: name) }
        return tensor.info
    }

    /// Writes the tensor `name`, converted to Float32 and laid out contiguously (row-major),
    /// into `destination`, which must hold exactly its element count.
    public func readFloats(
        _ name: String, into destination: UnsafeMutableBufferPointer<Float>
    ) throws(CheckpointError) {
        guard let tensor = tensors[name] else { throw CheckpointError.missingTensor(path: path, tensor: name) }
        let shape = tensor.info.shape, strides = tensor.strides
        guard destination.count == tensor.info.elementCount else {
            throw CheckpointError.invalidTensor(
                path: path, tensor: name,
                message: "has \(tensor.info.elementCount) elements, the destination holds \(destination.count)")
        }
        guard destination.count > 0, let storage = tensor.storage.baseAddress else { return }
        let first = storage + tensor.info.byteRange.lowerBound
        let elementSize = tensor.info.dtype.byteSize
        // Rows along the last dimension, each read with its stride; a contiguous tensor is one row.
        var contiguous = true, rowMajorStride = 1
        for (size, stride) in zip(shape, strides).reversed() {
            if size != 1 && stride != rowMajorStride { contiguous = false }
            rowMajorStride *= size
        }
        let rowLength = contiguous ? destination.count : shape.last ?? 1
        let rowStride = contiguous ? 1 : strides.last ?? 1
        let outer = contiguous ? [] : Array(shape.dropLast())
        var index = [Int](repeating: 0, count: outer.count)
        var rowOffset = 0  // in elements, from `first`
        for row in 0..<(destination.count / rowLength) {
            let slice = UnsafeMutableBufferPointer(rebasing: destination[(row * rowLength)..<((row + 1) * rowLength)])
            // Always true: the unpickler admits only float32, float16 and bfloat16 storages.
            _ = tensor.info.dtype.widen(from: first + rowOffset * elementSize, elementStride: rowStride, into: slice)
            // Advance the outer index like an odometer, last dimension fastest.
            var dimension = outer.count - 1
            while dimension >= 0 {
                index[dimension] += 1
                rowOffset += strides[dimension]
                if index[dimension] < outer[dimension] { break }
                rowOffset -= strides[dimension] * outer[dimension]
                index[dimension] = 0
                dimension -= 1
            }
        }
    }

    /// Integer tensors are not read from `.bin` files (a Mamba state dict holds none): throws.
    public func integers(_ name: String) throws(CheckpointError) -> [Int64] {
        let dtype = try info(name).dtype
        throw CheckpointError.invalidTensor(path: path, tensor: name, message: "dtype \(dtype.rawValue) cannot be read as integers")
    }
}
