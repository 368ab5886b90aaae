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
    /// The most elements that views may repeat beyond what their storages hold (a stride-0
    /// view of 2^30 elements over one stored float): 16 M, 64 MiB as Float.
    public var maxRepeatedElements = 1 << 24

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
    /// PyTorch files are read on demand with `pread` (the directory, the pickle, then each tensor
    /// straight into its own storage), not memory-mapped: a file that another process truncates
    /// while it is read shows up as a truncated checkpoint, never as a SIGBUS crash.
    ///
    /// `checkingShapes`, when given, sees every key and shape once the file's structure has
    /// been read and before any tensor is allocated; what it throws ends the read. A model
    /// loader checks the shapes against the architecture there, so that a checkpoint of another
    /// model is refused before its weights take memory.
    public static func read(contentsOf url: URL, limits: CheckpointLimits = .default,
                            checkingShapes: ((StateDictShapes) throws -> Void)? = nil) throws -> StateDict {
        let file = try FileCheckpointBytes(url: url)
        let head = try file.bytes(0 ..< min(file.count, 9))
        guard let format = format(ofPrefix: head, count: file.count) else { throw notACheckpoint(head, file.fileName) }
        if format == .safetensors {
            return try strippingDataParallelPrefix(try SafeTensors.read(file, checkingShapes: checkingShapes), fileName: file.fileName)
        }
        return try read(file, format: format, limits: limits, checkingShapes: checkingShapes)
    }

    /// Reads every tensor from the bytes of a checkpoint; `fileName` is used in error messages.
    public static func read(_ data: Data, fileName: String, limits: CheckpointLimits = .default) throws -> StateDict {
        let head = Array(data.prefix(9))
        guard let format = format(ofPrefix: head, count: data.count) else { throw notACheckpoint(head, fileName) }
        if format == .safetensors {
            return try strippingDataParallelPrefix(try SafeTensors.read(data, fileName: fileName), fileName: fileName)
        }
        return try read(MemoryCheckpointBytes(data: data, fileName: fileName), format: format, limits: limits)
    }

    /// Reads a PyTorch checkpoint from a byte source.
    private static func read(_ source: any CheckpointBytes, format: Format, limits: CheckpointLimits,
                             checkingShapes: ((StateDictShapes) throws -> Void)? = nil) throws -> StateDict {
        let reader = TorchCheckpointReader(source: source, limits: limits, checkingShapes: checkingShapes)
        let dict = format == .pytorchZip ? try reader.readZip() : try reader.readLegacy()
        return try strippingDataParallelPrefix(dict, fileName: source.fileName)
    }

    /// The format of a checkpoint, judged by its first bytes; nil when it is none of them.
    public static func format(of data: Data) -> Format? {
        format(ofPrefix: Array(data.prefix(9)), count: data.count)
    }

    /// The format judged from the first (up to 9) bytes of a file of `count` bytes.
    static func format(ofPrefix head: [UInt8], count: Int) -> Format? {
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .pytorchZip }
        // safetensors before pickles: a header of 128 (or 384, ...) bytes also starts with 0x80.
        if head.count == 9, head[8] == UInt8(ascii: "{") {
            let length = head[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            if length <= UInt64(count - 8) { return .safetensors }
        }
        if head.first == 0x80 { return .pytorchLegacy } // a pickle PROTO opcode
        return nil
    }

    private static func notACheckpoint(_ head: [UInt8], _ fileName: String) -> CheckpointError {
        let hex = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        return CheckpointError(file: fileName, "is not a checkpoint: expected a PyTorch file (zip or legacy pickle) or a safetensors file, found the bytes [\(hex)]")
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
    let source: any CheckpointBytes
    let limits: CheckpointLimits
    /// Sees every key and shape before any tensor is materialised (see `Checkpoint.read`).
    var checkingShapes: ((StateDictShapes) throws -> Void)?

    /// The magic number that opens a legacy checkpoint, as little-endian bytes.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    private func fail(_ problem: String) -> CheckpointError {
        CheckpointError(file: source.fileName, problem)
    }

    /// Reads the zip format: `<archive>/data.pkl` names storages stored as `<archive>/data/<key>`.
    func readZip() throws -> StateDict {
        let zip = try ZipArchive(source)
        guard let pickle = zip.entries.first(where: { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }) else {
            throw fail("is a zip archive without a data.pkl entry, so not a PyTorch checkpoint")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        if let order = zip.entry(named: prefix + "byteorder") {
            let text = String(decoding: try source.bytes(try zip.dataRange(of: order)), as: UTF8.self)
            guard text == "little" else { throw fail("stores its tensors in \"\(text)\" byte order; only little-endian checkpoints are read") }
        }
        let pickleBytes = try source.bytes(try zip.dataRange(of: pickle))
        var unpickler = Unpickler(fileName: source.fileName, limits: limits, allowsPersistentIDs: true)
        let (value, _) = try pickleBytes.withUnsafeBytes { try unpickler.load($0, from: 0) }
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
        return try assemble(value, unpickler: unpickler, storageRanges: ranges)
    }

    /// The pickles at the start of a legacy file, parsed.
    private struct LegacyPickles {
        var object: Unpickler
        var value: PickleValue
        var keys: [PickleValue]
        var end: Int
    }

    /// Reads the legacy format: magic number, protocol version and system info pickles, the object
    /// pickle, the list of storage keys, then each storage as an int64 element count and its data.
    func readLegacy() throws -> StateDict {
        // The pickles come first and are small next to the storages: parse a prefix of the file,
        // and a longer one only if they do not fit in it.
        var prefixLength = min(source.count, 1 << 20)
        var pickles: LegacyPickles
        while true {
            let prefix = try source.bytes(0 ..< prefixLength)
            do {
                pickles = try prefix.withUnsafeBytes { try parseLegacyPickles($0) }
                break
            } catch is CheckpointError where prefixLength < source.count {
                prefixLength = min(source.count, prefixLength * 8)
            }
        }
        let unpickler = pickles.object
        var ranges = [Range<Int>?](repeating: nil, count: unpickler.storages.count)
        var position = pickles.end
        for item in pickles.keys {
            guard case .string(let key) = item else { throw fail("has a storage key that is \(item.kind), not a string") }
            guard let index = unpickler.storageIndex[key] else { throw fail("lists storage \"\(key)\" that no tensor uses") }
            let storage = unpickler.storages[index]
            guard source.count - position >= 8 else {
                throw fail("is truncated: the data of storage \"\(key)\" is missing (\(source.count - position) bytes remain)")
            }
            let header = try source.bytes(position ..< position + 8)
            let count = header.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            position += 8
            guard count == UInt64(storage.count) else {
                throw fail("storage \"\(key)\" has \(count) elements in its data but \(storage.count) in its description")
            }
            let (needed, overflow) = storage.count.multipliedReportingOverflow(by: storage.type.width)
            guard !overflow, needed <= source.count - position else {
                let size = overflow ? "\(storage.count) × \(storage.type.width)" : "\(needed)"
                throw fail("is truncated: storage \"\(key)\" needs \(size) bytes but \(source.count - position) remain")
            }
            ranges[index] = position ..< position + needed
            position += needed
        }
        var complete: [Range<Int>] = []
        for (i, range) in ranges.enumerated() {
            guard let range else { throw fail("has no data for storage \"\(unpickler.storages[i].key)\"") }
            complete.append(range)
        }
        return try assemble(pickles.value, unpickler: unpickler, storageRanges: complete)
    }

    /// Parses the five pickles of a legacy file from (a prefix of) its bytes.
    private func parseLegacyPickles(_ bytes: UnsafeRawBufferPointer) throws -> LegacyPickles {
        var header = Unpickler(fileName: source.fileName, limits: limits, allowsPersistentIDs: false)
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
        var unpickler = Unpickler(fileName: source.fileName, limits: limits, allowsPersistentIDs: true)
        let (value, afterObject) = try unpickler.load(bytes, from: afterInfo)
        var keyReader = Unpickler(fileName: source.fileName, limits: limits, allowsPersistentIDs: false)
        let (keyList, afterKeys) = try keyReader.load(bytes, from: afterObject)
        guard case .list(let l) = keyList else { throw fail("has \(keyList.kind) where the list of storage keys was expected") }
        return LegacyPickles(object: unpickler, value: value, keys: keyReader.lists[l], end: afterKeys)
    }

    /// Finds the dict of tensors in the unpickled object and copies every tensor out of the file.
    private func assemble(_ value: PickleValue, unpickler: Unpickler, storageRanges: [Range<Int>]) throws -> StateDict {
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
        var listed: [(name: String, tensor: TensorDescriptor)] = []
        var total = 0
        // Elements that views repeat beyond what their storage holds (stride 0, overlapping
        // strides): a 636-byte file once claimed a 2^30-element view and cost 4 GiB. Every
        // other element is a distinct stored one, so the copies take at most 4 × the file (for
        // one-byte dtypes) plus this allowance.
        var repeated = 0
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
            let type = unpickler.storages[tensor.storage.root].type
            let stored = storageRanges[tensor.storage.root].count / Swift.max(type.width, 1)
            if tensor.elementCount > stored {
                repeated += tensor.elementCount - stored
                guard repeated <= limits.maxRepeatedElements else {
                    throw fail("has a tensor \"\(name)\" of shape \(tensor.shape) (\(tensor.elementCount) elements) that is a view of "
                               + "a storage of only \(stored) elements (strides \(tensor.strides)); views that repeat more than "
                               + "\(limits.maxRepeatedElements) elements in all are refused, since they would take far more memory than the file holds")
                }
            }
            listed.append((name, tensor))
        }
        guard !listed.isEmpty else { throw fail("holds no tensors") }
        if let checkingShapes {
            var listing = StateDictShapes()
            for (name, tensor) in listed { listing.set(name, tensor.shape) }
            try checkingShapes(listing)
        }
        var result = StateDict()
        for (name, tensor) in listed {
            let type = unpickler.storages[tensor.storage.root].type
            result.set(name, try materialize(tensor, type: type, storage: storageRanges[tensor.storage.root]))
        }
        return result
    }

    /// Copies a (possibly strided) tensor out of its storage, the byte range `storage` of the
    /// source, into a contiguous Float tensor. The tensor's index range was validated against the
    /// storage when it was unpickled, and the storage's range against the file when it was located.
    private func materialize(_ t: TensorDescriptor, type: StorageElementType, storage: Range<Int>) throws -> Tensor {
        let shape = t.shape
        let rank = shape.count
        guard t.elementCount > 0 else { return Tensor(shape: shape) }
        let first = t.storage.offset + t.offset
        var span = 1
        for k in 0..<rank { span += (shape[k] - 1) * t.strides[k] }
        let byteStart = storage.lowerBound + first * type.width
        // A row-major contiguous tensor (sizes of 1 may have any stride) is one run.
        var expected = 1
        var contiguous = true
        for k in stride(from: rank - 1, through: 0, by: -1) where shape[k] != 1 {
            contiguous = contiguous && t.strides[k] == expected
            expected *= shape[k]
        }
        var failure: Error?
        #if _endian(little)
        if contiguous, type == .float32 {
            // The common case: read the little-endian floats straight into the tensor.
            let tensor = Tensor(shape: shape) { out in
                do {
                    try source.read(at: byteStart, into: UnsafeMutableRawBufferPointer(out))
                } catch {
                    out.initialize(repeating: 0)
                    failure = error
                }
            }
            if let failure { throw failure }
            return tensor
        }
        #endif
        let raw = try source.bytes(byteStart ..< byteStart + span * type.width)
        return raw.withUnsafeBytes { bytes in
            Tensor(shape: shape) { out in
                guard let base = out.baseAddress else { return }
                if contiguous {
                    type.decode(bytes, start: 0, stride: 1, count: t.elementCount, into: base)
                } else if span <= 4 * t.elementCount {
                    // Dense in its storage (a permuted layout such as this model's channels-last
                    // convolution weights): decode the span once, then gather Floats.
                    let decoded = [Float](unsafeUninitializedCapacity: span) { buffer, initialized in
                        if let b = buffer.baseAddress { type.decode(bytes, start: 0, stride: 1, count: span, into: b) }
                        initialized = span
                    }
                    decoded.withUnsafeBufferPointer { source in
                        guard let src = source.baseAddress else { return }
                        Self.gather(from: src, shape: shape, strides: t.strides, count: t.elementCount, into: base)
                    }
                } else {
                    Self.decodeRows(bytes, type: type, shape: shape, strides: t.strides, count: t.elementCount, into: base)
                }
            }
        }
    }

    /// Copies `count` elements of a strided view (`shape`, `strides`, rank ≥ 1) of `source` into
    /// `out` in row-major order.
    private static func gather(from source: UnsafePointer<Float>, shape: [Int], strides: [Int], count: Int,
                               into out: UnsafeMutablePointer<Float>) {
        let inner = shape[shape.count - 1], innerStride = strides[strides.count - 1]
        forEachRow(shape: shape, strides: strides, count: count) { offset, written in
            var p = offset
            for i in 0..<inner {
                out[written + i] = source[p]
                p += innerStride
            }
        }
    }

    /// Decodes a sparse strided view row by row, straight from the raw storage bytes.
    private static func decodeRows(_ bytes: UnsafeRawBufferPointer, type: StorageElementType, shape: [Int],
                                   strides: [Int], count: Int, into out: UnsafeMutablePointer<Float>) {
        let inner = shape[shape.count - 1], innerStride = strides[strides.count - 1]
        forEachRow(shape: shape, strides: strides, count: count) { offset, written in
            type.decode(bytes, start: offset, stride: innerStride, count: inner, into: out + written)
        }
    }

    /// Calls `body(offset, written)` for each innermost row of a strided view in row-major order:
    /// `offset` is the row's first element in the storage, `written` the number of elements
    /// before it in the output. The outer indices advance like an odometer.
    private static func forEachRow(shape: [Int], strides: [Int], count: Int, _ body: (Int, Int) -> Void) {
        let rank = shape.count
        let inner = shape[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        var written = 0
        while written < count {
            body(offset, written)
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
