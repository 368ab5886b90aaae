/// Grad-CAM++ (Chattopadhay et al., WACV 2018, Eq. 19 with the closed-form α of Eq. 10):
/// `α_ij = g² / (2g² + Σ_ab A_ab · g³ + 1e-6)` (0 where g = 0), `w_c = Σ_ij α_ij · ReLU(g_ij)`.
public struct GradCAMPlusPlus: ChannelWeightedCAMMethod {
    /// Grad-CAM++'s declaration.
    public static let info = CAMMethodInfo(
        name: "gradcam++", builtin: "gradcampp", className: "GradCAMPlusPlus",
        summary: "Grad-CAM++: channel weights from positive gradients with pixel-wise α.",
        formula: "α_ij = g²/(2g² + Σ_ab A_ab·g³ + 1e-6), w_c = Σ_ij α_ij·ReLU(g_ij); map = ReLU(Σ_c w_c A_c)",
        paper: "Chattopadhay et al., Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks, WACV 2018 (Eq. 10, 19)",
        needsGradients: true, weightsChannels: true) { _ in GradCAMPlusPlus() }

    /// Creates the method.
    public init() {}

    /// `Σ_ij α_ij · max(g_ij, 0)` per channel.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        let g = try layer.requireGradients(name), a = layer.activations
        let (b, c, hw) = CAMMath.dims(a)
        let sumA = CAMMath.channelSums(a, nil) { _, a in a }
        var out = [Float](repeating: 0, count: b * c)
        for bc in 0..<(b * c) {
            let s = sumA.storage[bc], base = bc * hw
            var acc: Double = 0
            for p in 0..<hw {
                let gv = g.storage[base + p]
                guard gv != 0 else { continue }
                let g2 = gv * gv, g3 = g2 * gv
                let alpha = g2 / (2 * g2 + s * g3 + 0.000001)
                acc += Double(Swift.max(gv, 0) * alpha)
            }
            out[bc] = Float(acc)
        }
        return Tensor(shape: [b, c], storage: out)
    }
}
