import Foundation

/// A class activation map drawn over a picture, exactly as pytorch-grad-cam's
/// `show_cam_on_image(img, mask, use_rgb=True, colormap, image_weight)` computes it from a
/// float32 image:
///
/// ```
/// heatmap = LUT[uint8(255 · mask)] / 255          # uint8 cast truncates
/// cam = (1 − w) · heatmap + w · img               # float32
/// cam = cam / max(cam)                            # global max over all pixels and channels
/// out = uint8(255 · cam)                          # truncates again
/// ```
///
/// Mask values outside [0, 1] are clamped to the colormap's ends (NaN to entry 0); the
/// reference leaves that undefined. If every value of `cam` is 0 the result is black (the
/// reference would divide by zero).
///
/// - Parameters:
///   - image: `[H, W, 3]` floats in [0, 1], e.g. `RGBImage.floatPixels()` or `denormalizedPixels`.
///   - mask: the CAM, `[H, W]` (or `[1, H, W]`) with values in [0, 1], the size of the image.
///   - colormap: the heat-map colours (JET by default, as pytorch-grad-cam).
///   - imageWeight: the weight of the picture, in [0, 1] (0.5 by default).
/// - Throws: `ImageError` if the shapes do not fit, the image has values above 1, or the
///   weight is outside [0, 1].
public func overlay(_ image: Tensor, mask: Tensor, colormap: Colormap = .jet, imageWeight: Double = 0.5) throws -> RGBImage {
    guard image.rank == 3, image.shape[2] == 3, image.shape[0] > 0, image.shape[1] > 0 else {
        throw ImageError("overlay expects the picture as floats of shape [H, W, 3], found shape \(image.shape)")
    }
    let height = image.shape[0], width = image.shape[1]
    let (maskHeight, maskWidth) = try maskSize(mask)
    guard maskHeight == height, maskWidth == width else {
        throw ImageError("the CAM is \(maskWidth)×\(maskHeight) but the picture is \(width)×\(height); resize the CAM to the picture first")
    }
    guard (0...1).contains(imageWeight) else {
        throw ImageError("image weight must be between 0 and 1, got \(imageWeight)")
    }
    if let top = image.storage.max(), top > 1 {
        throw ImageError("the picture given to overlay should hold floats in [0, 1], found a maximum of \(top)")
    }
    let heatWeight = Float(1 - imageWeight), pictureWeight = Float(imageWeight)
    let table = colormap.table
    var cam = [Float](repeating: 0, count: width * height * 3)
    var peak = -Float.infinity
    image.withUnsafeBufferPointer { img in
        mask.withUnsafeBufferPointer { m in
            for i in 0..<(width * height) {
                let t = 3 * Int(Colormap.index(for: m[i]))
                for c in 0..<3 {
                    let heat = Float(table[t + c]) / 255
                    let a = heatWeight * heat
                    let b = pictureWeight * img[3 * i + c]
                    let v = a + b
                    cam[3 * i + c] = v
                    if v > peak { peak = v }
                }
            }
        }
    }
    var out = [UInt8](repeating: 0, count: cam.count)
    if peak > 0 {
        for i in 0..<cam.count {
            let normalized = cam[i] / peak
            out[i] = Colormap.index(for: normalized)
        }
    }
    return RGBImage(width: width, height: height, pixels: out)
}

/// `overlay` of a CAM on an 8-bit picture, which is first turned into `Float(x) / 255` (the
/// usual `np.float32(img) / 255`).
///
/// - Throws: `ImageError` as `overlay(_:mask:colormap:imageWeight:)`.
public func overlay(_ image: RGBImage, mask: Tensor, colormap: Colormap = .jet, imageWeight: Double = 0.5) throws -> RGBImage {
    try overlay(image.floatPixels(), mask: mask, colormap: colormap, imageWeight: imageWeight)
}
