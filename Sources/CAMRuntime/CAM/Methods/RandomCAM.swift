/// RandomCAM (pytorch-grad-cam's baseline): channel weights drawn uniformly from [−1, 1).
///
/// Seeded means: the same weights as `np.random.seed(seed)` followed by pytorch-grad-cam's
/// RandomCAM — numpy's legacy MT19937, one `uniform(-1, 1, size=(B, C))` per layer per forward,
/// in layer order (and augmentation-pass order), the map computed in float64 as numpy does.
public final class RandomCAM: CAMMethod {
    /// The seed of numpy's generator.
    public static let seed = CAMOption("seed", range: 0...Int(UInt32.max), default: 0,
                                       doc: "The seed of numpy's Mersenne Twister that draws the weights.")

    /// RandomCAM's declaration.
    public static let info = CAMMethodInfo(
        name: "randomcam", className: "RandomCAM",
        summary: "RandomCAM: random channel weights in [-1, 1] (a baseline for metrics); seed= makes it reproducible.",
        formula: "w_c ~ Uniform(-1, 1) (numpy's Mersenne Twister, seeded); map = ReLU(Σ_c w_c A_c)",
        paper: "pytorch-grad-cam's RandomCAM (a sanity-check baseline)",
        needsGradients: false, usesTarget: false, weightsChannels: true,
        options: [seed]) { options in RandomCAM(seed: UInt32(clamping: options.value(of: seed))) }

    private var generator: NumpyRandomState

    /// Creates the method with numpy's legacy generator seeded with `seed`.
    public init(seed: UInt32) { generator = NumpyRandomState(seed: seed) }

    /// `Σ_c w_c A_c` with fresh random weights, in float64.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try weightedLayerMap(layer, context: context, eigenSmooth: eigenSmooth).map
    }

    /// The map and its random weights (rounded to float32; the map uses them in float64).
    public func weightedLayerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> (map: Tensor, channelWeights: Tensor?) {
        let a = layer.activations
        let (b, c, hw) = CAMMath.dims(a)
        let weights = (0..<(b * c)).map { _ in generator.uniform(-1, 1) }
        var weighted = [Double](repeating: 0, count: a.count)
        for bc in 0..<(b * c) {
            for p in 0..<hw { weighted[bc * hw + p] = weights[bc] * Double(a.storage[bc * hw + p]) }
        }
        let map: [Double]
        if eigenSmooth {
            map = try Projection.firstComponent(weighted, shape: a.shape)
        } else {
            var sum = [Double](repeating: 0, count: b * hw)
            for i in 0..<b { for ch in 0..<c { for p in 0..<hw { sum[i * hw + p] += weighted[(i * c + ch) * hw + p] } } }
            map = sum
        }
        return (Tensor(shape: [b, a.shape[2], a.shape[3]], storage: map.map { Float($0) }),
                Tensor(shape: [b, c], storage: weights.map { Float($0) }))
    }
}
