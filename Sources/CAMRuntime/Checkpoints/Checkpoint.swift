import Foundation

/// Bounds that a checkpoint must stay within, so that a hostile or corrupt file is refused
/// with a message instead of exhausting memory.
public struct CheckpointLimits: Sendable, Equatable {
    /// The most Float elements the whole checkpoint may expand to (a single tensor included).
    public var maxElements: Int
    /// The most entries of the pickle memo.
    public var maxMemoEntries: Int
    /// The most values on the pickle stack.
    public var maxStackItems: Int
    /// The deepest nesting of pickle MARKs (containers being built inside each other).
    public var maxNesting: Int
    /// The most containers (lists, tuples, dicts, tensors) a pickle may build.
    public var maxContainers: Int

    /// Creates limits; every value must be positive.
    public init(maxElements: Int, maxMemoEntries: Int, maxStackItems: Int, maxNesting: Int, maxContainers: Int) {
        precondition(maxElements > 0 && maxMemoEntries > 0 && maxStackItems > 0 && maxNesting > 0 && maxContainers > 0,
                     "checkpoint limits must be positive")
        self.maxElements = maxElements
        self.maxMemoEntries = maxMemoEntries
        self.maxStackItems = maxStackItems
        self.maxNesting = maxNesting
        self.maxContainers = maxContainers
    }

    /// Generous limits for real models: 1 G elements (4 GiB of Float), a 1 M-entry memo and
    /// stack, 1000 nested marks and 4 M containers.
    public static let `default` = CheckpointLimits(maxElements: 1 << 30, maxMemoEntries: 1 << 20,
                                                   maxStackItems: 1 << 20, maxNesting: 1000,
                                                   maxContainers: 1 << 22)
}

/// Reads model weights from any supported checkpoint file, detecting the format by its content.
///
/// Formats: safetensors; PyTorch's zip format (`torch.save` since 1.6); PyTorch's legacy format
/// (`_use_new_zipfile_serialization=False`, pre-1.6). Pickles are read by a restricted
/// unpickler that accepts only the globals a state dict needs and never executes anything.
///
/// The result is normalised: a dict that wraps the weights under `"state_dict"` or `"model"` is
/// unwrapped; a leading `module.` (DataParallel) is removed from every key; every dtype
/// (float32/16, bfloat16, float64, and integers such as `num_batches_tracked`, int64) is
/// converted to Float (integer buffers are kept, exact up to 2^24).
public enum Checkpoint {
    /// A checkpoint file format.
    public enum Format: String, Sendable, Equatable {
        /// The safetensors format.
        case safetensors
        /// PyTorch's zip format (`torch.save` since 1.6).
        case pytorchZip
        /// PyTorch's legacy pickle format (before 1.6).
        case pytorchLegacy
    }

    /// Reads every tensor of the checkpoint at `url`.
    ///
    /// The file is read into memory first (not kept mapped): a file that another process
    /// truncates while it is being read then shows up as a truncated checkpoint, never as a crash.
    public static func read(contentsOf url: URL, limits: CheckpointLimits = .default) throws -> StateDict {
        let name = url.lastPathComponent
        return try read(try contents(of: url), fileName: name, limits: limits)
    }

    /// Reads every tensor from the bytes of a checkpoint; `fileName` is used in error messages.
    public static func read(_ data: Data, fileName: String, limits: CheckpointLimits = .default) throws -> StateDict {
        guard let format = format(of: data) else {
            let head = data.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw CheckpointError(file: fileName, "is not a checkpoint: expected a PyTorch file (zip or legacy pickle) or a safetensors file, found the bytes [\(head)]")
        }
        let dict: StateDict
        switch format {
        case .safetensors:
            dict = try SafeTensors.read(data, fileName: fileName)
        case .pytorchZip, .pytorchLegacy:
            dict = try data.withUnsafeBytes { raw in
                let reader = TorchCheckpointReader(fileName: fileName, limits: limits)
                return format == .pytorchZip ? try reader.readZip(raw) : try reader.readLegacy(raw)
            }
        }
        return try strippingDataParallelPrefix(dict, fileName: fileName)
    }

    /// The format of a checkpoint, judged by its first bytes; nil when it is none of them.
    public static func format(of data: Data) -> Format? {
        let head = Array(data.prefix(9))
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .pytorchZip }
        if head.first == 0x80 { return .pytorchLegacy } // a pickle PROTO opcode
        if head.count == 9, head[8] == UInt8(ascii: "{") {
            let length = head[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            if length <= UInt64(data.count - 8) { return .safetensors }
        }
        return nil
    }

    /// The bytes of a file, read (copied) into memory with a clear error when that fails.
    static func contents(of url: URL) throws -> Data {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CheckpointError(file: url.lastPathComponent, "is a folder, not a checkpoint file")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw CheckpointError(file: url.lastPathComponent, "cannot be read (\(reason))")
        }
    }

    /// Removes a leading `module.` from every key, refusing two keys that become the same.
    static func strippingDataParallelPrefix(_ dict: StateDict, fileName: String) throws -> StateDict {
        guard dict.keys.contains(where: { $0.hasPrefix("module.") }) else { return dict }
        var result = StateDict()
        for key in dict.keys {
            guard let tensor = dict[key] else { continue }
            let stripped = key.hasPrefix("module.") ? String(key.dropFirst("module.".count)) : key
            guard result[stripped] == nil else {
                throw CheckpointError(file: fileName, "has both \"\(key)\" and another key that is \"\(stripped)\" once the DataParallel prefix \"module.\" is removed")
            }
            result.set(stripped, tensor)
        }
        return result
    }
}

/// Reads PyTorch's zip and legacy formats into a state dict.
struct TorchCheckpointReader {
    let fileName: String
    let limits: CheckpointLimits

    /// The magic number that opens a legacy checkpoint, as little-endian bytes.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    private func fail(_ problem: String) -> CheckpointError {
        CheckpointError(file: fileName, problem)
    }

    /// Reads the zip format: `<archive>/data.pkl` names storages stored as `<archive>/data/<key>`.
    func readZip(_ bytes: UnsafeRawBufferPointer) throws -> StateDict {
        let zip = try ZipArchive(bytes, fileName: fileName)
        guard let pickle = zip.entries.first(where: { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }) else {
            throw fail("is a zip archive without a data.pkl entry, so not a PyTorch checkpoint")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        if let order = zip.entry(named: prefix + "byteorder") {
            let range = try zip.dataRange(of: order)
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            guard text == "little" else { throw fail("stores its tensors in \"\(text)\" byte order; only little-endian checkpoints are read") }
        }
        let pickleRange = try zip.dataRange(of: pickle)
        var unpickler = Unpickler(fileName: fileName, limits: limits, allowsPersistentIDs: true)
        let (value, _) = try unpickler.load(UnsafeRawBufferPointer(rebasing: bytes[pickleRange]), from: 0)
        var ranges: [Range<Int>] = []
        for storage in unpickler.storages {
            guard let entry = zip.entry(named: prefix + "data/" + storage.key) else {
                throw fail("names storage \"\(storage.key)\" but has no entry \(prefix)data/\(storage.key)")
            }
            let range = try zip.dataRange(of: entry)
            let (needed, overflow) = storage.count.multipliedReportingOverflow(by: storage.type.width)
            guard !overflow, needed <= range.count else {
                throw fail("storage \"\(storage.key)\" claims \(storage.count) \(storage.type.rawValue) elements but its entry has \(range.count) bytes")
            }
            ranges.append(range.lowerBound ..< range.lowerBound + needed)
        }
        return try assemble(value, unpickler: unpickler, storageRanges: ranges, bytes: bytes)
    }

    /// Reads the legacy format: magic number, protocol version and system info pickles, the object
    /// pickle, the list of storage keys, then each storage as an int64 element count and its data.
    func readLegacy(_ bytes: UnsafeRawBufferPointer) throws -> StateDict {
        var header = Unpickler(fileName: fileName, limits: limits, allowsPersistentIDs: false)
        let (magic, afterMagic) = try header.load(bytes, from: 0)
        guard case .bigInt(let digits) = magic, digits == Self.legacyMagic else {
            throw fail("is a pickle but not a PyTorch checkpoint (its first value is not PyTorch's magic number)")
        }
        let (version, afterVersion) = try header.load(bytes, from: afterMagic)
        guard case .int(1001) = version else {
            throw fail("has legacy protocol version \(version) where 1001 was expected")
        }
        let (sysInfo, afterInfo) = try header.load(bytes, from: afterVersion)
        if case .dict(let d) = sysInfo, case .bool(false)? = header.dicts[d].value(forKey: "little_endian") {
            throw fail("was written on a big-endian machine; only little-endian checkpoints are read")
        }
        var unpickler = Unpickler(fileName: fileName, limits: limits, allowsPersistentIDs: true)
        let (value, afterObject) = try unpickler.load(bytes, from: afterInfo)
        var keyReader = Unpickler(fileName: fileName, limits: limits, allowsPersistentIDs: false)
        let (keyList, afterKeys) = try keyReader.load(bytes, from: afterObject)
        guard case .list(let l) = keyList else { throw fail("has \(keyList.kind) where the list of storage keys was expected") }

        var ranges = [Range<Int>?](repeating: nil, count: unpickler.storages.count)
        var position = afterKeys
        for item in keyReader.lists[l] {
            guard case .string(let key) = item else { throw fail("has a storage key that is \(item.kind), not a string") }
            guard let index = unpickler.storageIndex[key] else { throw fail("lists storage \"\(key)\" that no tensor uses") }
            let storage = unpickler.storages[index]
            guard bytes.count - position >= 8 else {
                throw fail("is truncated: the data of storage \"\(key)\" is missing (\(bytes.count - position) bytes remain)")
            }
            var count: UInt64 = 0
            for i in 0..<8 { count |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            guard count == UInt64(storage.count) else {
                throw fail("storage \"\(key)\" has \(count) elements in its data but \(storage.count) in its description")
            }
            let (needed, overflow) = storage.count.multipliedReportingOverflow(by: storage.type.width)
            guard !overflow, needed <= bytes.count - position else {
                let size = overflow ? "\(storage.count) × \(storage.type.width)" : "\(needed)"
                throw fail("is truncated: storage \"\(key)\" needs \(size) bytes but \(bytes.count - position) remain")
            }
            ranges[index] = position ..< position + needed
            position += needed
        }
        var complete: [Range<Int>] = []
        for (i, range) in ranges.enumerated() {
            guard let range else { throw fail("has no data for storage \"\(unpickler.storages[i].key)\"") }
            complete.append(range)
        }
        return try assemble(value, unpickler: unpickler, storageRanges: complete, bytes: bytes)
    }

    /// Finds the dict of tensors in the unpickled object and copies every tensor out of the file.
    private func assemble(_ value: PickleValue, unpickler: Unpickler, storageRanges: [Range<Int>],
                          bytes: UnsafeRawBufferPointer) throws -> StateDict {
        guard case .dict(var d) = value else {
            throw fail("holds \(value.kind), not a state dict (a dict of tensors)")
        }
        // Unwrap {"state_dict": {...}, "epoch": ...} and {"model": {...}} (at most twice).
        for _ in 0..<2 {
            let entries = unpickler.dicts[d].entries
            if entries.contains(where: { if case .tensor = $0.value { return true } else { return false } }) { break }
            if case .dict(let inner)? = unpickler.dicts[d].value(forKey: "state_dict") ?? unpickler.dicts[d].value(forKey: "model") {
                d = inner
            } else {
                break
            }
        }
        var result = StateDict()
        var total = 0
        for (key, value) in unpickler.dicts[d].entries {
            guard case .string(let name) = key else { throw fail("has a state dict key that is \(key.kind), not a string") }
            guard case .tensor(let t) = value else {
                throw fail("has \(value.kind) under \"\(name)\" where a tensor was expected")
            }
            let tensor = unpickler.tensors[t]
            total += tensor.elementCount
            guard total <= limits.maxElements else {
                throw fail("holds more than the limit of \(limits.maxElements) elements")
            }
            result.set(name, materialize(tensor, type: unpickler.storages[tensor.storage.root].type,
                                         storage: UnsafeRawBufferPointer(rebasing: bytes[storageRanges[tensor.storage.root]])))
        }
        guard result.count > 0 else { throw fail("holds no tensors") }
        return result
    }

    /// Copies a (possibly strided) tensor out of its storage into a contiguous Float tensor.
    /// The index range was validated against the storage when the tensor was unpickled, and the
    /// storage range against the file when it was located.
    private func materialize(_ t: TensorDescriptor, type: StorageElementType, storage: UnsafeRawBufferPointer) -> Tensor {
        let shape = t.shape
        let rank = shape.count
        return Tensor(shape: shape) { out in
            guard t.elementCount > 0, let base = out.baseAddress else { return }
            let start = t.storage.offset + t.offset
            guard rank > 0 else {
                type.decode(storage, start: start, stride: 1, count: 1, into: base)
                return
            }
            // A row-major contiguous tensor (sizes of 1 may have any stride) is one run.
            var expected = 1
            var contiguous = true
            for k in stride(from: rank - 1, through: 0, by: -1) where shape[k] != 1 {
                contiguous = contiguous && t.strides[k] == expected
                expected *= shape[k]
            }
            if contiguous {
                type.decode(storage, start: start, stride: 1, count: t.elementCount, into: base)
                return
            }
            // A strided view. When the elements it reaches are dense enough in the storage (a
            // permuted layout such as this model's channels-last convolution weights), decode
            // that span once and gather Floats; otherwise decode row by row.
            var span = 1
            for k in 0..<rank { span += (shape[k] - 1) * t.strides[k] }
            if span <= 4 * t.elementCount {
                let decoded = [Float](unsafeUninitializedCapacity: span) { buffer, initialized in
                    if let b = buffer.baseAddress { type.decode(storage, start: start, stride: 1, count: span, into: b) }
                    initialized = span
                }
                decoded.withUnsafeBufferPointer { source in
                    guard let src = source.baseAddress else { return }
                    Self.gather(from: src, shape: shape, strides: t.strides, count: t.elementCount, into: base)
                }
                return
            }
            let inner = shape[rank - 1]
            let innerStride = t.strides[rank - 1]
            var index = [Int](repeating: 0, count: rank - 1)
            var written = 0
            while written < t.elementCount {
                var element = start
                for k in 0..<(rank - 1) { element += index[k] * t.strides[k] }
                type.decode(storage, start: element, stride: innerStride, count: inner, into: base + written)
                written += inner
                var k = rank - 2
                while k >= 0 {
                    index[k] += 1
                    if index[k] < shape[k] { break }
                    index[k] = 0
                    k -= 1
                }
            }
        }
    }

    /// Copies `count` elements of a strided view (`shape`, `strides`, rank ≥ 1) of `source` into
    /// `out` in row-major order.
    private static func gather(from source: UnsafePointer<Float>, shape: [Int], strides: [Int], count: Int,
                               into out: UnsafeMutablePointer<Float>) {
        let rank = shape.count
        let inner = shape[rank - 1]
        let innerStride = strides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        var written = 0
        while written < count {
            var p = offset
            for i in 0..<inner {
                out[written + i] = source[p]
                p += innerStride
            }
            written += inner
            var k = rank - 2
            while k >= 0 {
                index[k] += 1
                offset += strides[k]
                if index[k] < shape[k] { break }
                offset -= strides[k] * shape[k]
                index[k] = 0
                k -= 1
            }
        }
    }
}
