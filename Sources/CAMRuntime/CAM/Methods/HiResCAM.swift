/// HiResCAM (Draelos & Carin 2020, Eq. 4): `Σ_c ∂S/∂A_c ⊙ A_c`, the gradient kept per pixel.
public struct HiResCAM: CAMMethod {
    /// HiResCAM's declaration.
    public static let info = CAMMethodInfo(
        name: "hirescam", className: "HiResCAM",
        summary: "HiResCAM: the element-wise product of gradients and activations, summed over channels.",
        formula: "map = ReLU(Σ_c dS/dA_c ⊙ A_c)",
        paper: "Draelos and Carin, Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural networks, arXiv:2011.08891 (2020)",
        needsGradients: true, weightsChannels: false) { _ in HiResCAM() }

    /// Creates the method.
    public init() {}

    /// `Σ_c G·A` (or its principal component with `eigenSmooth`).
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: eigenSmooth) { g, a in g * a }
    }
}
