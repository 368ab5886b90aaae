/// Grad-CAM (Selvaraju et al., ICCV 2017, Eq. 1): `α_c = (1/Z) Σ_ij ∂S/∂A_c,ij`, the spatial mean
/// of the gradient; map `Σ_c α_c A_c`.
public struct GradCAM: ChannelWeightedCAMMethod {
    /// Grad-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "gradcam", className: "GradCAM",
        summary: "Grad-CAM: activations weighted by the spatial mean of their gradients.",
        formula: "w_c = mean_ij dS/dA_c,ij; map = ReLU(Σ_c w_c A_c)",
        paper: "Selvaraju et al., Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization, ICCV 2017 (Eq. 1-2)",
        needsGradients: true, weightsChannels: true) { _ in GradCAM() }

    /// Creates the method.
    public init() {}

    /// The spatial mean of the gradient per channel.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        let g = try layer.requireGradients(name)
        let hw = Float(g.shape[2] * g.shape[3])
        let sums = CAMMath.channelSums(layer.activations, g) { g, _ in g }
        return sums.map { Float(Double($0) / Double(hw)) }
    }
}
