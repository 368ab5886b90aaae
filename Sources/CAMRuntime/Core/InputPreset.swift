/// The resampling filter of a resize, as PIL names it.
public enum Interpolation: String, Sendable, CaseIterable {
    /// PIL's antialiased BILINEAR (triangle filter scaled by the down-scale factor).
    case bilinear
    /// PIL's antialiased BICUBIC (Keys cubic, a = -0.5).
    case bicubic
    /// Nearest neighbour.
    case nearest
}

/// The transforms a model's weights expect, as torchvision's `ImageClassification` preset:
/// resize the shorter side, centre-crop, divide by 255, normalise per channel.
public struct InputPreset: Sendable, Equatable {
    /// The length the shorter side is resized to (torchvision's `resize_size`).
    public var resizeShorterSide: Int
    /// The side of the square centre crop (torchvision's `crop_size`).
    public var cropSize: Int
    /// The resampling filter of the resize.
    public var interpolation: Interpolation
    /// The per-channel mean subtracted after dividing by 255.
    public var mean: [Float]
    /// The per-channel standard deviation divided by after subtracting the mean.
    public var std: [Float]

    /// Creates a preset.
    public init(resizeShorterSide: Int, cropSize: Int, interpolation: Interpolation, mean: [Float], std: [Float]) {
        self.resizeShorterSide = resizeShorterSide
        self.cropSize = cropSize
        self.interpolation = interpolation
        self.mean = mean
        self.std = std
    }

    /// ImageNet's channel means, as torchvision's weights use them.
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet's channel standard deviations, as torchvision's weights use them.
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    /// `ResNet50_Weights.IMAGENET1K_V2` (also ResNet-101/152 V2): 232 bilinear, crop 224.
    public static let resnetV2 = InputPreset(resizeShorterSide: 232, cropSize: 224, interpolation: .bilinear,
                                             mean: imageNetMean, std: imageNetStd)
    /// `IMAGENET1K_V1` weights (ResNet-18/34 default, ResNet-50 V1): 256 bilinear, crop 224.
    public static let resnetV1 = InputPreset(resizeShorterSide: 256, cropSize: 224, interpolation: .bilinear,
                                             mean: imageNetMean, std: imageNetStd)
    /// EfficientNet-Lite0 as timm's `tf_efficientnet_lite0`: 256 bicubic, crop 224, mean = std = 0.5.
    public static let efficientNetLite0 = InputPreset(resizeShorterSide: 256, cropSize: 224, interpolation: .bicubic,
                                                      mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
}
