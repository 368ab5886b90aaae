/// Grad-CAM element-wise (pytorch-grad-cam's variant of HiResCAM): `Σ_c ReLU(∂S/∂A_c ⊙ A_c)`.
public struct GradCAMElementWise: CAMMethod {
    /// Grad-CAM element-wise's declaration.
    public static let info = CAMMethodInfo(
        name: "gradcam_elementwise", className: "GradCAMElementWise",
        summary: "Grad-CAM element-wise: ReLU of each gradient × activation product, summed.",
        formula: "map = ReLU(Σ_c ReLU(dS/dA_c ⊙ A_c))",
        paper: "pytorch-grad-cam's GradCAMElementWise (Gildenblat et al.), after HiResCAM (Draelos and Carin, 2020)",
        needsGradients: true, weightsChannels: false) { _ in GradCAMElementWise() }

    /// Creates the method.
    public init() {}

    /// `Σ_c max(G·A, 0)`.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: eigenSmooth) { g, a in
            Swift.max(g * a, 0)
        }
    }
}
