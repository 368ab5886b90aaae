import CJPEG
import CPNG
import Foundation

extension RGBImage {
    /// Writes the image as PNG or JPEG, chosen by the file extension (`.png`, `.jpg`, `.jpeg`).
    ///
    /// The bytes are written by `AtomicFile`: a reader never sees a half-written picture, and
    /// nothing is left behind when writing fails.
    ///
    /// - Parameters:
    ///   - url: the destination; its extension chooses the format.
    ///   - quality: JPEG quality 1...100 (ignored for PNG). 95 keeps CAM overlays crisp.
    /// - Throws: `ImageError` for an unknown extension, a quality out of range, or a failed write.
    public func write(to url: URL, quality: Int = 95) throws {
        guard let format = ImageFileFormat.fromExtension(of: url) else {
            throw ImageError(file: url.lastPathComponent, "its extension '.\(url.pathExtension)' names no supported format; expected .png, .jpg or .jpeg")
        }
        let bytes: Data
        switch format {
        case .png: bytes = try pngData()
        case .jpeg: bytes = try jpegData(quality: quality)
        }
        try Self.writeAtomically(bytes, to: url)
    }

    /// The image encoded as an 8-bit RGB PNG (for reports and inline terminal images).
    ///
    /// - Throws: `ImageError` if libpng fails.
    /// - Parameter fast: libpng's fast mode (`PNG_IMAGE_FLAG_FAST`: no row filters, zlib level
    ///   3): a 224×224 overlay in about 3 ms instead of 15, about 50 % larger — for the hundreds
    ///   of pictures of a dataset run, where writing them would otherwise cost more than the CAM.
    public func pngData(fast: Bool = false) throws -> Data {
        try pngData(initialCapacity: nil, fast: fast)
    }

    /// `pngData()` with the first output buffer's size given (tests use a small one to take the
    /// path where libpng asks for more).
    func pngData(initialCapacity: Int?, fast: Bool = false) throws -> Data {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        if fast { image.flags = png_uint_32(PNG_IMAGE_FLAG_FAST) }
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_RGB)
        defer { png_image_free(&image) }
        let stride = png_int_32(width * 3)
        return try pixels.withUnsafeBytes { src -> Data in
            // One compression, not two: a buffer that a PNG of these pixels practically never
            // outgrows (the filtered rows plus 1/64 for deflate's stored blocks and the chunk
            // framing); libpng says when it does, with the size it needs, and it is written again.
            let filtered = height * (width * 3 + 1)
            var capacity = initialCapacity ?? (filtered + filtered / 64 + 4096)
            for _ in 0..<2 {
                var out = Data(count: capacity)
                var size = capacity
                let ok = out.withUnsafeMutableBytes { dst in
                    png_image_write_to_memory(&image, dst.baseAddress, &size, 0, src.baseAddress, stride, nil)
                }
                if ok != 0 { return out.prefix(size) }
                guard size > capacity else { break }  // unchanged size: an error, not a short buffer
                capacity = size
                png_image_free(&image)
                image.warning_or_error = 0
            }
            throw ImageError("PNG encoding of \(description) failed: \(Self.pngWriteMessage(image))")
        }
    }

    /// The image encoded as a baseline JPEG with 4:2:0 chroma subsampling.
    ///
    /// - Parameter quality: 1...100.
    /// - Throws: `ImageError` for a quality out of range or if libjpeg-turbo fails.
    public func jpegData(quality: Int = 95) throws -> Data {
        guard (1...100).contains(quality) else {
            throw ImageError("JPEG quality must be between 1 and 100, got \(quality)")
        }
        guard let handle = tjInitCompress() else {
            throw ImageError("libjpeg-turbo could not start an encoder")
        }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue),
                        &output, &size, Int32(TJSAMP_420.rawValue), Int32(quality), 0)
        }
        defer { if let output { tjFree(output) } }
        guard status == 0, let output else {
            throw ImageError("JPEG encoding of \(description) failed: \(Self.jpegMessage(handle))")
        }
        return Data(bytes: output, count: Int(size))
    }

    private static func pngWriteMessage(_ image: png_image) -> String {
        var copy = image.message
        return withUnsafeBytes(of: &copy) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Writes `bytes` to `url` through `AtomicFile` (the one writer that follows symbolic links,
    /// writes FIFOs and devices in place and refuses folders), naming the file in its errors.
    static func writeAtomically(_ bytes: Data, to url: URL) throws {
        do {
            try AtomicFile.write(bytes, to: url.path)
        } catch let error as FileIOError {
            throw ImageError(file: url.lastPathComponent, "it cannot be written (\(error.message))")
        }
    }
}
