/// Eigen-CAM (Muhammad & Yeasin, IJCNN 2020, Eq. 4): the projection of the centred activations
/// on their first principal component (first right singular vector); class-agnostic, no backward.
public struct EigenCAM: CAMMethod {
    /// Eigen-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "eigencam", className: "EigenCAM",
        summary: "EigenCAM: the first principal component of the activations (no gradients, no target).",
        formula: "map = A·v₁ where v₁ is the first right singular vector of the activations [HW, C] (sign as numpy's SVD)",
        paper: "Muhammad and Yeasin, Eigen-CAM: Class Activation Map using Principal Components, IJCNN 2020",
        needsGradients: false, usesTarget: false, weightsChannels: false) { _ in EigenCAM() }

    /// Creates the method.
    public init() {}

    /// `get_2d_projection(A)` (`eigenSmooth` changes nothing here, as in the reference).
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try Projection.firstComponent(layer.activations)
    }
}
