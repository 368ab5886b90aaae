import Foundation

/// The element types a PyTorch storage can hold that the checkpoint readers convert to Float.
enum StorageElementType: String, Sendable, Equatable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// Bytes per element.
    var width: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// The element type of a `torch.<Name>Storage` class (also under `torch.cuda`).
    init?(storageClass name: String) {
        switch name {
        case "FloatStorage": self = .float32
        case "DoubleStorage": self = .float64
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage", "UntypedStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }

    /// The element type of a `torch.<dtype>` global such as `torch.float32`.
    init?(dtypeName name: String) {
        switch name {
        case "float32", "float": self = .float32
        case "float64", "double": self = .float64
        case "float16", "half": self = .float16
        case "bfloat16": self = .bfloat16
        case "int64", "long": self = .int64
        case "int32", "int": self = .int32
        case "int16", "short": self = .int16
        case "int8": self = .int8
        case "uint8": self = .uint8
        case "bool": self = .bool
        default: return nil
        }
    }

    /// Converts `count` elements, `stride` elements apart, starting at element `start` of `raw`
    /// (little-endian), into `out`. The caller has checked that every element is inside `raw`.
    func decode(_ raw: UnsafeRawBufferPointer, start: Int, stride: Int, count: Int,
                into out: UnsafeMutablePointer<Float>) {
        let w = width
        var byte = start * w
        let step = stride * w
        switch self {
        case .float32:
            #if _endian(little)
            if stride == 1, let source = raw.baseAddress {
                // The common case: a contiguous run of little-endian float32 is a plain copy.
                UnsafeMutableRawPointer(out).copyMemory(from: source + byte, byteCount: count * 4)
                return
            }
            #endif
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: byte, as: UInt32.self)))
                byte += step
            }
        case .float64:
            for i in 0..<count {
                out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: byte, as: UInt64.self))))
                byte += step
            }
        case .float16:
            for i in 0..<count {
                out[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: byte, as: UInt16.self))))
                byte += step
            }
        case .bfloat16:
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: byte, as: UInt16.self))) << 16)
                byte += step
            }
        case .int64:
            for i in 0..<count {
                out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: byte, as: Int64.self)))
                byte += step
            }
        case .int32:
            for i in 0..<count {
                out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: byte, as: Int32.self)))
                byte += step
            }
        case .int16:
            for i in 0..<count {
                out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: byte, as: Int16.self)))
                byte += step
            }
        case .int8:
            for i in 0..<count {
                out[i] = Float(raw.load(fromByteOffset: byte, as: Int8.self))
                byte += step
            }
        case .uint8, .bool:
            for i in 0..<count {
                out[i] = Float(raw[byte])
                byte += step
            }
        }
    }
}

/// The globals a state dict may name; everything else is refused when the pickle names it.
enum AllowedGlobal: Equatable {
    case orderedDict
    case rebuildTensor
    case rebuildTensorV2
    case rebuildParameter
    case rebuildParameterWithState
    case torchSize
    case codecsEncode
    case storageClass(StorageElementType)
    case dtype(StorageElementType)

    /// Resolves `module.name`, or returns nil when it is not allowed.
    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch", "Size"): self = .torchSize
        case ("_codecs", "encode"): self = .codecsEncode
        case ("torch", _), ("torch.cuda", _), ("torch.storage", "UntypedStorage"):
            if let type = StorageElementType(storageClass: name) {
                self = .storageClass(type)
            } else if module == "torch", let type = StorageElementType(dtypeName: name) {
                self = .dtype(type)
            } else {
                return nil
            }
        default: return nil
        }
    }
}

/// A part of a storage that a persistent id names: the whole storage, or (legacy format) a view.
struct StorageSlice: Equatable {
    /// The index of the root storage in `Unpickler.storages`.
    var root: Int
    /// The first element of the slice in the root storage.
    var offset: Int
    /// The number of elements of the slice.
    var count: Int
}

/// A storage named by a persistent id: its key in the file, element type and element count.
struct StorageDescriptor {
    var key: String
    var type: StorageElementType
    var count: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it; its index range is checked against its storage.
struct TensorDescriptor {
    var storage: StorageSlice
    var offset: Int
    var shape: [Int]
    var strides: [Int]
    var elementCount: Int
}

/// A value on the unpickler's stack. Containers live in the unpickler's heap and are referred to
/// by index, so values are flat: no recursion when they are copied or freed, and cycles are harmless.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits, as its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case global(AllowedGlobal)
    case list(Int)
    case tuple(Int)
    case dict(Int)
    case storage(StorageSlice)
    case tensor(Int)

    /// A short name of the kind of value, for error messages.
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .global: return "a global"
        case .list: return "a list"
        case .tuple: return "a tuple"
        case .dict: return "a dict"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }
}

/// A dict of the heap: entries in insertion order, string keys indexed for replacement.
struct PickleDict {
    var entries: [(key: PickleValue, value: PickleValue)] = []
    var stringIndex: [String: Int] = [:]

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let s) = key {
            if let i = stringIndex[s] {
                entries[i].value = value
                return
            }
            stringIndex[s] = entries.count
        }
        entries.append((key, value))
    }

    func value(forKey key: String) -> PickleValue? {
        stringIndex[key].map { entries[$0].value }
    }
}

/// A restricted unpickler for PyTorch checkpoints, like `torch.load(weights_only=True)`.
///
/// It interprets the opcodes of pickle protocols 2–5 that `torch.save` emits, accepts only the
/// globals a state dict needs (`AllowedGlobal`) and never calls anything: the allowed callables
/// are interpreted (an `OrderedDict` becomes a dict, `_rebuild_tensor_v2` a `TensorDescriptor`).
/// Every length is checked against the remaining input, and the memo, the stack, the mark
/// nesting and the number of containers are bounded by `CheckpointLimits`.
struct Unpickler {
    let fileName: String
    let limits: CheckpointLimits
    /// Whether persistent ids (storages) may appear: only in the object pickle.
    let allowsPersistentIDs: Bool

    var lists: [[PickleValue]] = []
    var tuples: [[PickleValue]] = []
    var dicts: [PickleDict] = []
    var tensors: [TensorDescriptor] = []
    var storages: [StorageDescriptor] = []
    var storageIndex: [String: Int] = [:]

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(fileName: String, limits: CheckpointLimits, allowsPersistentIDs: Bool) {
        self.fileName = fileName
        self.limits = limits
        self.allowsPersistentIDs = allowsPersistentIDs
    }

    private func fail(_ problem: String) -> CheckpointError {
        CheckpointError(file: fileName, problem)
    }

    // MARK: - Reading

    /// Runs the pickle that starts at `start` in `bytes` until its STOP opcode and returns the
    /// value it built and the offset just after STOP.
    mutating func load(_ bytes: UnsafeRawBufferPointer, from start: Int) throws -> (value: PickleValue, end: Int) {
        stack.removeAll()
        marks.removeAll()
        memo.removeAll()
        var pos = start
        let end = bytes.count

        func need(_ n: Int, _ what: String) throws {
            guard n >= 0, n <= end - pos else {
                throw fail("is truncated or corrupt: \(what) at byte \(pos) needs \(n) bytes but \(max(0, end - pos)) remain")
            }
        }
        func readUInt(_ n: Int, _ what: String) throws -> UInt64 {
            try need(n, what)
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
            pos += n
            return v
        }
        func readBytes(_ n: Int, _ what: String) throws -> [UInt8] {
            try need(n, what)
            let out = Array(bytes[pos ..< pos + n])
            pos += n
            return out
        }
        func readLength(_ width: Int, _ what: String) throws -> Int {
            let n = try readUInt(width, what)
            guard n <= UInt64(end - pos) else {
                throw fail("is truncated or corrupt: \(what) at byte \(pos) claims \(n) bytes but \(end - pos) remain")
            }
            return Int(n)
        }
        func readLine(_ what: String) throws -> String {
            var i = pos
            while i < end, bytes[i] != 0x0A { i += 1 }
            guard i < end else { throw fail("is truncated or corrupt: \(what) at byte \(pos) has no end of line") }
            let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[pos ..< i]), as: UTF8.self)
            pos = i + 1
            return line
        }
        func utf8(_ b: [UInt8]) throws -> String {
            guard let s = String(bytes: b, encoding: .utf8) else {
                throw fail("has a pickle string at byte \(pos) that is not valid UTF-8")
            }
            return s
        }

        while true {
            let opcodePosition = pos
            try need(1, "a pickle opcode")
            let op = bytes[pos]
            pos += 1
            switch op {
            case 0x80: // PROTO
                let version = try readUInt(1, "PROTO")
                guard version <= 5 else { throw fail("uses pickle protocol \(version); protocols up to 5 are read") }
            case 0x95: // FRAME
                _ = try readLength(8, "FRAME")
            case 0x2E: // STOP
                guard let value = stack.popLast() else { throw fail("has a pickle that stops with an empty stack") }
                return (value, pos)
            case 0x28: // MARK
                guard marks.count < limits.maxNesting else {
                    throw fail("nests pickle containers deeper than \(limits.maxNesting) levels")
                }
                marks.append(stack.count)
            case 0x30: // POP
                if let mark = marks.last, stack.count == mark {
                    _ = try popMark()
                } else {
                    _ = try pop()
                }
            case 0x31: // POP_MARK
                _ = try popMark()
            case 0x32: // DUP
                try push(try top())
            case 0x4E: // NONE
                try push(.none)
            case 0x88: try push(.bool(true)) // NEWTRUE
            case 0x89: try push(.bool(false)) // NEWFALSE
            case 0x4A: // BININT
                try push(.int(Int(Int32(truncatingIfNeeded: try readUInt(4, "BININT")))))
            case 0x4B: // BININT1
                try push(.int(Int(try readUInt(1, "BININT1"))))
            case 0x4D: // BININT2
                try push(.int(Int(try readUInt(2, "BININT2"))))
            case 0x8A, 0x8B: // LONG1, LONG4
                let n = try readLength(op == 0x8A ? 1 : 4, "LONG")
                let digits = try readBytes(n, "LONG")
                try push(Self.integer(fromLittleEndian: digits))
            case 0x47: // BINFLOAT (big-endian)
                try need(8, "BINFLOAT")
                var v: UInt64 = 0
                for i in 0..<8 { v = v << 8 | UInt64(bytes[pos + i]) }
                pos += 8
                try push(.float(Double(bitPattern: v)))
            case 0x58, 0x8C, 0x8D: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                let n = try readLength(op == 0x8C ? 1 : op == 0x58 ? 4 : 8, "a string")
                try push(.string(try utf8(try readBytes(n, "a string"))))
            case 0x54, 0x55: // BINSTRING, SHORT_BINSTRING (Python 2 str, read as Latin-1)
                let n = try readLength(op == 0x55 ? 1 : 4, "a string")
                let raw = try readBytes(n, "a string")
                try push(.string(String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) }))))
            case 0x42, 0x43, 0x8E, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let n = try readLength(op == 0x43 ? 1 : op == 0x42 ? 4 : 8, "bytes")
                try push(.bytes(try readBytes(n, "bytes")))
            case 0x29: // EMPTY_TUPLE
                try push(try makeTuple([]))
            case 0x74: // TUPLE
                try push(try makeTuple(try popMark()))
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let n = Int(op - 0x84)
                guard stack.count - (marks.last ?? 0) >= n else { throw fail("has a pickle TUPLE\(n) at byte \(opcodePosition) with too few items") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                try push(try makeTuple(items))
            case 0x5D: // EMPTY_LIST
                try push(try makeList([]))
            case 0x6C: // LIST
                try push(try makeList(try popMark()))
            case 0x61: // APPEND
                let item = try pop()
                try append([item], to: try top(), at: opcodePosition)
            case 0x65: // APPENDS
                let items = try popMark()
                try append(items, to: try top(), at: opcodePosition)
            case 0x7D: // EMPTY_DICT
                try push(try makeDict([]))
            case 0x64: // DICT
                try push(try makeDict(try popMark()))
            case 0x73: // SETITEM
                let value = try pop()
                let key = try pop()
                try setItems([key, value], in: try top(), at: opcodePosition)
            case 0x75: // SETITEMS
                let items = try popMark()
                try setItems(items, in: try top(), at: opcodePosition)
            case 0x68, 0x6A: // BINGET, LONG_BINGET
                let index = Int(try readUInt(op == 0x68 ? 1 : 4, "BINGET"))
                guard let value = memo[index] else { throw fail("has a pickle BINGET of memo entry \(index) at byte \(opcodePosition), which was never stored") }
                try push(value)
            case 0x71, 0x72: // BINPUT, LONG_BINPUT
                let index = Int(try readUInt(op == 0x71 ? 1 : 4, "BINPUT"))
                try remember(try top(), at: index)
            case 0x94: // MEMOIZE
                try remember(try top(), at: memo.count)
            case 0x63: // GLOBAL
                let module = try readLine("GLOBAL")
                let name = try readLine("GLOBAL")
                try push(try resolve(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                let name = try pop()
                let module = try pop()
                guard case .string(let m) = module, case .string(let n) = name else {
                    throw fail("has a pickle STACK_GLOBAL at byte \(opcodePosition) whose module and name are not strings")
                }
                try push(try resolve(module: m, name: n))
            case 0x52: // REDUCE
                let args = try pop()
                let callable = try pop()
                try push(try call(callable, args, at: opcodePosition))
            case 0x81: // NEWOBJ
                let args = try pop()
                let cls = try pop()
                guard case .global(.orderedDict) = cls, case .tuple(let t) = args, tuples[t].isEmpty else {
                    throw fail("has a pickle NEWOBJ at byte \(opcodePosition) for \(cls.kind); only OrderedDict() is allowed")
                }
                try push(try makeDict([]))
            case 0x62: // BUILD
                let state = try pop()
                let object = try top()
                switch (object, state) {
                case (.dict, .dict), (.dict, .tuple), (.dict, .none), (.tensor, .dict), (.tensor, .tuple), (.tensor, .none):
                    break // attributes such as `_metadata` carry nothing the weights need
                default:
                    throw fail("has a pickle BUILD at byte \(opcodePosition) that sets the state of \(object.kind); only dicts and tensors may carry state")
                }
            case 0x51: // BINPERSID
                let id = try pop()
                try push(try persistentLoad(id, at: opcodePosition))
            case 0x50: // PERSID
                let id = try readLine("PERSID")
                throw fail("has a text persistent id \"\(id.prefix(40))\" at byte \(opcodePosition); PyTorch writes binary ones")
            case 0x69: // INST: names a class like GLOBAL, then instantiates it
                let module = try readLine("INST")
                let name = try readLine("INST")
                _ = try resolve(module: module, name: name)
                throw fail("has a pickle INST of \"\(module).\(name)\" at byte \(opcodePosition); only PyTorch tensors and containers are allowed")
            case 0x6F, 0x92, 0x82, 0x83, 0x84: // OBJ, NEWOBJ_EX, EXT1, EXT2, EXT4
                throw fail("has a pickle opcode 0x\(String(op, radix: 16)) at byte \(opcodePosition) that builds arbitrary objects; only PyTorch tensors and containers are allowed")
            default:
                throw fail("has an unsupported pickle opcode 0x\(String(op, radix: 16)) at byte \(opcodePosition)")
            }
        }
    }

    static func integer(fromLittleEndian digits: [UInt8]) -> PickleValue {
        guard !digits.isEmpty else { return .int(0) }
        guard digits.count <= 8 else { return .bigInt(digits) }
        var v: UInt64 = 0
        for (i, d) in digits.enumerated() { v |= UInt64(d) << (8 * UInt64(i)) }
        if digits.count < 8, let last = digits.last, last & 0x80 != 0 {
            v |= ~UInt64(0) << (8 * UInt64(digits.count)) // sign-extend
        }
        return .int(Int(Int64(bitPattern: v)))
    }

    // MARK: - Stack

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < limits.maxStackItems else {
            throw fail("has a pickle whose stack grows beyond \(limits.maxStackItems) items")
        }
        stack.append(value)
    }

    private mutating func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let v = stack.popLast() else {
            throw fail("has a corrupt pickle: an opcode needs a value but the stack is empty")
        }
        return v
    }

    private func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let v = stack.last else {
            throw fail("has a corrupt pickle: an opcode needs a value but the stack is empty")
        }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw fail("has a corrupt pickle: a MARK is missing") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func remember(_ value: PickleValue, at index: Int) throws {
        guard memo[index] != nil || memo.count < limits.maxMemoEntries else {
            throw fail("has a pickle memo larger than \(limits.maxMemoEntries) entries")
        }
        memo[index] = value
    }

    // MARK: - Containers

    private var containerCount: Int { lists.count + tuples.count + dicts.count + tensors.count }

    private mutating func checkContainerBudget() throws {
        guard containerCount < limits.maxContainers else {
            throw fail("has more than \(limits.maxContainers) pickle containers")
        }
    }

    private mutating func makeTuple(_ items: [PickleValue]) throws -> PickleValue {
        try checkContainerBudget()
        tuples.append(items)
        return .tuple(tuples.count - 1)
    }

    private mutating func makeList(_ items: [PickleValue]) throws -> PickleValue {
        try checkContainerBudget()
        lists.append(items)
        return .list(lists.count - 1)
    }

    private mutating func makeDict(_ flat: [PickleValue]) throws -> PickleValue {
        try checkContainerBudget()
        guard flat.count % 2 == 0 else { throw fail("has a corrupt pickle: a dict has an odd number of keys and values") }
        var dict = PickleDict()
        for i in stride(from: 0, to: flat.count, by: 2) { dict.set(flat[i], flat[i + 1]) }
        dicts.append(dict)
        return .dict(dicts.count - 1)
    }

    private mutating func append(_ items: [PickleValue], to target: PickleValue, at position: Int) throws {
        guard case .list(let l) = target else {
            throw fail("has a pickle APPEND at byte \(position) to \(target.kind); only lists can be appended to")
        }
        lists[l].append(contentsOf: items)
    }

    private mutating func setItems(_ flat: [PickleValue], in target: PickleValue, at position: Int) throws {
        guard case .dict(let d) = target else {
            throw fail("has a pickle SETITEM at byte \(position) on \(target.kind); only dicts have items")
        }
        guard flat.count % 2 == 0 else { throw fail("has a corrupt pickle: SETITEMS at byte \(position) has an odd number of keys and values") }
        for i in stride(from: 0, to: flat.count, by: 2) { dicts[d].set(flat[i], flat[i + 1]) }
    }

    // MARK: - Globals and calls

    private func resolve(module: String, name: String) throws -> PickleValue {
        guard let global = AllowedGlobal(module: module, name: name) else {
            throw fail("refusing to load global \"\(module).\(name)\": only PyTorch tensors and containers are allowed")
        }
        return .global(global)
    }

    /// The items of a tuple argument.
    private func arguments(_ args: PickleValue, at position: Int) throws -> [PickleValue] {
        guard case .tuple(let t) = args else { throw fail("has a pickle REDUCE at byte \(position) whose arguments are \(args.kind), not a tuple") }
        return tuples[t]
    }

    private func integers(_ value: PickleValue, _ what: String) throws -> [Int] {
        let items: [PickleValue]
        switch value {
        case .tuple(let t): items = tuples[t]
        case .list(let l): items = lists[l]
        default: throw fail("has a tensor whose \(what) is \(value.kind), not a tuple of integers")
        }
        return try items.map {
            guard case .int(let n) = $0 else { throw fail("has a tensor whose \(what) holds \($0.kind), not an integer") }
            return n
        }
    }

    private mutating func call(_ callable: PickleValue, _ args: PickleValue, at position: Int) throws -> PickleValue {
        guard case .global(let global) = callable else {
            throw fail("has a pickle REDUCE at byte \(position) that calls \(callable.kind)")
        }
        let a = try arguments(args, at: position)
        switch global {
        case .orderedDict:
            guard a.count <= 1 else { throw fail("has an OrderedDict with \(a.count) arguments") }
            let result = try makeDict([])
            guard let items = a.first, case .dict(let d) = result else { return result }
            let pairs: [PickleValue]
            switch items {
            case .list(let l): pairs = lists[l]
            case .tuple(let t): pairs = tuples[t]
            default: throw fail("has an OrderedDict built from \(items.kind)")
            }
            for pair in pairs {
                guard case .tuple(let t) = pair, tuples[t].count == 2 else { throw fail("has an OrderedDict item that is not a (key, value) pair") }
                dicts[d].set(tuples[t][0], tuples[t][1])
            }
            return result
        case .torchSize:
            guard a.count == 1 else { throw fail("has a torch.Size with \(a.count) arguments") }
            return try makeTuple(try integers(a[0], "size").map { .int($0) })
        case .codecsEncode:
            guard a.count == 2, case .string(let text) = a[0], case .string(let encoding) = a[1] else {
                throw fail("has a _codecs.encode call whose arguments are not (string, encoding)")
            }
            switch encoding.lowercased() {
            case "latin1", "latin-1", "iso-8859-1":
                let scalars = text.unicodeScalars.map(\.value)
                guard scalars.allSatisfy({ $0 < 256 }) else { throw fail("has a _codecs.encode call whose text is not Latin-1") }
                return .bytes(scalars.map { UInt8($0) })
            case "utf-8", "utf8":
                return .bytes(Array(text.utf8))
            default:
                throw fail("has a _codecs.encode call with encoding \"\(encoding)\"; latin1 and utf-8 are read")
            }
        case .rebuildTensor, .rebuildTensorV2:
            guard a.count >= 4 else { throw fail("has a tensor rebuilt from \(a.count) arguments; 4 or more were expected") }
            return try makeTensor(storage: a[0], offset: a[1], size: a[2], stride: a[3])
        case .rebuildParameter, .rebuildParameterWithState:
            guard a.count >= 3, case .tensor = a[0] else { throw fail("has a parameter whose data is not a tensor") }
            return a[0]
        case .storageClass, .dtype:
            throw fail("has a pickle REDUCE at byte \(position) that calls a storage type or dtype; only tensors are rebuilt")
        }
    }

    private mutating func makeTensor(storage: PickleValue, offset: PickleValue, size: PickleValue, stride: PickleValue) throws -> PickleValue {
        try checkContainerBudget()
        guard case .storage(let slice) = storage else { throw fail("has a tensor whose storage is \(storage.kind)") }
        guard case .int(let start) = offset, start >= 0 else { throw fail("has a tensor with a negative or non-integer storage offset") }
        let shape = try integers(size, "size")
        let strides = try integers(stride, "stride")
        guard shape.count == strides.count else {
            throw fail("has a tensor whose size \(shape) and stride \(strides) have different lengths")
        }
        guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            throw fail("has a tensor with a negative size or stride (size \(shape), stride \(strides))")
        }
        // First the index range against the storage, then the element count against the limit:
        // neither multiplication may overflow, and nothing is allocated here.
        var lastIndex = start
        for (n, s) in zip(shape, strides) where n > 0 {
            let (span, o1) = (n - 1).multipliedReportingOverflow(by: s)
            let (l, o2) = lastIndex.addingReportingOverflow(span)
            guard !o1, !o2 else { throw fail("has a tensor whose size \(shape) and stride \(strides) overflow") }
            lastIndex = l
        }
        if !shape.contains(0), lastIndex >= slice.count {
            throw fail("has a tensor of size \(shape), stride \(strides) and offset \(start) that reaches element \(lastIndex) of a storage of \(slice.count) elements")
        }
        let count: Int
        if shape.contains(0) {
            count = 0
        } else {
            var c = 1
            for n in shape {
                let (m, overflow) = c.multipliedReportingOverflow(by: n)
                guard !overflow, m <= limits.maxElements else {
                    throw fail("has a tensor of size \(shape), more than the limit of \(limits.maxElements) elements")
                }
                c = m
            }
            count = c
        }
        tensors.append(TensorDescriptor(storage: slice, offset: start, shape: shape, strides: strides, elementCount: count))
        return .tensor(tensors.count - 1)
    }

    /// Interprets a persistent id: `('storage', type, key, location, numel)` in the zip format and
    /// `('storage', type, key, location, numel, view)` in the legacy format.
    private mutating func persistentLoad(_ id: PickleValue, at position: Int) throws -> PickleValue {
        guard allowsPersistentIDs else { throw fail("has a persistent id at byte \(position) outside the object pickle") }
        guard case .tuple(let t) = id else { throw fail("has a persistent id at byte \(position) that is \(id.kind), not a tuple") }
        let items = tuples[t]
        guard items.count == 5 || items.count == 6, case .string("storage") = items[0] else {
            throw fail("has a persistent id at byte \(position) that is not a ('storage', ...) tuple")
        }
        guard case .global(.storageClass(let type)) = items[1] else {
            throw fail("has a storage at byte \(position) whose type is \(items[1].kind), not a torch storage class")
        }
        guard case .string(let key) = items[2] else { throw fail("has a storage at byte \(position) whose key is \(items[2].kind)") }
        guard case .int(let count) = items[4], count >= 0 else {
            throw fail("has a storage \"\(key)\" with a negative or non-integer element count")
        }
        let root: Int
        if let existing = storageIndex[key] {
            root = existing // a shared storage: the first description wins, as in torch.load
        } else {
            storages.append(StorageDescriptor(key: key, type: type, count: count))
            root = storages.count - 1
            storageIndex[key] = root
        }
        let rootCount = storages[root].count
        if items.count == 6, case .tuple(let v) = items[5] {
            // Legacy view: (view_key, offset, view_size) inside the root storage.
            guard tuples[v].count == 3, case .int(let offset) = tuples[v][1], case .int(let size) = tuples[v][2],
                  offset >= 0, size >= 0, offset <= rootCount, size <= rootCount - offset else {
                throw fail("has a storage view of \"\(key)\" that does not fit its \(rootCount) elements")
            }
            return .storage(StorageSlice(root: root, offset: offset, count: size))
        }
        return .storage(StorageSlice(root: root, offset: 0, count: rootCount))
    }
}
