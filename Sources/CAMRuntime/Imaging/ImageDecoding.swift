import CJPEG
import CPNG
import CPNGRead
import Foundation

/// The bytes of the image file at `url`, or an `ImageError` saying why it cannot be read
/// (missing, not a regular file — a FIFO or `/dev/zero` is refused before it is read —,
/// permission denied).
func readImageFile(_ url: URL) throws -> Data {
    do {
        return try UserFile.read(url.path)  // read, not mapped: a file changed while mapped could crash the process
    } catch let error as FileIOError {
        let problem = error.missing ? "no such file at \(url.path)"
            : error.fileKind.map { "\(url.path) is \($0), not an image file" }
            ?? "it cannot be read (\(error.reason))"
        throw ImageError(file: url.lastPathComponent, problem)
    }
}

extension RGBImage {
    /// Reads a PNG or JPEG file; the format is recognised by the file's signature, not its name.
    ///
    /// Samples are taken as stored, as Pillow does: PNG gamma, chromaticity, sRGB-intent and ICC
    /// chunks are ignored. Grey is replicated to R, G and B; palettes are expanded; 16-bit
    /// samples keep their high byte, except 16-bit grey, which Pillow opens as `I;16` and
    /// clips at 255. Alpha and tRNS transparency are dropped, not composited, as PIL's
    /// `convert("RGB")` drops them: a transparent area shows whatever colour it stores. Every
    /// colour type and bit depth is checked byte for byte against Pillow (`PillowPNGVariantTests`).
    /// JPEGs are decoded with the accurate integer DCT and smooth chroma upsampling, as Pillow;
    /// EXIF orientation is not applied (Pillow's `Image.open` does not apply it either). A JPEG
    /// on which libjpeg-turbo reports any warning (truncation, corrupt data) is refused.
    ///
    /// - Throws: `ImageError` when the file cannot be read, is neither PNG nor JPEG, is truncated
    ///   or corrupt, is a CMYK JPEG, has a zero size, or claims more than `limits.maxPixels`.
    public init(contentsOf url: URL, limits: ImageLimits = .default) throws {
        try self.init(data: try readImageFile(url), fileName: url.lastPathComponent, limits: limits)
    }

    /// Decodes PNG or JPEG bytes; `fileName` is only used in messages and to mention an
    /// extension that does not match the content.
    ///
    /// - Throws: `ImageError` as `init(contentsOf:limits:)`.
    public init(data: Data, fileName: String = "data", limits: ImageLimits = .default) throws {
        let (format, note) = try Self.detectFormat(data, fileName: fileName)
        switch format {
        case .png: self = try Self.decodePNG(data, fileName: fileName, note: note, limits: limits)
        case .jpeg: self = try Self.decodeJPEG(data, fileName: fileName, note: note, limits: limits)
        }
    }

    /// The format of `data` by its signature, and a note for messages when `fileName`'s
    /// extension names another format (empty otherwise).
    ///
    /// - Throws: `ImageError` when `data` is empty or neither PNG nor JPEG.
    static func detectFormat(_ data: Data, fileName: String) throws -> (format: ImageFileFormat, note: String) {
        if data.isEmpty {
            throw ImageError(file: fileName, "the file is empty (expected a PNG or JPEG image)")
        }
        guard let format = ImageFileFormat.detect(data) else {
            let head = data.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ImageError(file: fileName, "it is neither a PNG nor a JPEG image (it starts with bytes \(head))")
        }
        let named = ImageFileFormat.fromExtension(of: URL(fileURLWithPath: fileName))
        let note = (named != nil && named != format)
            ? " (the file holds \(format.displayName) data despite its .\(URL(fileURLWithPath: fileName).pathExtension) extension)" : ""
        return (format, note)
    }

    /// The size in the header of the PNG or JPEG `data` (of `format`), checked against `limits`,
    /// without decoding any pixel.
    ///
    /// - Throws: `ImageError` when the header cannot be read, gives a zero size or more pixels
    ///   than `limits.maxPixels`, or (JPEG) announces CMYK.
    static func headerSize(_ data: Data, format: ImageFileFormat, fileName: String, note: String,
                           limits: ImageLimits) throws -> (width: Int, height: Int) {
        switch format {
        case .png:
            // The signature, then the IHDR chunk: length 13, type, width and height (big-endian).
            let bytes = [UInt8](data.prefix(24))
            guard bytes.count == 24, bytes[12..<16].elementsEqual("IHDR".utf8) else {
                throw ImageError(file: fileName, "it is not a readable PNG\(note): the IHDR chunk is missing or truncated")
            }
            func bigEndian(_ offset: Int) -> Int { bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) } }
            let width = bigEndian(16), height = bigEndian(20)
            try checkSize(width: width, height: height, fileName: fileName, format: "PNG", limits: limits)
            return (width, height)
        case .jpeg:
            guard let handle = tjInitDecompress() else {
                throw ImageError(file: fileName, "libjpeg-turbo could not start a decoder")
            }
            defer { tjDestroy(handle) }
            let (width, height) = try data.withUnsafeBytes { raw throws -> (Int32, Int32) in
                guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                    throw ImageError(file: fileName, "the file is empty (expected a JPEG image)")
                }
                return try jpegHeader(handle, base, raw.count, fileName: fileName, note: note)
            }
            try checkSize(width: Int(width), height: Int(height), fileName: fileName, format: "JPEG", limits: limits)
            return (Int(width), Int(height))
        }
    }

    /// Reads a JPEG header with TurboJPEG, refusing CMYK.
    private static func jpegHeader(_ handle: tjhandle, _ base: UnsafePointer<UInt8>, _ count: Int,
                                   fileName: String, note: String) throws -> (width: Int32, height: Int32) {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        if tjDecompressHeader3(handle, base, UInt(count), &width, &height, &subsampling, &colorspace) != 0 {
            throw ImageError(file: fileName, "it is not a readable JPEG\(note): \(jpegMessage(handle))")
        }
        if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
            throw ImageError(file: fileName, "it is a CMYK JPEG\(note); only greyscale and colour (YCbCr/RGB) JPEGs are supported — convert it to RGB first")
        }
        return (width, height)
    }

    /// Refuses sizes that are zero or above the limit, before any allocation.
    static func checkSize(width: Int, height: Int, fileName: String, format: String, limits: ImageLimits) throws {
        if width <= 0 || height <= 0 {
            throw ImageError(file: fileName, "the \(format) header gives a size of \(width)×\(height), expected at least 1×1 pixels (the file is truncated or corrupt)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > limits.maxPixels {
            throw ImageError(file: fileName, "the \(format) header claims \(width)×\(height) = \(width * height) pixels, more than the limit of \(limits.maxPixels) (a decompression-bomb guard; raise the limit if the file is trusted)")
        }
    }

    /// The PNG bytes for libpng, after checking that no chunk claims more bytes than the file
    /// has left.
    ///
    /// libpng allocates and zero-fills a chunk's claimed length before reading it (up to 2 GB
    /// here), so a 500-byte file claiming a 1 GB `sCAL` chunk cost a second and a gigabyte
    /// before libpng found the data missing. Such a chunk before or among the image data means a
    /// truncated or corrupt file and is refused; after the image data it is cut off, as libpng
    /// (and Pillow) ignore a damaged end once the pixels are complete.
    static func checkingChunkLengths(_ data: Data, fileName: String, note: String) throws -> Data {
        let count = data.count
        var offset = 8
        var seenImageData = false
        while offset + 8 <= count {
            let lengthStart = data.startIndex + offset
            let length = data[lengthStart ..< lengthStart + 4].reduce(0) { $0 << 8 | Int($1) }
            let typeBytes = data[(lengthStart + 4) ..< (lengthStart + 8)]
            if typeBytes.elementsEqual("IEND".utf8) { break }
            let isImageData = typeBytes.elementsEqual("IDAT".utf8)
            // Only the data is checked: a missing CRC is left to libpng, which allocates nothing for it.
            let remaining = count - offset - 8
            if length > remaining {
                if seenImageData && !isImageData { return data.prefix(offset) }
                let type = typeBytes.allSatisfy { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
                    ? "\"\(String(decoding: typeBytes, as: UTF8.self))\"" : "with an invalid type"
                throw ImageError(file: fileName, "the PNG data is truncated or corrupt\(note): the chunk \(type) at byte \(offset) claims \(length) bytes but \(remaining) remain")
            }
            seenImageData = seenImageData || isImageData
            offset += 12 + length
        }
        return data
    }

    /// The PNG without its colour-space chunks (gAMA, cHRM, sRGB, iCCP), so that libpng
    /// passes the stored samples through as Pillow does, instead of converting them to sRGB.
    /// Returns `data` itself when there is nothing to remove or the chunk layout is malformed
    /// (libpng then reports the problem).
    static func strippingColorSpaceChunks(_ data: Data) -> Data {
        let bytes = [UInt8](data.prefix(1 << 20))  // colour chunks come before IDAT, near the start
        let removed: Set<String> = ["gAMA", "cHRM", "sRGB", "iCCP"]
        var ranges: [Range<Int>] = []
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let end = offset + 12 + length
            if type == "IDAT" || type == "IEND" || length > Int(Int32.max) { break }
            if removed.contains(type) { ranges.append(offset..<end) }
            offset = end
        }
        if ranges.isEmpty { return data }
        var out = Data(capacity: data.count)
        var position = 0
        let base = data.startIndex
        for range in ranges where range.upperBound <= data.count {
            out.append(data[(base + position)..<(base + range.lowerBound)])
            position = range.upperBound
        }
        out.append(data[(base + position)...])
        return out
    }

    private static func decodePNG(_ original: Data, fileName: String, note: String, limits: ImageLimits) throws -> RGBImage {
        let data = strippingColorSpaceChunks(try checkingChunkLengths(original, fileName: fileName, note: note))
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> RGBImage in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count > 0 else {
                throw ImageError(file: fileName, "the file is empty (expected a PNG image)")
            }
            var message = [CChar](repeating: 0, count: 256)
            var width: UInt32 = 0, height: UInt32 = 0
            guard let decoder = camscript_png_begin(base, raw.count, &width, &height, &message, message.count) else {
                throw ImageError(file: fileName, "it is not a readable PNG\(note): \(Self.text(message))")
            }
            defer { camscript_png_free(decoder) }
            try checkSize(width: Int(width), height: Int(height), fileName: fileName, format: "PNG", limits: limits)
            // Not zeroed first: a successful read writes every row, and a failed one keeps
            // nothing (a truncated file claiming 80 M pixels spent its time zero-filling).
            let count = Int(width) * Int(height) * 3
            var ok: Int32 = 0
            let buffer = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                if let base = out.baseAddress { adviseHugePages(base, byteCount: count) }
                ok = camscript_png_finish(decoder, out.baseAddress, &message, message.count)
                initialized = ok != 0 ? count : 0
            }
            if ok == 0 {
                throw ImageError(file: fileName, "the PNG data is truncated or corrupt\(note): \(Self.text(message))")
            }
            return RGBImage(width: Int(width), height: Int(height), pixels: buffer)
        }
    }

    /// A C string from a fixed buffer.
    private static func text(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func decodeJPEG(_ data: Data, fileName: String, note: String, limits: ImageLimits) throws -> RGBImage {
        guard let handle = tjInitDecompress() else {
            throw ImageError(file: fileName, "libjpeg-turbo could not start a decoder")
        }
        defer { tjDestroy(handle) }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> RGBImage in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw ImageError(file: fileName, "the file is empty (expected a JPEG image)")
            }
            let (width, height) = try jpegHeader(handle, base, raw.count, fileName: fileName, note: note)
            try checkSize(width: Int(width), height: Int(height), fileName: fileName, format: "JPEG", limits: limits)
            if Int(width) * Int(height) >= JPEGCropDecoder.splitMinimumPixels,
               let image = try JPEGCropDecoder.decodedInTwo(base, count: raw.count, fileName: fileName, note: note) {
                return image
            }
            // Accurate integer DCT and smooth (fancy) chroma upsampling, as Pillow decodes; no
            // DCT scaling, which would change the pixels. Any warning fails the decode, so stop
            // at the first one: otherwise libjpeg-turbo invents every missing pixel of a
            // truncated file first (seconds for a small file whose header claims 80 M pixels).
            // The buffer is not zeroed: a successful decode writes every byte, and a failed one
            // keeps none (nothing is touched that is then thrown away).
            let count = Int(width) * Int(height) * 3
            var status: Int32 = 0
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                if let base = out.baseAddress { adviseHugePages(base, byteCount: count) }
                status = tjDecompress2(handle, base, UInt(raw.count), out.baseAddress, width, 0, height,
                                       Int32(TJPF_RGB.rawValue), TJFLAG_STOPONWARNING)
                initialized = status == 0 ? count : 0
            }
            if status != 0 {
                let problem = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue) ? "the JPEG data is truncated or corrupt" : "the JPEG data cannot be decoded"
                throw ImageError(file: fileName, "\(problem)\(note): \(jpegMessage(handle))")
            }
            return RGBImage(width: Int(width), height: Int(height), pixels: pixels)
        }
    }

    /// TurboJPEG's message for the last failed call on `handle`.
    static func jpegMessage(_ handle: tjhandle) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "libjpeg-turbo reported an error without a message" }
        return String(cString: text)
    }
}
