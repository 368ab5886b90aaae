/// A read-only view of a ZIP archive's STORED entries, as `torch.save` writes them.
///
/// Reads the central directory (with ZIP64 end records and extra fields), then each entry's local
/// header; every offset and size is checked against the archive before it is used. Compressed
/// or encrypted entries are listed but refused when their data is asked for.
struct ZipArchive {
    /// One file of the archive.
    struct Entry {
        var name: String
        /// The compression method (0 = STORED).
        var method: UInt16
        var flags: UInt16
        /// Where the entry's data starts in the archive.
        var dataOffset: Int
        var compressedSize: Int
        var size: Int
    }

    let fileName: String
    private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    private static let endOfCentralDirectory: UInt32 = 0x0605_4B50
    private static let zip64EndLocator: UInt32 = 0x0706_4B50
    private static let zip64End: UInt32 = 0x0606_4B50
    private static let centralHeader: UInt32 = 0x0201_4B50
    private static let localHeader: UInt32 = 0x0403_4B50

    /// Parses the directory of the archive in `source`, reading only the end records, the central
    /// directory and the local headers.
    init(_ source: any CheckpointBytes) throws {
        fileName = source.fileName
        let n = source.count
        let fileName = source.fileName
        func fail(_ problem: String) -> CheckpointError {
            CheckpointError(file: fileName, "is a corrupt zip archive: \(problem)")
        }
        func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
        func u32(_ b: [UInt8], _ at: Int) -> Int { u16(b, at) | u16(b, at + 2) << 16 }
        func u64(_ b: [UInt8], _ at: Int) throws -> Int {
            let v = UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32
            guard v <= UInt64(Int.max) else { throw fail("a 64-bit size or offset is out of range") }
            return Int(v)
        }

        // The end-of-central-directory record: 22 bytes plus a comment of up to 65535 bytes.
        guard n >= 22 else { throw fail("\(n) bytes are too few for the end-of-directory record") }
        let tailStart = max(0, n - 22 - 65_535)
        let tail = try source.bytes(tailStart ..< n)
        var found = -1
        var candidate = tail.count - 22
        while candidate >= 0 {
            if u32(tail, candidate) == Self.endOfCentralDirectory, candidate + 22 + u16(tail, candidate + 20) == tail.count {
                found = candidate
                break
            }
            candidate -= 1
        }
        guard found >= 0 else { throw fail("the end-of-directory record is missing (the file may be truncated)") }
        let eocd = tailStart + found
        var entryCount = u16(tail, found + 10)
        var directorySize = u32(tail, found + 12)
        var directoryOffset = u32(tail, found + 16)
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            guard eocd >= 20 else { throw fail("the ZIP64 end-of-directory locator is missing") }
            let locator = try source.bytes(eocd - 20 ..< eocd)
            guard u32(locator, 0) == Self.zip64EndLocator else { throw fail("the ZIP64 end-of-directory locator is missing") }
            let at = try u64(locator, 8)
            guard n >= 56, at <= n - 56 else { throw fail("the ZIP64 end-of-directory record is outside the file or malformed") }
            let record = try source.bytes(at ..< at + 56)
            guard u32(record, 0) == Self.zip64End else { throw fail("the ZIP64 end-of-directory record is outside the file or malformed") }
            entryCount = try u64(record, 32)
            directorySize = try u64(record, 40)
            directoryOffset = try u64(record, 48)
        }
        guard directoryOffset <= n, directorySize <= n - directoryOffset else {
            throw fail("the central directory (\(directorySize) bytes at \(directoryOffset)) lies outside the \(n)-byte file")
        }
        guard entryCount <= directorySize / 46 else {
            throw fail("\(entryCount) entries cannot fit a \(directorySize)-byte central directory")
        }

        let directory = try source.bytes(directoryOffset ..< directoryOffset + directorySize)
        var p = 0
        for _ in 0..<entryCount {
            guard p <= directory.count - 46, u32(directory, p) == Self.centralHeader else {
                throw fail("central directory entry at \(directoryOffset + p) is malformed")
            }
            let flags = u16(directory, p + 8)
            let method = u16(directory, p + 10)
            var compressedSize = u32(directory, p + 20)
            var size = u32(directory, p + 24)
            let nameLength = u16(directory, p + 28)
            let extraLength = u16(directory, p + 30)
            let commentLength = u16(directory, p + 32)
            var localOffset = u32(directory, p + 42)
            let variable = nameLength + extraLength + commentLength
            guard variable <= directory.count - p - 46 else {
                throw fail("central directory entry at \(directoryOffset + p) runs past the directory")
            }
            let name = String(decoding: directory[p + 46 ..< p + 46 + nameLength], as: UTF8.self)
            // ZIP64 extra field: the 64-bit values, in this order, of the fields that are 0xFFFFFFFF.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let tag = u16(directory, e)
                let length = u16(directory, e + 2)
                guard length <= extraEnd - e - 4 else { throw fail("entry \"\(name)\" has a malformed extra field") }
                if tag == 0x0001 {
                    var q = e + 4
                    let fieldEnd = q + length
                    func next() throws -> Int {
                        guard q + 8 <= fieldEnd else { throw fail("entry \"\(name)\" has a short ZIP64 extra field") }
                        defer { q += 8 }
                        return try u64(directory, q)
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                e += 4 + length
            }
            p += 46 + variable

            guard n >= 30, localOffset <= n - 30 else {
                throw fail("entry \"\(name)\" has its local header at \(localOffset), outside the file")
            }
            let local = try source.bytes(localOffset ..< localOffset + 30)
            guard u32(local, 0) == Self.localHeader else {
                throw fail("entry \"\(name)\" has no local header at \(localOffset)")
            }
            let dataOffset = localOffset + 30 + u16(local, 26) + u16(local, 28)
            guard dataOffset <= n, compressedSize <= n - dataOffset else {
                throw fail("entry \"\(name)\" claims \(compressedSize) bytes at \(dataOffset) but the file has \(n)")
            }
            guard index[name] == nil else { throw fail("entry \"\(name)\" appears twice") }
            index[name] = entries.count
            entries.append(Entry(name: name, method: UInt16(method), flags: UInt16(flags),
                                 dataOffset: dataOffset, compressedSize: compressedSize, size: size))
        }
    }

    /// The entry called `name`, if any.
    func entry(named name: String) -> Entry? {
        index[name].map { entries[$0] }
    }

    /// The byte range of a STORED entry's data; compressed and encrypted entries are refused.
    func dataRange(of entry: Entry) throws -> Range<Int> {
        guard entry.flags & 1 == 0 else {
            throw CheckpointError(file: fileName, "zip entry \"\(entry.name)\" is encrypted")
        }
        guard entry.method == 0 else {
            throw CheckpointError(file: fileName, "zip entry \"\(entry.name)\" is compressed (method \(entry.method)); PyTorch writes checkpoints uncompressed, so re-save it with torch.save")
        }
        guard entry.size == entry.compressedSize else {
            throw CheckpointError(file: fileName, "zip entry \"\(entry.name)\" is stored but its sizes differ (\(entry.compressedSize) vs \(entry.size))")
        }
        return entry.dataOffset ..< entry.dataOffset + entry.size
    }
}
