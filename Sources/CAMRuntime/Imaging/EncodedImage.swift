import Foundation

/// A PNG or JPEG file's bytes and the size its header gives, not decoded yet.
///
/// The way from a file to a model input that never holds the full-size picture when it does
/// not have to: `preprocessedCrop(preset:draft:)` decodes only the part of a JPEG that the
/// preset's centre crop reads (see `RGBImage.preprocessedCrop(data:preset:fileName:limits:draft:)`),
/// while the size is known from the header alone, so a preset can be checked against it first.
public struct EncodedImage: Sendable {
    /// The file's bytes.
    public let data: Data
    /// The name used in messages.
    public let fileName: String
    /// The format, from the file's signature.
    public let format: ImageFileFormat
    /// The width in the header.
    public let width: Int
    /// The height in the header.
    public let height: Int
    /// The bounds that decoding enforces.
    public let limits: ImageLimits

    /// Reads the file at `url` and its header.
    ///
    /// - Throws: `ImageError` when the file cannot be read, is neither PNG nor JPEG, has an
    ///   unreadable header, a zero size or more pixels than `limits.maxPixels`, or is a CMYK JPEG.
    public init(contentsOf url: URL, limits: ImageLimits = .default) throws {
        try self.init(data: try readImageFile(url), fileName: url.lastPathComponent, limits: limits)
    }

    /// Reads the header of the PNG or JPEG `data`; `fileName` is only used in messages.
    ///
    /// - Throws: `ImageError` as `init(contentsOf:limits:)`.
    public init(data: Data, fileName: String = "data", limits: ImageLimits = .default) throws {
        let (format, note) = try RGBImage.detectFormat(data, fileName: fileName)
        let size = try RGBImage.headerSize(data, format: format, fileName: fileName, note: note, limits: limits)
        self.data = data
        self.fileName = fileName
        self.format = format
        self.width = size.width
        self.height = size.height
        self.limits = limits
    }

    /// The whole picture, as `RGBImage(data:fileName:limits:)` decodes it.
    ///
    /// - Throws: `ImageError` when the data is truncated or corrupt.
    public func decoded() throws -> RGBImage {
        try RGBImage(data: data, fileName: fileName, limits: limits)
    }

    /// The uint8 crop of `preset`, byte for byte `preprocessedCrop(decoded(), preset:)` unless
    /// `draft` (see `RGBImage.preprocessedCrop(data:preset:fileName:limits:draft:concurrent:)`,
    /// which also says when `concurrent: false` pays).
    ///
    /// - Throws: `ImageError` when the data is truncated or corrupt.
    public func preprocessedCrop(preset: InputPreset, draft: Bool = false, concurrent: Bool = true) throws -> RGBImage {
        try RGBImage.preprocessedCrop(data: data, preset: preset, fileName: fileName, limits: limits, draft: draft,
                                      concurrent: concurrent)
    }
}
