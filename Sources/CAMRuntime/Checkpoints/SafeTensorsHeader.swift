/// The JSON header of a safetensors file, parsed straight into its entries.
///
/// Foundation's `JSONSerialization` builds a dictionary object per tensor: a 99 MB header of
/// 1.5 million entries (within safetensors' own 100 MB limit) took 44 s and 6 GB. This parser
/// reads the one shape the format allows — an object of `name: {dtype, shape, data_offsets}`
/// and an optional `__metadata__` object of strings — in one pass over the bytes, keeping only
/// the entries themselves, so memory stays proportional to the header. It is strict JSON
/// (RFC 8259) where it reads values, and skips unknown members of an entry whatever they hold,
/// iteratively, so no nesting can exhaust the stack.
struct SafeTensorsHeader {
    /// One tensor's header entry.
    struct Entry {
        var key: String
        var dtype: String
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// Why the header was refused, as a phrase for `CheckpointError`.
    struct Failure: Error {
        var reason: String
    }

    /// The tensor entries in the order they appear.
    private(set) var entries: [Entry] = []

    /// The header's bytes, valid only while `parse` runs (a buffer pointer rather than an
    /// array: no reference counting on every byte read).
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Parses `bytes` into its tensor entries, in order; throws `Failure` naming the first
    /// problem and its byte offset.
    static func parse(_ bytes: [UInt8]) throws -> [Entry] {
        try bytes.withUnsafeBufferPointer { buffer in
            var parser = SafeTensorsHeader(buffer)
            try parser.parseTop()
            return parser.entries
        }
    }

    // MARK: Structure

    private mutating func parseTop() throws {
        skipSpace()
        var seen = Set<String>()
        try members(of: "the header") { parser, key, keyOffset in
            guard seen.insert(key).inserted else {
                throw Failure(reason: "tensor \"\(key)\" appears twice in the header (byte \(keyOffset))")
            }
            if key == "__metadata__" {
                try parser.skipValue()
            } else {
                parser.entries.append(try parser.entry(key))
            }
        }
        skipSpace()
        guard index == bytes.count else { throw Failure(reason: "unexpected bytes after the header's JSON object (byte \(index))") }
    }

    /// Reads an object whose `{` is next, calling `member` for each name (with its byte offset)
    /// once the `:` after it is read; `member` must read the value.
    /// `what` names the object in messages; it is built only when one is needed (an entry's
    /// name interpolated for each of 1.5 M entries cost a tenth of the parse).
    private mutating func members(of what: @autoclosure () -> String,
                                  _ member: (inout SafeTensorsHeader, String, Int) throws -> Void) throws {
        try expect(UInt8(ascii: "{"), "\(what()) must be a JSON object")
        skipSpace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipSpace()
            let offset = index
            let name = try string()
            skipSpace()
            try expect(UInt8(ascii: ":"), "expected `:` after a name in \(what())")
            skipSpace()
            try member(&self, name, offset)
            skipSpace()
            if peek() == UInt8(ascii: ",") {
                index += 1
                continue
            }
            try expect(UInt8(ascii: "}"), "expected `,` or `}` in \(what())")
            return
        }
    }

    private mutating func entry(_ key: String) throws -> Entry {
        let start = index
        var dtype: String?, shape: [Int]?, offsets: [Int]?
        try members(of: "tensor \"\(key)\"'s header entry") { parser, member, _ in
            switch member {
            case "dtype": dtype = try parser.string()
            case "shape": shape = try parser.integers(key)
            case "data_offsets": offsets = try parser.integers(key)
            default: try parser.skipValue()
            }
        }
        guard let dtype, let shape, let offsets, offsets.count == 2 else {
            throw Failure(reason: "tensor \"\(key)\" has a malformed header entry (byte \(start)): it needs dtype, shape and two data_offsets")
        }
        return Entry(key: key, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    /// An array of non-negative integers that fit in an `Int`.
    private mutating func integers(_ key: String) throws -> [Int] {
        try expect(UInt8(ascii: "["), "tensor \"\(key)\" has a malformed header entry: expected an array of integers")
        var values: [Int] = []
        skipSpace()
        if peek() == UInt8(ascii: "]") { index += 1; return values }
        while true {
            skipSpace()
            let start = index
            var value = 0
            while let c = peek(), c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
                guard !o1, !o2 else { throw Failure(reason: "tensor \"\(key)\" has a number too large (byte \(start))") }
                value = plus
                index += 1
            }
            guard index > start, !(index - start > 1 && bytes[start] == UInt8(ascii: "0")) else {
                throw Failure(reason: "tensor \"\(key)\" has an invalid shape or offset: expected a non-negative integer (byte \(start))")
            }
            values.append(value)
            skipSpace()
            if peek() == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "]"), "tensor \"\(key)\" has a malformed array: expected `,` or `]`")
            return values
        }
    }

    // MARK: Values

    /// Skips one JSON value of any kind, with a depth counter instead of recursion.
    private mutating func skipValue() throws {
        var closers: [UInt8] = []
        var expectValue = true
        while true {
            skipSpace()
            if expectValue {
                guard let c = peek() else { throw Failure(reason: "the header ends inside a value") }
                switch c {
                case UInt8(ascii: "{"):
                    index += 1
                    closers.append(UInt8(ascii: "}"))
                    skipSpace()
                    if peek() == UInt8(ascii: "}") { index += 1; closers.removeLast(); expectValue = false; break }
                    try skipString()
                    skipSpace()
                    try expect(UInt8(ascii: ":"), "expected `:` in an object")
                    continue
                case UInt8(ascii: "["):
                    index += 1
                    closers.append(UInt8(ascii: "]"))
                    skipSpace()
                    if peek() == UInt8(ascii: "]") { index += 1; closers.removeLast(); expectValue = false; break }
                    continue
                case UInt8(ascii: "\""):
                    try skipString()
                case UInt8(ascii: "t"): try literal("true")
                case UInt8(ascii: "f"): try literal("false")
                case UInt8(ascii: "n"): try literal("null")
                default: try number()
                }
                expectValue = false
            }
            skipSpace()
            guard let closer = closers.last else { return }
            if peek() == UInt8(ascii: ",") {
                index += 1
                if closer == UInt8(ascii: "}") {
                    skipSpace()
                    try skipString()
                    skipSpace()
                    try expect(UInt8(ascii: ":"), "expected `:` in an object")
                }
                expectValue = true
            } else {
                try expect(closer, "expected `,` or `\(Character(Unicode.Scalar(closer)))`")
                closers.removeLast()
            }
        }
    }

    private mutating func literal(_ word: String) throws {
        for c in word.utf8 {
            guard peek() == c else { throw Failure(reason: "invalid JSON value (byte \(index))") }
            index += 1
        }
    }

    private mutating func number() throws {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        var digits = 0
        while let c = peek(), isNumberByte(c) {
            index += 1
            digits += 1
        }
        guard digits > 0 else { throw Failure(reason: "invalid JSON value (byte \(start))") }
    }

    private func isNumberByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
            || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
    }

    /// A JSON string, with its escapes decoded (surrogate pairs joined; a lone surrogate, a
    /// control character or invalid UTF-8 is refused).
    private mutating func string() throws -> String {
        let start = index
        try expect(UInt8(ascii: "\""), "expected a string")
        // The usual string (a tensor name, a dtype) has no escape: made straight from its
        // bytes, without the scalar-by-scalar path below (a third of a 1.5 M-entry parse).
        var end = index
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 {
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            guard let text = String(validating: bytes[index ..< end], as: UTF8.self) else {
                throw Failure(reason: "a string in the header is not valid UTF-8 (byte \(start))")
            }
            index = end + 1
            return text
        }
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flushRun(_ end: Int) throws {
            guard end > runStart else { return }
            guard let text = String(validating: bytes[runStart ..< end], as: UTF8.self) else {
                throw Failure(reason: "a string in the header is not valid UTF-8 (byte \(start))")
            }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard let c = peek() else { throw Failure(reason: "the header ends inside a string (byte \(start))") }
            if c == UInt8(ascii: "\"") {
                try flushRun(index)
                index += 1
                return String(scalars)
            }
            guard c >= 0x20 else { throw Failure(reason: "a control character inside a string (byte \(index))") }
            if c != UInt8(ascii: "\\") { index += 1; continue }
            try flushRun(index)
            index += 1
            guard let e = peek() else { throw Failure(reason: "the header ends inside a string (byte \(start))") }
            index += 1
            switch e {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{8}")
            case UInt8(ascii: "f"): scalars.append("\u{C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800 ..< 0xDC00).contains(code) {
                    guard peek() == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                        throw Failure(reason: "a lone surrogate in a string (byte \(index))")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00 ..< 0xE000).contains(low) else { throw Failure(reason: "a lone surrogate in a string (byte \(index))") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw Failure(reason: "a lone surrogate in a string (byte \(index))") }
                scalars.append(scalar)
            default:
                throw Failure(reason: "an invalid escape in a string (byte \(index - 2))")
            }
            runStart = index
        }
    }

    /// Steps over a string that is not kept (metadata), checking only where it ends: a
    /// 99 MB metadata value costs one pass and no copy.
    private mutating func skipString() throws {
        let start = index
        try expect(UInt8(ascii: "\""), "expected a string")
        while let c = peek() {
            index += 1
            if c == UInt8(ascii: "\"") { return }
            guard c >= 0x20 else { throw Failure(reason: "a control character inside a string (byte \(index - 1))") }
            if c == UInt8(ascii: "\\") {
                guard peek() != nil else { break }
                index += 1
            }
        }
        throw Failure(reason: "the header ends inside a string (byte \(start))")
    }

    private mutating func hex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0 ..< 4 {
            guard let c = peek(), let digit = Character(Unicode.Scalar(c)).hexDigitValue else {
                throw Failure(reason: "an invalid \\u escape in a string (byte \(index))")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    // MARK: Bytes

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let c = peek(), c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 }
    }

    /// Steps over `byte`, or throws `reason` (built only then: messages name entries, and
    /// building one per call cost a tenth of a 1.5 M-entry parse).
    private mutating func expect(_ byte: UInt8, _ reason: @autoclosure () -> String) throws {
        guard peek() == byte else {
            throw Failure(reason: reason() + " (byte \(index))")
        }
        index += 1
    }
}
