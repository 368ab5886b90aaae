/// XGrad-CAM (Fu et al., BMVC 2020, Eq. 8): `w_c = Σ_ij (A_c,ij / (Σ_ab A_c,ab + 1e-7)) · ∂S/∂A_c,ij`.
public struct XGradCAM: ChannelWeightedCAMMethod {
    /// XGrad-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "xgradcam", className: "XGradCAM",
        summary: "XGrad-CAM: gradients weighted by the normalised activations.",
        formula: "w_c = Σ_ij (A_c,ij / (Σ_ab A_c,ab + 1e-7)) · dS/dA_c,ij; map = ReLU(Σ_c w_c A_c)",
        paper: "Fu et al., Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of CNNs, BMVC 2020 (Eq. 8)",
        needsGradients: true, weightsChannels: true) { _ in XGradCAM() }

    /// Creates the method.
    public init() {}

    /// The activation-weighted gradient sum per channel.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        let g = try layer.requireGradients(name), a = layer.activations
        let (b, c, hw) = CAMMath.dims(a)
        let sumA = CAMMath.channelSums(a, nil) { _, a in a }
        var out = [Float](repeating: 0, count: b * c)
        for bc in 0..<(b * c) {
            let d = sumA.storage[bc] + 1e-7, base = bc * hw
            var acc: Double = 0
            for p in 0..<hw { acc += Double(g.storage[base + p] * a.storage[base + p] / d) }
            out[bc] = Float(acc)
        }
        return Tensor(shape: [b, c], storage: out)
    }
}
