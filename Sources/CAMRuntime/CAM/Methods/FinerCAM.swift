/// Finer-CAM (Zhang et al., CVPR 2025): Grad-CAM of the difference between the target class and
/// the classes the model finds most similar, so the map shows what tells them apart instead of
/// what they share.
///
/// Each image's target class `t` is compared with the three other classes whose logits are
/// closest to `t`'s (pytorch-grad-cam's default comparison categories 1, 2, 3 of the sorted
/// |logit − logit_t|, fewer on a model with fewer classes), with α = 1. `target=` names `t`
/// (pytorch-grad-cam's `target_idx`); without it `t` is the top class.
public struct FinerCAM: ChannelWeightedCAMMethod {
    /// Finer-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "finercam", className: "FinerCAM",
        summary: "Finer-CAM: Grad-CAM of the target's logit against its three most similar classes (what sets it apart).",
        formula: "S = Σ_j p_j (y_t − α y_j) / Σ_j p_j over the 3 classes j with the closest logits, p = softmax(y), α = 1; w_c = mean_ij dS/dA_c,ij; map = ReLU(Σ_c w_c A_c)",
        paper: "Zhang et al., Finer-CAM: Spotting the Difference Reveals Finer Details for Visual Explanation, CVPR 2025",
        needsGradients: true, weightsChannels: true) { _ in FinerCAM() }

    /// How many of the closest classes each target is compared with (pytorch-grad-cam's default).
    static let comparisons = 3

    /// Creates the method.
    public init() {}

    /// Grad-CAM's weights, of the comparison score.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        try GradCAM().channelWeights(layer, context: context)
    }

    /// Each target compared with the classes whose logits are nearest to its own.
    public func explainedTargets(_ targets: [CAMTarget], logits: Tensor) throws -> [CAMTarget] {
        let k = logits.shape[1]
        return try targets.enumerated().map { i, target in
            switch target {
            case .logit(let t):
                let row = Array(logits.storage[(i * k)..<((i + 1) * k)])
                // numpy's argsort of |y − y_t|; ties (rare) by class index.
                let nearest = (0..<k).filter { $0 != t }
                    .sorted { (abs(row[$0] - row[t]), $0) < (abs(row[$1] - row[t]), $1) }
                return .finer(main: t, comparisons: Array(nearest.prefix(Self.comparisons)), alpha: 1)
            case .softmax:
                throw RuntimeError("Finer-CAM's score compares logits and weighs them with the softmax itself (pytorch-grad-cam's FinerWeightedTarget): leave out softmax=")
            case .binary:
                throw RuntimeError("Finer-CAM compares the target class with the classes most like it, but this model has one logit (a binary classifier): use gradcam")
            case .finer:
                return target
            }
        }
    }
}
