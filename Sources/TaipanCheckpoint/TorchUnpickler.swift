// TorchUnpickler.swift — a restricted reader of the pickle that `torch.save(state_dict)` writes
// as `data.pkl` (Python's pickle protocol 2, as torch.save emits it by default, plus the few
// protocol 4 opcodes of `pickle_protocol=4`). It understands only what a state dict needs:
// `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` (storage, offset, size, stride,
// requires_grad, backward hooks[, metadata]) and the persistent id
// `('storage', torch.FloatStorage | HalfStorage | BFloat16Storage, key, location, numel)`.
//
// Unlike Python's unpickler it calls nothing: GLOBAL only names one of those few things, and
// REDUCE only builds a dictionary or a tensor description. Any other global (`os.system`,
// `builtins.eval`, a class of a training script) or opcode is refused where it stands, with its
// byte offset. Objects live in one flat array and refer to each other by index, so no value is
// ever released recursively, however deeply a hostile pickle nests it.

/// Where a tensor's elements lie: `shape` elements of `dtype`, `strides` apart, from element
/// `offset` of the storage `storageKey` (the archive entry `data/<storageKey>`).
struct TorchTensorLayout: Equatable {
    /// The storage's key, naming its archive entry.
    let storageKey: String
    /// The storage's element type: F32, F16 or BF16.
    let dtype: SafeTensorsDType
    /// The storage's size in elements, as the persistent id declares it.
    let storageElementCount: Int
    /// The index of the tensor's first element in the storage.
    let offset: Int
    /// The tensor's shape, outermost dimension first.
    let shape: [Int]
    /// The distance in elements between neighbours along each dimension.
    let strides: [Int]
}

/// The reader of a state dict's pickle.
struct TorchUnpickler {
    /// The largest pickle read. A state dict takes about 130 bytes per tensor (the fixtures), so
    /// mamba-2.8b's 643 tensors need under 100 KB, while every opcode may add an object of about
    /// 70 bytes: the limit bounds what a hostile pickle can make this reader allocate (~1 GB).
    static let maximumSize = 16 << 20

    /// Reads the pickle `bytes` (the archive entry `entry` of the file at `path`, both named in
    /// errors) and returns the state dict's tensors in their stored order.
    static func stateDict(
        from bytes: UnsafeRawBufferPointer, path: String, entry: String
    ) throws(CheckpointError) -> [(name: String, layout: TorchTensorLayout)] {
        guard bytes.count <= maximumSize else {
            throw CheckpointError.invalidHeader(
                path: path, message: "\(entry) holds \(bytes.count) bytes, more than a state dict's pickle needs (at most \(maximumSize) are read)")
        }
        var machine = TorchUnpickler(bytes: bytes, path: path, entry: entry)
        return try machine.run()
    }

    /// The globals a state dict refers to: the only names GLOBAL may bring in.
    private enum Global: String {
        case orderedDict = "collections.OrderedDict"
        case rebuildTensor = "torch._utils._rebuild_tensor_v2"
        case floatStorage = "torch.FloatStorage"
        case halfStorage = "torch.HalfStorage"
        case bfloat16Storage = "torch.BFloat16Storage"

        /// The element type of a storage class; nil for the others.
        var storageType: SafeTensorsDType? {
            switch self {
            case .floatStorage: .F32
            case .halfStorage: .F16
            case .bfloat16Storage: .BF16
            case .orderedDict, .rebuildTensor: nil
            }
        }
    }

    /// One object the pickle built; containers hold the indices of their members in `objects`.
    private enum Object {
        case none
        case bool(Bool)
        case integer(Int)
        case string(String)
        case tuple([Int])
        case list([Int])
        case dictionary([(key: Int, value: Int)])
        case global(Global)
        case storage(key: String, dtype: SafeTensorsDType, count: Int)
        case tensor(TorchTensorLayout)
    }

    private let bytes: UnsafeRawBufferPointer
    private let path: String
    private let entry: String
    private var position = 0
    /// Where the opcode being run starts, for error messages.
    private var opcodeStart = 0
    private var objects: [Object] = []
    private var stack: [Int] = []
    private var marks: [Int] = []
    private var memo: [Int: Int] = [:]

    private init(bytes: UnsafeRawBufferPointer, path: String, entry: String) {
        self.bytes = bytes
        self.path = path
        self.entry = entry
    }

    private func fail(_ message: String) -> CheckpointError {
        CheckpointError.invalidHeader(path: path, message: "\(entry), byte \(opcodeStart): \(message)")
    }

    private mutating func run() throws(CheckpointError) -> [(name: String, layout: TorchTensorLayout)] {
        while true {
            opcodeStart = position
            let opcode = try readInteger(UInt8.self)
            switch opcode {
            case 0x80:  // PROTO
                let protocolVersion = try readInteger(UInt8.self)
                guard (2...5).contains(protocolVersion) else {
                    throw fail("pickle protocol \(protocolVersion) is not one torch.save writes (2 to 5)")
                }
            case 0x95:  // FRAME: a length hint only
                _ = try readInteger(UInt64.self)
            case 0x2E:  // STOP
                return try stateDict(try pop())
            case 0x28:  // MARK
                marks.append(stack.count)
            case 0x7D: push(.dictionary([]))  // EMPTY_DICT
            case 0x5D: push(.list([]))  // EMPTY_LIST
            case 0x29: push(.tuple([]))  // EMPTY_TUPLE
            case 0x74: push(.tuple(try popToMark()))  // TUPLE
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode) - 0x84
                guard stack.count - (marks.last ?? 0) >= count else { throw fail("TUPLE\(count) needs \(count) items on the stack") }
                let members = Array(stack.suffix(count))
                stack.removeLast(count)
                push(.tuple(members))
            case 0x58: push(.string(try readString(length: Int(try readInteger(UInt32.self)))))  // BINUNICODE
            case 0x8C: push(.string(try readString(length: Int(try readInteger(UInt8.self)))))  // SHORT_BINUNICODE
            case 0x71: try memoize(Int(try readInteger(UInt8.self)))  // BINPUT
            case 0x72: try memoize(Int(try readInteger(UInt32.self)))  // LONG_BINPUT
            case 0x94: try memoize(memo.count)  // MEMOIZE
            case 0x68: try recall(Int(try readInteger(UInt8.self)))  // BINGET
            case 0x6A: try recall(Int(try readInteger(UInt32.self)))  // LONG_BINGET
            case 0x63:  // GLOBAL
                let module = try readLine()
                push(.global(try resolve(module: module, name: try readLine())))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let nameText) = objects[name], case .string(let moduleText) = objects[module] else {
                    throw fail("STACK_GLOBAL needs two strings, found \(describe(module)) and \(describe(name))")
                }
                push(.global(try resolve(module: moduleText, name: nameText)))
            case 0x51: push(try persistentStorage(try pop()))  // BINPERSID
            case 0x4A: push(.integer(Int(Int32(bitPattern: try readInteger(UInt32.self)))))  // BININT
            case 0x4B: push(.integer(Int(try readInteger(UInt8.self))))  // BININT1
            case 0x4D: push(.integer(Int(try readInteger(UInt16.self))))  // BININT2
            case 0x8A: push(.integer(try readLong()))  // LONG1
            case 0x88: push(.bool(true))  // NEWTRUE
            case 0x89: push(.bool(false))  // NEWFALSE
            case 0x4E: push(.none)  // NONE
            case 0x52:  // REDUCE
                let arguments = try pop(), callable = try pop()
                push(try reduce(callable, arguments))
            case 0x62:  // BUILD: a state dict's state is its `_metadata` (module versions), unused here
                let state = try pop()
                guard let target = stack.last, case .dictionary = objects[target] else {
                    throw fail("BUILD applies state to \(stack.last.map(describe) ?? "nothing"), not to a dictionary")
                }
                switch objects[state] {
                case .dictionary, .none: break
                default: throw fail("BUILD gives a dictionary the state \(describe(state))")
                }
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value])
            case 0x75: try setItems(try popToMark())  // SETITEMS
            case 0x61: try append([try pop()])  // APPEND
            case 0x65: try append(try popToMark())  // APPENDS
            default:
                throw fail(
                    "opcode 0x\(String(opcode, radix: 16, uppercase: true)) is not one a torch state dict uses (nothing was run)")
            }
        }
    }

    // MARK: Reading the byte stream

    private mutating func readInteger<Value: FixedWidthInteger>(_ type: Value.Type) throws(CheckpointError) -> Value {
        guard let value = bytes.littleEndian(type, at: position) else {
            throw fail("the pickle ends in the middle of an opcode (it holds \(bytes.count) bytes)")
        }
        position += MemoryLayout<Value>.size
        return value
    }

    private mutating func readBytes(_ length: Int) throws(CheckpointError) -> UnsafeRawBufferPointer {
        guard length <= bytes.count - position else {
            throw fail("a \(length)-byte argument runs past the end of the \(bytes.count)-byte pickle")
        }
        defer { position += length }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)])
    }

    private mutating func readString(length: Int) throws(CheckpointError) -> String {
        let raw = try readBytes(length)
        guard let text = String(validating: raw, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
        return text
    }

    /// A newline-terminated ASCII argument (GLOBAL's module and name).
    private mutating func readLine() throws(CheckpointError) -> String {
        let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
        guard let newline = rest.firstIndex(of: 0x0A) else { throw fail("GLOBAL's argument has no end of line") }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: rest[..<newline]), as: UTF8.self)
        position += newline + 1
        return line
    }

    /// LONG1: a length byte, then that many bytes of a little-endian two's-complement integer.
    private mutating func readLong() throws(CheckpointError) -> Int {
        let length = Int(try readInteger(UInt8.self))
        guard length <= 8 else { throw fail("a \(length)-byte integer is larger than any size or offset") }
        var value: UInt64 = 0
        for (index, byte) in try readBytes(length).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        // Extend the sign of a shorter integer.
        if length > 0 && length < 8 && value >> (8 * UInt64(length) - 1) & 1 == 1 { value |= ~0 << (8 * UInt64(length)) }
        return Int(Int64(bitPattern: value))
    }

    // MARK: The stack and the memo

    private mutating func push(_ object: Object) {
        objects.append(object)
        stack.append(objects.count - 1)
    }

    private mutating func pop() throws(CheckpointError) -> Int {
        guard stack.count > (marks.last ?? 0), let top = stack.popLast() else { throw fail("an opcode pops an empty stack") }
        return top
    }

    private mutating func popToMark() throws(CheckpointError) -> [Int] {
        guard let mark = marks.popLast() else { throw fail("an opcode needs a MARK that is not there") }
        defer { stack.removeLast(stack.count - mark) }
        return Array(stack[mark...])
    }

    private mutating func memoize(_ key: Int) throws(CheckpointError) {
        guard let top = stack.last else { throw fail("memoizing an empty stack") }
        memo[key] = top
    }

    private mutating func recall(_ key: Int) throws(CheckpointError) {
        guard let object = memo[key] else { throw fail("memo entry \(key) was never stored") }
        stack.append(object)
    }

    // MARK: Building objects

    private func resolve(module: String, name: String) throws(CheckpointError) -> Global {
        guard let global = Global(rawValue: module + "." + name) else {
            throw fail(
                "GLOBAL \(module).\(name) is refused: a state dict needs only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.FloatStorage, HalfStorage or BFloat16Storage (nothing was run)")
        }
        return global
    }

    /// The persistent id `('storage', storage class, key, location, numel)` of a storage.
    private func persistentStorage(_ id: Int) throws(CheckpointError) -> Object {
        guard case .tuple(let members) = objects[id], members.count == 5,
            case .string("storage") = objects[members[0]],
            case .global(let storageClass) = objects[members[1]], let dtype = storageClass.storageType,
            case .string(let key) = objects[members[2]], case .string = objects[members[3]],
            case .integer(let count) = objects[members[4]], count >= 0
        else {
            throw fail(
                "persistent id \(describe(id)) is not ('storage', a float32, float16 or bfloat16 storage class, key, location, size)")
        }
        return .storage(key: key, dtype: dtype, count: count)
    }

    private func reduce(_ callable: Int, _ argumentsIndex: Int) throws(CheckpointError) -> Object {
        guard case .tuple(let arguments) = objects[argumentsIndex] else {
            throw fail("REDUCE's arguments are \(describe(argumentsIndex)), not a tuple")
        }
        switch objects[callable] {
        case .global(.orderedDict) where arguments.isEmpty:
            return .dictionary([])
        case .global(.rebuildTensor):
            return .tensor(try tensorLayout(arguments))
        default:
            throw fail("REDUCE calls \(describe(callable)) with \(arguments.count) arguments, which a state dict never does")
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private func tensorLayout(_ arguments: [Int]) throws(CheckpointError) -> TorchTensorLayout {
        func integers(_ index: Int) -> [Int]? {
            guard case .tuple(let members) = objects[index] else { return nil }
            var values: [Int] = []
            for member in members {
                guard case .integer(let value) = objects[member], value >= 0 else { return nil }
                values.append(value)
            }
            return values
        }
        guard arguments.count == 6 || arguments.count == 7,
            case .storage(let key, let dtype, let count) = objects[arguments[0]],
            case .integer(let offset) = objects[arguments[1]], offset >= 0,
            let shape = integers(arguments[2]), let strides = integers(arguments[3]), shape.count == strides.count,
            case .bool = objects[arguments[4]],
            case .dictionary(let hooks) = objects[arguments[5]], hooks.isEmpty
        else {
            throw fail(
                "_rebuild_tensor_v2 takes (storage, offset, size, stride, requires_grad, no backward hooks), not \(arguments.map(describe).joined(separator: ", "))")
        }
        if arguments.count == 7 {
            guard case .dictionary = objects[arguments[6]] else {
                throw fail("_rebuild_tensor_v2's metadata is \(describe(arguments[6])), not a dictionary")
            }
        }
        return TorchTensorLayout(
            storageKey: key, dtype: dtype, storageElementCount: count, offset: offset, shape: shape, strides: strides)
    }

    private mutating func setItems(_ items: [Int]) throws(CheckpointError) {
        guard items.count % 2 == 0 else { throw fail("SETITEMS has a key without a value") }
        guard let target = stack.last, case .dictionary(var entries) = objects[target] else {
            throw fail("SETITEM(S) stores into \(stack.last.map(describe) ?? "nothing"), not a dictionary")
        }
        objects[target] = .none  // lets the append below grow the entries in place
        for pair in stride(from: 0, to: items.count, by: 2) { entries.append((key: items[pair], value: items[pair + 1])) }
        objects[target] = .dictionary(entries)
    }

    private mutating func append(_ items: [Int]) throws(CheckpointError) {
        guard let target = stack.last, case .list(var members) = objects[target] else {
            throw fail("APPEND(S) adds to \(stack.last.map(describe) ?? "nothing"), not a list")
        }
        objects[target] = .none
        members += items
        objects[target] = .list(members)
    }

    /// The result: a dictionary from names to tensors, later entries replacing earlier ones.
    private func stateDict(_ result: Int) throws(CheckpointError) -> [(name: String, layout: TorchTensorLayout)] {
        guard case .dictionary(let entries) = objects[result] else {
            throw fail("the pickle holds \(describe(result)), not a state dict")
        }
        var tensors: [(name: String, layout: TorchTensorLayout)] = []
        var positions: [String: Int] = [:]
        for (key, value) in entries {
            guard case .string(let name) = objects[key] else { throw fail("a state dict key is \(describe(key)), not a string") }
            guard case .tensor(let layout) = objects[value] else {
                throw fail("state dict entry \"\(name)\" is \(describe(value)), not a tensor")
            }
            if let existing = positions[name] {
                tensors[existing].layout = layout
            } else {
                positions[name] = tensors.count
                tensors.append((name, layout))
            }
        }
        return tensors
    }

    /// A short description of an object for error messages (never recursive).
    private func describe(_ index: Int) -> String {
        switch objects[index] {
        case .none: "None"
        case .bool(let value): value ? "True" : "False"
        case .integer(let value): "the integer \(value)"
        case .string(let text): "the string \"\(text.count > 80 ? String(text.prefix(80)) + "…" : text)\""
        case .tuple(let members): "a tuple of \(members.count)"
        case .list(let members): "a list of \(members.count)"
        case .dictionary(let entries): "a dictionary of \(entries.count)"
        case .global(let global): global.rawValue
        case .storage(let key, let dtype, _): "storage \"\(key)\" (\(dtype.rawValue))"
        case .tensor: "a tensor"
        }
    }
}
