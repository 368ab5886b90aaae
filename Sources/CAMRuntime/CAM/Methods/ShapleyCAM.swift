/// ShapleyCAM (Cai, ICLR 2025), as pytorch-grad-cam 1.5.7's `ShapleyCAM`: Grad-CAM's weights
/// corrected by the second-order term of a Shapley-value expansion of the target's score,
/// `w_c = mean_ij (∂S/∂A − ½ H·A)_c,ij`, with `H·A` the Hessian-vector product of the score
/// with respect to the layer's output along that output.
///
/// The Hessian-vector product is computed exactly, without double backward: when the network
/// after the layer is affine or piecewise linear (convolutions, batch norms, ReLU, ReLU6,
/// pooling, linear layers — every native model at a block's output), the logits' own second
/// derivatives vanish and `H·A = Jᵀ (H_S · J·A)`, with `J·A` a forward-mode pass
/// (`logitsTangent`), `H_S` the target's Hessian over the logits in closed form (zero for a
/// logit, so the map is Grad-CAM's; the softmax's for `softmax=true`, the paper's case), and
/// `Jᵀ` a second backward through the same retained pass. A network with a smooth nonlinearity
/// after the layer (GELU, LayerNorm, attention) is refused, naming it.
public struct ShapleyCAM: ChannelWeightedCAMMethod {
    /// ShapleyCAM's declaration.
    public static let info = CAMMethodInfo(
        name: "shapleycam", className: "ShapleyCAM",
        summary: "ShapleyCAM: Grad-CAM's weights minus half the Hessian-vector product of the score along the activations (a Shapley-value view of CAM; use softmax=true).",
        formula: "w_c = mean_ij (∂S/∂A − ½ ∇²_A S · A)_c,ij; map = ReLU(Σ_c w_c A_c)",
        paper: "Cai, CAMs as Shapley Value-based Explainers, ICLR 2025 (arXiv:2501.06261, Eq. 10); as pytorch-grad-cam 1.5.7's ShapleyCAM",
        needsGradients: true, weightsChannels: true) { _ in ShapleyCAM() }

    /// Creates the method.
    public init() {}

    /// `mean_hw(G − ½ H·A)`.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        let g = try layer.requireGradients(name)
        let a = layer.activations
        let hvp = try hessianVectorProduct(layer, context: context)
        let (b, c, hw) = CAMMath.dims(a)
        var weights = [Float](repeating: 0, count: b * c)
        for bc in 0..<(b * c) {
            var sum: Double = 0
            for p in 0..<hw { sum += Double(g.storage[bc * hw + p] - 0.5 * (hvp?.storage[bc * hw + p] ?? 0)) }
            weights[bc] = Float(sum / Double(hw))
        }
        return Tensor(shape: [b, c], storage: weights)
    }

    /// `H·A` at the layer, or nil when it is zero (a logit target through piecewise-linear layers).
    func hessianVectorProduct(_ layer: LayerCapture, context: CAMContext) throws -> Tensor? {
        let a = layer.activations
        // The scores' Hessians are taken at the pass's own logits; the tangent pass recomputes
        // the head only to carry J·A.
        let tangent: Tensor
        do {
            tangent = try context.network.logitsTangent(after: layer.name, activation: a, direction: a,
                                                        cancellation: context.cancellation).tangent
        } catch let error as RuntimeError {
            throw RuntimeError("ShapleyCAM needs the Hessian of the score, which CAMScript computes exactly when the layers "
                               + "after \"\(layer.name)\" are affine or piecewise linear (convolutions, batch norms, ReLU, "
                               + "pooling, linear layers): \(error.message)")
        }
        let logits = context.logits
        guard tangent.shape == logits.shape else {
            throw RuntimeError("ShapleyCAM: the tangent of the logits has shape \(tangent.shape), the logits \(logits.shape)")
        }
        let k = logits.shape[1]
        var u = [Float](repeating: 0, count: logits.count)
        for (i, target) in context.targets.enumerated() {
            guard let product = target.hessianVectorProduct(logits.storage[(i * k)..<((i + 1) * k)],
                                                            tangent.storage[(i * k)..<((i + 1) * k)]) else {
                throw RuntimeError("ShapleyCAM explains a logit or a softmax probability, not \(target)")
            }
            for j in 0..<k { u[i * k + j] = product[j] }
        }
        guard u.contains(where: { $0 != 0 }) else { return nil }
        let back = try context.network.backward(Tensor(shape: logits.shape, storage: u), gradientsAt: [layer.name],
                                                inputGradient: false, reluMode: .standard)
        guard let hvp = back.gradients[layer.name], hvp.shape == a.shape else {
            throw RuntimeError("ShapleyCAM: the second backward returned no gradient at layer \"\(layer.name)\"")
        }
        return hvp
    }
}
