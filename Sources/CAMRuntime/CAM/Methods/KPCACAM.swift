/// KPCA-CAM (Karmani et al., 2024): Eigen-CAM with kernel PCA — the activations' first kernel
/// principal component under the sigmoid kernel, class-agnostic and without a backward pass.
public struct KPCACAM: CAMMethod {
    /// KPCA-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "kpcacam", aliases: ["kpca"], className: "KPCA_CAM",
        summary: "KPCA-CAM: the first kernel principal component of the activations (sigmoid kernel; no gradients, no target).",
        formula: "K_pq = tanh(⟨a_p, a_q⟩/C + 1) over the centred pixel vectors a_p; map = √λ₁·v₁ of the centred K (scikit-learn's KernelPCA, svd_flip sign)",
        paper: "Karmani, Sarkar, Chakraborty and Mukherjee, KPCA-CAM: Visual Explainability of Deep Computer Vision Models using Kernel PCA, MMSP 2024",
        needsGradients: false, usesTarget: false, weightsChannels: false) { _ in KPCACAM() }

    /// Creates the method.
    public init() {}

    /// `get_2d_projection_kernel(A, "sigmoid", gamma=None)` (`eigenSmooth` changes nothing, as in
    /// the reference).
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try Projection.kernelFirstComponent(layer.activations)
    }
}
