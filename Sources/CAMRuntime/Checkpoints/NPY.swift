import Foundation

/// Reads and writes NumPy `.npy` files (format versions 1–3, little-endian, C order).
public enum NPY {
    /// The bytes of a `.npy` file holding `tensor` as little-endian float32.
    public static func encode(_ tensor: Tensor) -> Data {
        let shapeText: String
        switch tensor.shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(tensor.shape[0]),)"
        default: shapeText = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        tensor.withUnsafeBufferPointer { buffer in
            for value in buffer {
                let bits = value.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    /// Decodes a `.npy` file into a float32 tensor (float16/32/64, signed and unsigned integer
    /// and bool arrays are converted); `name` is used in error messages.
    public static func decode(_ data: Data, name: String) throws -> Tensor {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw RuntimeError("\(name) is not a NumPy .npy file (it does not start with \\x93NUMPY)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw RuntimeError("\(name): truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw RuntimeError("\(name): unsupported .npy format version \(major) (expected 1, 2 or 3)")
        }
        guard headerStart + headerLength <= bytes.count,
              let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw RuntimeError("\(name): truncated .npy header")
        }
        guard let descr = field("descr", in: header), let shapeText = field("shape", in: header) else {
            throw RuntimeError("\(name): the .npy header lacks 'descr' or 'shape': \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        if field("fortran_order", in: header) == "True" {
            throw RuntimeError("\(name): Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)")
        }
        let dtype = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        let shapeParts = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard shapeParts.count <= 64 else {
            throw RuntimeError("\(name): \(shapeParts.count) dimensions is too many (at most 64)")
        }
        var shape: [Int] = []
        for part in shapeParts {
            guard let n = Int(part), n >= 0 else { throw RuntimeError("\(name): invalid shape \(shapeText) in the .npy header") }
            shape.append(n)
        }
        var count = 1
        for n in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow else { throw RuntimeError("\(name): shape \(shapeText) is too large") }
            count = product
        }
        let width: Int
        let convert: (UnsafeRawBufferPointer, Int) -> Float
        switch dtype {
        case "<f4": width = 4; convert = { Float(bitPattern: $0.loadUnaligned(fromByteOffset: $1 * 4, as: UInt32.self).littleEndian) }
        case "<f8": width = 8; convert = { Float(Double(bitPattern: $0.loadUnaligned(fromByteOffset: $1 * 8, as: UInt64.self).littleEndian)) }
        case "<f2": width = 2; convert = { Float(Float16(bitPattern: $0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self).littleEndian)) }
        case "<i8": width = 8; convert = { Float(Int64(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 8, as: Int64.self))) }
        case "<i4": width = 4; convert = { Float(Int32(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 4, as: Int32.self))) }
        case "|u1", "<u1": width = 1; convert = { Float($0[$1]) }
        case "|i1", "<i1": width = 1; convert = { Float(Int8(bitPattern: $0[$1])) }
        case "|b1": width = 1; convert = { $0[$1] == 0 ? 0 : 1 }
        default:
            throw RuntimeError("\(name): unsupported .npy element type \(dtype) (supported: <f4 <f8 <f2 <i8 <i4 |u1 |i1 |b1; big-endian is not)")
        }
        let start = headerStart + headerLength
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, bytes.count - start >= byteCount else {
            throw RuntimeError("\(name): the .npy data is truncated: shape \(shapeText) needs \(overflow ? "too many" : String(byteCount)) bytes, found \(bytes.count - start)")
        }
        let storage = bytes[start..<(start + count * width)].withUnsafeBytes { raw in
            (0..<count).map { convert(raw, $0) }
        }
        return Tensor(shape: shape, storage: storage)
    }

    /// The text of `'key': value` in a NumPy header dictionary (tuples kept whole).
    private static func field(_ key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        var rest = header[keyRange.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return String(rest[..<end]).trimmingCharacters(in: .whitespaces)
    }
}
