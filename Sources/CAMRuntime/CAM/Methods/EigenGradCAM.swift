/// Eigen-Grad-CAM (pytorch-grad-cam): the first principal component projection of `∂S/∂A ⊙ A`.
public struct EigenGradCAM: CAMMethod {
    /// Eigen-Grad-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "eigengradcam", className: "EigenGradCAM",
        summary: "EigenGradCAM: the first principal component of gradients × activations.",
        formula: "map = first principal component of (dS/dA ⊙ A) over channels",
        paper: "pytorch-grad-cam's EigenGradCAM (Gildenblat et al.), after Eigen-CAM (Muhammad and Yeasin, IJCNN 2020)",
        needsGradients: true, weightsChannels: false) { _ in EigenGradCAM() }

    /// Creates the method.
    public init() {}

    /// `get_2d_projection(G·A)`.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: true) { g, a in g * a }
    }
}
