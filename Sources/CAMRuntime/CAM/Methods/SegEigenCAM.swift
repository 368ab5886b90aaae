/// Seg-Eigen-CAM (Chung and Ying, Applied Sciences 2025, Eq. 10–13): the first principal
/// component of `|∂S/∂A| ⊙ A`, its sign chosen so that the largest magnitude is positive.
public struct SegEigenCAM: CAMMethod {
    /// Seg-Eigen-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "segeigencam", className: "SegEigenCAM",
        summary: "SegEigenCAM: the first principal component of |gradients| × activations, sign-corrected.",
        formula: "map = first principal component of (|dS/dA| ⊙ A) over channels, negated when |min| > |max|",
        paper: "Chung and Ying, Seg-Eigen-CAM: Eigen-Value-Based Visual Explanations for Semantic Segmentation Models, Applied Sciences 15(13) 7562, 2025 (Eq. 10-13)",
        needsGradients: true, weightsChannels: false) { _ in SegEigenCAM() }

    /// Creates the method.
    public init() {}

    /// `get_2d_projection_with_sign_correction(|G|·A)`; the projection applies that sign rule to
    /// every method, so `eigenSmooth` changes nothing here, as in the reference.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: true) { g, a in abs(g) * a }
    }
}
