import Foundation

/// Where a model input's pixels came from: the picture's size and the preprocessing that made
/// the input, so that a map over the input can be drawn back over the picture (`overlay cam
/// photo`) and the input turned back into pixels (`to_image x`) without the user redoing either.
public struct ImageOrigin: Sendable, Equatable {
    /// The source picture's width in pixels.
    public var width: Int
    /// The source picture's height in pixels.
    public var height: Int
    /// The resize, crop and normalisation applied.
    public var preset: InputPreset

    /// Records that `preset` made an input from a `width × height` picture.
    public init(width: Int, height: Int, preset: InputPreset) {
        self.width = width
        self.height = height
        self.preset = preset
    }

    /// The rectangle of the source picture that the centre crop covers, in source pixels
    /// (fractional: the resize scales by a non-integer factor), as torchvision's Resize then
    /// CenterCrop place it; nil when the resize is impossible.
    public var cropBox: (x: Double, y: Double, width: Double, height: Double)? {
        guard width > 0, height > 0,
              let resized = RGBImage.sizeResizingShorterSide(width: width, height: height, to: preset.resizeShorterSide),
              resized.width > 0, resized.height > 0 else { return nil }
        let crop = preset.cropSize
        func corner(_ size: Int) -> Int {
            crop > size ? -((crop - size) / 2) : Int((Double(size - crop) / 2).rounded(.toNearestOrEven))
        }
        let sx = Double(width) / Double(resized.width), sy = Double(height) / Double(resized.height)
        return (Double(corner(resized.width)) * sx, Double(corner(resized.height)) * sy, Double(crop) * sx, Double(crop) * sy)
    }
}

/// `overlay` of a map computed on a preprocessed input, drawn over the whole picture the input
/// was made from: the map goes back through the crop and the resize (bilinear, pixel centres
/// aligned), so the heat lands on the pixels the model saw, and show_cam_on_image's formula is
/// applied there (its maximum taken over that region). The part of the picture outside the crop
/// is dimmed to 40 % — the model never saw it, and dimming keeps it recognisable where an
/// outline alone would leave it looking covered by the map.
///
/// - Throws: `ImageError` when the picture is not the size `origin` records, the map is not the
///   crop's size, or as `overlay(_:mask:colormap:imageWeight:)`.
public func overlay(_ photo: RGBImage, mask: Tensor, origin: ImageOrigin, colormap: Colormap = .jet,
                    imageWeight: Double = 0.5) throws -> RGBImage {
    guard photo.width == origin.width, photo.height == origin.height else {
        throw ImageError("the map was computed on a crop of a \(origin.width)×\(origin.height) picture, "
                         + "but this picture is \(photo.width)×\(photo.height)")
    }
    let (maskHeight, maskWidth) = try maskSize(mask)
    guard maskHeight == origin.preset.cropSize, maskWidth == origin.preset.cropSize, let box = origin.cropBox else {
        throw ImageError("the map is \(maskWidth)×\(maskHeight) but the preprocessing cropped "
                         + "\(origin.preset.cropSize)×\(origin.preset.cropSize)")
    }
    // The pixels whose centres fall inside the crop.
    let x0 = max(0, Int((box.x - 0.5).rounded(.up))), x1 = min(photo.width - 1, Int((box.x + box.width - 0.5).rounded(.down)))
    let y0 = max(0, Int((box.y - 0.5).rounded(.up))), y1 = min(photo.height - 1, Int((box.y + box.height - 0.5).rounded(.down)))
    var out = photo.pixels.map { UInt8((Float($0) * 0.4).rounded()) }
    guard x0 <= x1, y0 <= y1 else { return RGBImage(width: photo.width, height: photo.height, pixels: out) }
    let regionWidth = x1 - x0 + 1, regionHeight = y1 - y0 + 1
    let values = mask.storage
    func sample(_ coordinate: Double, _ count: Int) -> (Int, Int, Float) {
        let c = min(max(coordinate, 0), Double(count - 1))
        let low = Int(c.rounded(.down)), high = min(low + 1, count - 1)
        return (low, high, Float(c - Double(low)))
    }
    var resampled = [Float](repeating: 0, count: regionWidth * regionHeight)
    for row in 0..<regionHeight {
        let v = (Double(y0 + row) + 0.5 - box.y) * Double(maskHeight) / box.height - 0.5
        let (top, bottom, fy) = sample(v, maskHeight)
        for column in 0..<regionWidth {
            let u = (Double(x0 + column) + 0.5 - box.x) * Double(maskWidth) / box.width - 0.5
            let (left, right, fx) = sample(u, maskWidth)
            let upper = values[top * maskWidth + left] * (1 - fx) + values[top * maskWidth + right] * fx
            let lower = values[bottom * maskWidth + left] * (1 - fx) + values[bottom * maskWidth + right] * fx
            resampled[row * regionWidth + column] = upper * (1 - fy) + lower * fy
        }
    }
    let region = photo.cropped(x: x0, y: y0, width: regionWidth, height: regionHeight)
    let drawn = try overlay(region, mask: Tensor(shape: [regionHeight, regionWidth], storage: resampled),
                            colormap: colormap, imageWeight: imageWeight)
    for row in 0..<regionHeight {
        let source = row * regionWidth * 3, destination = ((y0 + row) * photo.width + x0) * 3
        out.replaceSubrange(destination..<(destination + regionWidth * 3), with: drawn.pixels[source..<(source + regionWidth * 3)])
    }
    return RGBImage(width: photo.width, height: photo.height, pixels: out)
}
