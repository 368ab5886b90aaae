/// FEM, the Feature Explanation Method (Fuad et al., IPTA 2020): `w_c` is the fraction of
/// pixels where `A_c > mean(A_c) + k·std(A_c)` (k = 2); map `Σ_c w_c A_c`. No backward.
public struct FEM: CAMMethod {
    /// FEM's declaration.
    public static let info = CAMMethodInfo(
        name: "fem", className: "FEM",
        summary: "FEM: each channel weighted by the fraction of its pixels above mean + 2·std (no gradients, no target).",
        formula: "th_c = mean_ij A_c + 2·std_ij A_c; w_c = mean_ij [A_c,ij > th_c]; map = ReLU(Σ_c w_c A_c)",
        paper: "Fuad et al., Features Understanding in 3D CNNs for Actions Recognition in Video, IPTA 2020",
        needsGradients: false, usesTarget: false, weightsChannels: true) { _ in FEM() }

    /// The number of standard deviations above the mean that counts as salient.
    public var k: Float
    /// Creates the method with pytorch-grad-cam's default `k = 2`.
    public init(k: Float = 2) { self.k = k }

    /// `Σ_c mean_hw(A_c > th_c) · A_c`, in float64 as numpy promotes the boolean mean.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try weightedLayerMap(layer, context: context, eigenSmooth: eigenSmooth).map
    }

    /// The map and the weights `w_c = mean_hw(A_c > th_c)` (exact in float32: fractions of
    /// at most 2^24 pixels).
    public func weightedLayerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> (map: Tensor, channelWeights: Tensor?) {
        let a = layer.activations
        let (b, c, hw) = CAMMath.dims(a)
        var out = [Double](repeating: 0, count: b * hw)
        var weights = [Float](repeating: 0, count: b * c)
        for i in 0..<b {
            for ch in 0..<c {
                let base = (i * c + ch) * hw
                var sum: Double = 0
                for p in 0..<hw { sum += Double(a.storage[base + p]) }
                let mean = Float(sum / Double(hw))
                var squares: Double = 0
                for p in 0..<hw { let d = a.storage[base + p] - mean; squares += Double(d * d) }
                let std = Float(squares / Double(hw)).squareRoot()
                let threshold = mean + k * std
                var above = 0
                for p in 0..<hw where a.storage[base + p] > threshold { above += 1 }
                let w = Double(above) / Double(hw)
                weights[i * c + ch] = Float(w)
                guard w != 0 else { continue }
                for p in 0..<hw { out[i * hw + p] += w * Double(a.storage[base + p]) }
            }
        }
        return (Tensor(shape: [b, a.shape[2], a.shape[3]], storage: out.map { Float($0) }), Tensor(shape: [b, c], storage: weights))
    }
}
