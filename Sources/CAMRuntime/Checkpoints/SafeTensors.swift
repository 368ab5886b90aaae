import Foundation

/// Reads and writes the `.safetensors` format: an 8-byte little-endian header length, a JSON
/// header `{name: {dtype, shape, data_offsets: [begin, end]}}`, then the raw little-endian data.
///
/// Every size and offset is validated against the file before anything is allocated, so a
/// hostile header cannot make the reader allocate or read out of bounds: each tensor must fill
/// its own byte range exactly and no two ranges may overlap, so all tensors together hold at
/// most the file's bytes (as Float32, at most 4 × the file for one-byte dtypes).
public enum SafeTensors {
    /// The largest header accepted (the reference implementation's limit is 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// Reads every tensor of a file, converting F16 and BF16 (and integer types) to Float32.
    ///
    /// The header and then each tensor are read with `pread`, straight into the tensors (no
    /// mapping, so a file truncated while it is read is refused, not a crash).
    public static func read(contentsOf url: URL) throws -> StateDict {
        try read(try FileCheckpointBytes(url: url))
    }

    /// Reads every tensor from the bytes of a file; `fileName` is used in error messages.
    public static func read(_ data: Data, fileName name: String) throws -> StateDict {
        try read(MemoryCheckpointBytes(data: data, fileName: name))
    }

    /// Reads every tensor from a byte source.
    static func read(_ source: any CheckpointBytes, checkingShapes: ((StateDictShapes) throws -> Void)? = nil) throws -> StateDict {
        let name = source.fileName
        guard source.count >= 8 else {
            throw CheckpointError(file: name, "is too short to be a safetensors file (\(source.count) bytes)")
        }
        let headerLength = try source.bytes(0 ..< 8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(maxHeaderBytes), headerLength <= UInt64(source.count - 8) else {
            throw CheckpointError(file: name, "safetensors header claims \(headerLength) bytes but the file has \(source.count)")
        }
        let headerEnd = 8 + Int(headerLength)
        let entries: [SafeTensorsHeader.Entry]
        do {
            entries = try SafeTensorsHeader.parse(try source.bytes(8 ..< headerEnd))
        } catch let failure as SafeTensorsHeader.Failure {
            throw CheckpointError(file: name, "safetensors header: " + failure.reason)
        }
        let payload = source.count - headerEnd
        var parsed: [(key: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        parsed.reserveCapacity(entries.count)
        for entry in entries {
            guard entry.begin <= payload, entry.end <= payload else {
                throw CheckpointError(file: name, "tensor \"\(entry.key)\" has data offsets outside the file")
            }
            parsed.append((entry.key, entry.dtype, entry.shape, entry.begin, entry.end))
        }
        // File order; a zero-length tensor sorts before a tensor that starts where it does.
        parsed.sort { ($0.begin, $0.end, $0.key) < ($1.begin, $1.end, $1.key) }
        // Validate every entry before allocating anything. Each tensor must fill its byte range
        // exactly, and the ranges must not overlap (as the reference implementation requires):
        // so the tensors together hold at most the file's payload, and the Float32 copies at
        // most 4 × that (for one-byte dtypes). Without the overlap check, a header could point
        // thousands of entries at the same bytes and claim thousands of times the file.
        var checked: [(key: String, dtype: String, shape: [Int], begin: Int, count: Int, width: Int)] = []
        var previous: (key: String, begin: Int, end: Int)?
        for entry in parsed {
            guard let width = elementWidth(entry.dtype) else {
                throw CheckpointError(file: name, "tensor \"\(entry.key)\" has unsupported dtype \(entry.dtype) (F32, F16, BF16, F64 and integers are read)")
            }
            let (count, overflow) = entry.shape.reduce((1, false)) { acc, n in
                let (m, o) = acc.0.multipliedReportingOverflow(by: n)
                return (m, acc.1 || o)
            }
            guard !overflow, entry.end >= entry.begin,
                  count.multipliedReportingOverflow(by: width).partialValue == entry.end - entry.begin,
                  !count.multipliedReportingOverflow(by: width).overflow else {
                throw CheckpointError(file: name, "tensor \"\(entry.key)\" of shape \(entry.shape) and dtype \(entry.dtype) does not fit its data offsets [\(entry.begin), \(entry.end)]")
            }
            if entry.end > entry.begin {  // an empty tensor has no bytes to share
                if let previous, entry.begin < previous.end {
                    throw CheckpointError(file: name, "tensor \"\(entry.key)\" (data offsets [\(entry.begin), \(entry.end)]) overlaps tensor \"\(previous.key)\" ([\(previous.begin), \(previous.end)]): each tensor must have its own bytes")
                }
                previous = (entry.key, entry.begin, entry.end)
            }
            checked.append((entry.key, entry.dtype, entry.shape, entry.begin, count, width))
        }
        if let checkingShapes {
            var listing = StateDictShapes()
            for entry in checked { listing.set(entry.key, entry.shape) }
            try checkingShapes(listing)
        }
        var result = StateDict()
        for entry in checked {
            let (count, width) = (entry.count, entry.width)
            let start = headerEnd + entry.begin
            #if _endian(little)
            if entry.dtype == "F32" {
                // Read the little-endian floats straight into the tensor.
                var failure: Error?
                let tensor = Tensor(shape: entry.shape) { out in
                    do {
                        try source.read(at: start, into: UnsafeMutableRawBufferPointer(out))
                    } catch {
                        out.initialize(repeating: 0)
                        failure = error
                    }
                }
                if let failure { throw failure }
                result.set(entry.key, tensor)
                continue
            }
            #endif
            let values = try source.bytes(start ..< start + count * width).withUnsafeBytes { raw in
                decode(raw, dtype: entry.dtype, count: count)
            }
            result.set(entry.key, Tensor(shape: entry.shape, storage: values))
        }
        return result
    }

    /// Writes tensors as F32 safetensors through `AtomicFile`, so that a failed write leaves
    /// the previous file and no temporary file.
    /// - Throws: `FileIOError` when the file cannot be written.
    public static func write(_ dict: StateDict, to url: URL) throws {
        try AtomicFile.write(encode(dict), to: url.path)
    }

    /// The bytes of an F32 safetensors file holding the tensors, in the state dict's order.
    public static func encode(_ dict: StateDict) -> Data {
        var header = "{"
        var offset = 0
        for (i, key) in dict.keys.enumerated() {
            guard let t = dict[key] else { continue }
            let bytes = t.count * 4
            let escaped = key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            header += (i > 0 ? "," : "") + "\"\(escaped)\":{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        while header.utf8.count % 8 != 0 { header += " " }
        var out = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        for key in dict.keys {
            guard let t = dict[key] else { continue }
            t.storage.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    private static func elementWidth(_ dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "F64", "I64", "U64": return 8
        case "I8", "U8", "BOOL": return 1
        default: return nil
        }
    }

    private static func decode(_ raw: UnsafeRawBufferPointer, dtype: String, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            for i in 0..<count {
                switch dtype {
                case "F32": out[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
                case "F16": out[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian))
                case "BF16": out[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
                case "F64": out[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian))
                case "I64": out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                case "U64": out[i] = Float(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                case "I32": out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case "U32": out[i] = Float(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case "I16": out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case "U16": out[i] = Float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case "I8": out[i] = Float(raw.load(fromByteOffset: i, as: Int8.self))
                default: out[i] = Float(raw.load(fromByteOffset: i, as: UInt8.self))
                }
            }
            initialized = count
        }
    }
}
