/// LayerCAM (Jiang et al., IEEE TIP 2021, Eq. 5–6): `Σ_c ReLU(∂S/∂A_c) ⊙ A_c`.
public struct LayerCAM: CAMMethod {
    /// LayerCAM's declaration.
    public static let info = CAMMethodInfo(
        name: "layercam", className: "LayerCAM",
        summary: "LayerCAM: activations weighted pixel-wise by their positive gradients.",
        formula: "map = ReLU(Σ_c ReLU(dS/dA_c) ⊙ A_c)",
        paper: "Jiang et al., LayerCAM: Exploring Hierarchical Class Activation Maps for Localization, IEEE TIP 2021 (Eq. 6-7)",
        needsGradients: true, weightsChannels: false) { _ in LayerCAM() }

    /// Creates the method.
    public init() {}

    /// `Σ_c max(G, 0)·A`.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: eigenSmooth) { g, a in
            Swift.max(g, 0) * a
        }
    }
}
