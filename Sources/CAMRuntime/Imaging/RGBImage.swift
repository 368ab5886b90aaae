import Foundation

/// An 8-bit RGB picture: `width × height` pixels stored row-major, three interleaved bytes
/// (R, G, B) per pixel, no padding between rows.
///
/// Every file format the runtime reads is turned into this one representation: grey images are
/// replicated to three channels, palettes are expanded, 16-bit samples are reduced to 8 bits and
/// alpha is dropped, all as Pillow's `convert("RGB")` does (see `RGBImage(data:fileName:limits:)`).
public struct RGBImage: Sendable, Equatable, CustomStringConvertible {
    /// The number of columns.
    public let width: Int
    /// The number of rows.
    public let height: Int
    /// `width * height * 3` bytes: R, G, B of pixel (0, 0), then (1, 0), ... row by row.
    public internal(set) var pixels: [UInt8]

    /// Creates an image from interleaved RGB bytes.
    ///
    /// - Precondition: `width` and `height` are positive and `pixels.count == width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "RGBImage needs a positive size, got \(width)×\(height)")
        precondition(pixels.count == width * height * 3,
                      "RGBImage \(width)×\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Creates an image of one colour.
    ///
    /// - Precondition: `width` and `height` are positive.
    public init(width: Int, height: Int, color: RGBColor = .white) {
        precondition(width > 0 && height > 0, "RGBImage needs a positive size, got \(width)×\(height)")
        self.width = width
        self.height = height
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            bytes[3 * i] = color.red
            bytes[3 * i + 1] = color.green
            bytes[3 * i + 2] = color.blue
        }
        self.pixels = bytes
    }

    /// Checks a size a user asked for (a resize or crop target, a canvas) before it is used:
    /// both sides at least 1 and at most `limits.maxPixels` pixels in all.
    ///
    /// The geometry functions treat a bad size as a programmer error (a precondition); call
    /// this first with sizes that come from user input.
    ///
    /// - Throws: `ImageError` saying what was asked for and what is allowed.
    public static func validateSize(width: Int, height: Int, limits: ImageLimits = .default) throws {
        guard width >= 1, height >= 1 else {
            throw ImageError("an image size must be at least 1×1 pixels, got \(width)×\(height)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= limits.maxPixels else {
            throw ImageError("an image of \(width)×\(height) pixels is larger than the limit of \(limits.maxPixels) pixels")
        }
    }

    /// A short summary such as `image 451×300 RGB`.
    public var description: String { "image \(width)×\(height) RGB" }

    /// The colour of the pixel in column `x`, row `y`.
    ///
    /// - Precondition: the position lies inside the image.
    public subscript(x: Int, y: Int) -> RGBColor {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(description)")
            let i = 3 * (y * width + x)
            return RGBColor(red: pixels[i], green: pixels[i + 1], blue: pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(description)")
            let i = 3 * (y * width + x)
            pixels[i] = newValue.red
            pixels[i + 1] = newValue.green
            pixels[i + 2] = newValue.blue
        }
    }
}

/// One 8-bit RGB colour.
public struct RGBColor: Sendable, Equatable, Hashable {
    /// The red component.
    public var red: UInt8
    /// The green component.
    public var green: UInt8
    /// The blue component.
    public var blue: UInt8

    /// Creates a colour from its components.
    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// Pure white (255, 255, 255), the padding and background colour of composition.
    public static let white = RGBColor(red: 255, green: 255, blue: 255)
    /// Pure black (0, 0, 0), the fill colour of crops outside the image (as PIL's `crop`).
    public static let black = RGBColor(red: 0, green: 0, blue: 0)
}

/// Bounds that protect image decoding against files whose headers claim huge sizes.
public struct ImageLimits: Sendable, Equatable {
    /// The largest `width × height` a file may claim; checked on the header, before any pixel
    /// memory is allocated.
    public var maxPixels: Int

    /// Creates limits with the given pixel budget.
    public init(maxPixels: Int) {
        self.maxPixels = maxPixels
    }

    /// Pillow's decompression-bomb bound `MAX_IMAGE_PIXELS` (89,478,485 pixels,
    /// about 0.25 GiB of 24-bit pixels).
    public static let `default` = ImageLimits(maxPixels: 89_478_485)
}

/// A problem with an image file or an image operation, with a message for the user.
public struct ImageError: UserFacingError, Equatable {
    /// What was expected and what was found.
    public let message: String

    /// Creates an error with the given message.
    public init(_ message: String) {
        self.message = message
    }

    /// Creates an error about the file called `file`.
    init(file: String, _ problem: String) {
        self.message = "image '\(file)': \(problem)"
    }
}

/// The encoded file formats the runtime reads and writes.
public enum ImageFileFormat: String, Sendable, CaseIterable {
    /// Portable Network Graphics, read and written with libpng.
    case png
    /// JPEG (JFIF/EXIF), read and written with libjpeg-turbo's TurboJPEG API.
    case jpeg

    /// The format announced by the first bytes of `data` (its signature), or nil.
    public static func detect(_ data: Data) -> ImageFileFormat? {
        let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if data.count >= 8 && Array(data.prefix(8)) == pngSignature { return .png }
        if data.count >= 3 && Array(data.prefix(3)) == [0xFF, 0xD8, 0xFF] { return .jpeg }
        return nil
    }

    /// The format a file name's extension asks for (`.png`, `.jpg`, `.jpeg`, any case), or nil.
    public static func fromExtension(of url: URL) -> ImageFileFormat? {
        switch url.pathExtension.lowercased() {
        case "png": return .png
        case "jpg", "jpeg": return .jpeg
        default: return nil
        }
    }

    /// The name used in messages: "PNG" or "JPEG".
    public var displayName: String { self == .png ? "PNG" : "JPEG" }
}
