/// RefineCAM (pytorch-grad-cam 1.5.7): Grad-CAM++ at several layers, multiplied together, so
/// that an early layer's fine but noisy map is kept only where the later layers agree.
///
/// Each layer's Grad-CAM++ map goes through the common pipeline on its own (ReLU, min-max,
/// resize to the input), the maps are multiplied pixel by pixel, and the product is min-max
/// scaled. With one layer it is Grad-CAM++. With `aug_smooth=true` the six augmented passes are
/// each refined and then averaged (pytorch-grad-cam's RefineCAM takes no `aug_smooth`).
public struct RefineCAM: ChannelWeightedCAMMethod {
    /// RefineCAM's declaration.
    public static let info = CAMMethodInfo(
        name: "refinecam", className: "RefineCAM",
        summary: "RefineCAM: the product of Grad-CAM++ maps at several layers (fine detail where the layers agree).",
        formula: "map = minmax(Π_l M_l), M_l = Grad-CAM++ at layer l after ReLU, min-max and resize",
        paper: "pytorch-grad-cam's RefineCAM (Gildenblat), arXiv:2605.14641; after Chattopadhay et al., Grad-CAM++, WACV 2018",
        needsGradients: true, weightsChannels: true, unsignedBecause: "it multiplies maps already scaled to 0…1", hasRawScale: false) { _ in RefineCAM() }

    /// Creates the method.
    public init() {}

    /// Grad-CAM++'s weights.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        try GradCAMPlusPlus().channelWeights(layer, context: context)
    }

    /// The product of the layers' maps, each scaled and resized alone (min-max scaled after,
    /// by the engine).
    public func fuse(_ layerMaps: [Tensor], width: Int, height: Int, scaling: CAMScaling) -> Tensor {
        guard var product = layerMaps.first.map({ CAMMath.scaleCAM(CAMMath.fuse([$0], width: width, height: height)) }) else {
            return CAMMath.fuse(layerMaps, width: width, height: height)
        }
        for map in layerMaps.dropFirst() {
            let scaled = CAMMath.scaleCAM(CAMMath.fuse([map], width: width, height: height))
            for i in 0..<product.count { product.storage[i] *= scaled.storage[i] }
        }
        return product
    }
}
