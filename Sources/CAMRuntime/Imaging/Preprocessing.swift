import Foundation

/// The model input for `image` as torchvision's `ImageClassification` preset computes it from
/// a PIL image: resize the shorter side (PIL's antialiased filter), centre-crop, divide by 255
/// and normalise per channel, all in float32.
///
/// - Returns: a tensor of shape `[3, cropSize, cropSize]` (CHW, channels R, G, B).
public func preprocess(_ image: RGBImage, preset: InputPreset) -> Tensor {
    let crop = preprocessedCrop(image, preset: preset)
    return crop.normalizedTensor(mean: preset.mean, std: preset.std)
}

/// The uint8 picture the model sees: `image` resized and centre-cropped as `preset` says,
/// before the division by 255 and the normalisation.
///
/// Only the pixels the crop keeps are resampled (see `CropResamplePlan`); the bytes are those
/// of `resized(shorterSide:interpolation:)` followed by `centerCropped(size:)`.
public func preprocessedCrop(_ image: RGBImage, preset: InputPreset) -> RGBImage {
    if let plan = CropResamplePlan(width: image.width, height: image.height, preset: preset) {
        return plan.apply(to: image)
    }
    return image.resized(shorterSide: preset.resizeShorterSide, interpolation: preset.interpolation)
        .centerCropped(size: preset.cropSize)
}

extension RGBImage {
    /// The image as a `[3, height, width]` float tensor `(x / 255 − mean[c]) / std[c]`, in
    /// float32 exactly as torchvision's `ConvertImageDtype` + `Normalize` compute it.
    ///
    /// - Precondition: `mean` and `std` have three entries.
    public func normalizedTensor(mean: [Float], std: [Float]) -> Tensor {
        precondition(mean.count == 3 && std.count == 3, "mean and std need one value per channel")
        let plane = width * height
        return Tensor(shape: [3, height, width]) { out in
            pixels.withUnsafeBufferPointer { p in
                for c in 0..<3 {
                    let m = mean[c], s = std[c]
                    for i in 0..<plane {
                        let x = Float(p[3 * i + c]) / 255
                        out[c * plane + i] = (x - m) / s
                    }
                }
            }
        }
    }

    /// The image as a `[height, width, 3]` float tensor `Float(x) / 255` in [0, 1]: the usual
    /// `np.float32(img) / 255` that `show_cam_on_image` is given.
    public func floatPixels() -> Tensor {
        Tensor(shape: [height, width, 3]) { out in
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<p.count { out[i] = Float(p[i]) / 255 }
            }
        }
    }

    /// The picture of a normalised `[3, H, W]` (or `[1, 3, H, W]`) tensor: `x · std + mean`,
    /// clipped to [0, 1], times 255 rounded to nearest.
    ///
    /// - Throws: `ImageError` if the tensor does not have that shape or `mean`/`std` are not
    ///   three values.
    public init(denormalizing tensor: Tensor, mean: [Float], std: [Float]) throws {
        let hwc = try denormalizedPixels(tensor, mean: mean, std: std)
        let height = hwc.shape[0], width = hwc.shape[1]
        var bytes = [UInt8](repeating: 0, count: hwc.count)
        hwc.withUnsafeBufferPointer { v in
            for i in 0..<v.count { bytes[i] = UInt8((v[i] * 255).rounded()) }
        }
        self.init(width: width, height: height, pixels: bytes)
    }
}

/// The `[H, W, 3]` float picture of a normalised `[3, H, W]` (or `[1, 3, H, W]`) tensor:
/// `clip(x · std + mean, 0, 1)` in float32, as
/// `np.clip(t.transpose(1, 2, 0) * std + mean, 0, 1)` computes it; ready for `overlay`.
///
/// - Throws: `ImageError` if the tensor does not have that shape or `mean`/`std` are not three
///   values.
public func denormalizedPixels(_ tensor: Tensor, mean: [Float], std: [Float]) throws -> Tensor {
    var shape = tensor.shape
    if shape.count == 4 && shape[0] == 1 { shape.removeFirst() }
    guard shape.count == 3, shape[0] == 3, shape[1] > 0, shape[2] > 0 else {
        throw ImageError("expected an image tensor of shape [3, H, W] or [1, 3, H, W], found \(tensor.shape)")
    }
    guard mean.count == 3, std.count == 3 else {
        throw ImageError("expected three means and three standard deviations (one per channel), found \(mean.count) and \(std.count)")
    }
    let height = shape[1], width = shape[2], plane = height * width
    return Tensor(shape: [height, width, 3]) { out in
        tensor.withUnsafeBufferPointer { t in
            for c in 0..<3 {
                let m = mean[c], s = std[c]
                for i in 0..<plane {
                    let product = t[c * plane + i] * s
                    let v = product + m
                    out[3 * i + c] = v.isNaN ? 0 : min(max(v, 0), 1)
                }
            }
        }
    }
}
