/// Grad-CAM (Selvaraju et al., ICCV 2017, Eq. 1): `α_c = (1/Z) Σ_ij ∂S/∂A_c,ij`, the spatial mean
/// of the gradient; map `Σ_c α_c A_c`.
public struct GradCAM: ChannelWeightedCAMMethod {
    /// `"GradCAM"`.
    public var name: String { "GradCAM" }
    /// Grad-CAM needs dS/dA.
    public var usesGradients: Bool { true }
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

/// Grad-CAM++ (Chattopadhay et al., WACV 2018, Eq. 19 with the closed-form α of Eq. 10):
/// `α_ij = g² / (2g² + Σ_ab A_ab · g³ + 1e-6)` (0 where g = 0), `w_c = Σ_ij α_ij · ReLU(g_ij)`.
public struct GradCAMPlusPlus: ChannelWeightedCAMMethod {
    /// `"GradCAMPlusPlus"`.
    public var name: String { "GradCAMPlusPlus" }
    /// Grad-CAM++ needs dS/dA.
    public var usesGradients: Bool { true }
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

/// XGrad-CAM (Fu et al., BMVC 2020, Eq. 8): `w_c = Σ_ij (A_c,ij / (Σ_ab A_c,ab + 1e-7)) · ∂S/∂A_c,ij`.
public struct XGradCAM: ChannelWeightedCAMMethod {
    /// `"XGradCAM"`.
    public var name: String { "XGradCAM" }
    /// XGrad-CAM needs dS/dA.
    public var usesGradients: Bool { true }
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

/// HiResCAM (Draelos & Carin 2020, Eq. 4): `Σ_c ∂S/∂A_c ⊙ A_c`, the gradient kept per pixel.
public struct HiResCAM: CAMMethod {
    /// `"HiResCAM"`.
    public var name: String { "HiResCAM" }
    /// HiResCAM needs dS/dA.
    public var usesGradients: Bool { true }
    /// Creates the method.
    public init() {}

    /// `Σ_c G·A` (or its principal component with `eigenSmooth`).
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: eigenSmooth) { g, a in g * a }
    }
}

/// Grad-CAM element-wise (pytorch-grad-cam's variant of HiResCAM): `Σ_c ReLU(∂S/∂A_c ⊙ A_c)`.
public struct GradCAMElementWise: CAMMethod {
    /// `"GradCAMElementWise"`.
    public var name: String { "GradCAMElementWise" }
    /// It needs dS/dA.
    public var usesGradients: Bool { true }
    /// Creates the method.
    public init() {}

    /// `Σ_c max(G·A, 0)`.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: eigenSmooth) { g, a in
            Swift.max(g * a, 0)
        }
    }
}

/// LayerCAM (Jiang et al., IEEE TIP 2021, Eq. 5–6): `Σ_c ReLU(∂S/∂A_c) ⊙ A_c`.
public struct LayerCAM: CAMMethod {
    /// `"LayerCAM"`.
    public var name: String { "LayerCAM" }
    /// LayerCAM needs dS/dA.
    public var usesGradients: Bool { true }
    /// Creates the method.
    public init() {}

    /// `Σ_c max(G, 0)·A`.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: eigenSmooth) { g, a in
            Swift.max(g, 0) * a
        }
    }
}

/// Eigen-CAM (Muhammad & Yeasin, IJCNN 2020, Eq. 4): the projection of the centred activations
/// on their first principal component (first right singular vector); class-agnostic, no backward.
public struct EigenCAM: CAMMethod {
    /// The first principal component of the activations is the same for every class.
    public var usesTarget: Bool { false }
    /// `"EigenCAM"`.
    public var name: String { "EigenCAM" }
    /// Eigen-CAM uses activations only.
    public var usesGradients: Bool { false }
    /// Creates the method.
    public init() {}

    /// `get_2d_projection(A)` (`eigenSmooth` changes nothing here, as in the reference).
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try Projection.firstComponent(layer.activations)
    }
}

/// Eigen-Grad-CAM (pytorch-grad-cam): the first principal component projection of `∂S/∂A ⊙ A`.
public struct EigenGradCAM: CAMMethod {
    /// `"EigenGradCAM"`.
    public var name: String { "EigenGradCAM" }
    /// It needs dS/dA.
    public var usesGradients: Bool { true }
    /// Creates the method.
    public init() {}

    /// `get_2d_projection(G·A)`.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try CAMMath.elementwiseMap(layer.activations, layer.requireGradients(name), eigenSmooth: true) { g, a in g * a }
    }
}

/// FEM, the Feature Explanation Method (Fuad et al., IPTA 2020): `w_c` is the fraction of
/// pixels where `A_c > mean(A_c) + k·std(A_c)` (k = 2); map `Σ_c w_c A_c`. No backward.
public struct FEM: CAMMethod {
    /// The channel selection reads the activations only.
    public var usesTarget: Bool { false }
    /// `"FEM"`.
    public var name: String { "FEM" }
    /// FEM uses activations only.
    public var usesGradients: Bool { false }
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

/// RandomCAM (pytorch-grad-cam's baseline): channel weights drawn uniformly from [−1, 1).
///
/// Seeded means: the same weights as `np.random.seed(seed)` followed by pytorch-grad-cam's
/// RandomCAM — numpy's legacy MT19937, one `uniform(-1, 1, size=(B, C))` per layer per forward,
/// in layer order (and augmentation-pass order), the map computed in float64 as numpy does.
public final class RandomCAM: CAMMethod {
    /// The weights are random, whatever the class.
    public var usesTarget: Bool { false }
    /// `"RandomCAM"`.
    public var name: String { "RandomCAM" }
    /// The weights do not depend on gradients.
    public var usesGradients: Bool { false }
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

/// Score-CAM (Wang et al., CVPR-W 2020, Eq. 4–6): each channel, upsampled with
/// `align_corners=True` and min-max normalised, masks the (normalised) input; the target scores
/// of the masked inputs, softmaxed over channels, are the channel weights. No backward.
public struct ScoreCAM: ChannelWeightedCAMMethod {
    /// `"ScoreCAM"`.
    public var name: String { "ScoreCAM" }
    /// Score-CAM uses forward passes only.
    public var usesGradients: Bool { false }
    /// Masked inputs per forward pass (pytorch-grad-cam's default 16).
    public var batchSize: Int
    /// Creates the method.
    public init(batchSize: Int = 16) { self.batchSize = Swift.max(1, batchSize) }

    /// `softmax_c(S(input ⊙ norm(up(A_c))))`.
    ///
    /// A channel that is constant over the layer (all zero after a ReLU, say) normalises to an
    /// all-zero mask, `(m − min) / (max − min + 1e-8) = 0`, so its masked input is the zero
    /// image whatever the channel: such channels share one forward pass of the zero image.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        let a = layer.activations
        let (b, c, hw) = CAMMath.dims(a)
        let (h, w) = (a.shape[2], a.shape[3])
        let input = context.input
        let (channels, height, width) = (input.shape[1], input.shape[2], input.shape[3])
        let plane = height * width
        let batches = (c + batchSize - 1) / batchSize
        var weights = [Float](repeating: 0, count: b * c)
        var zeroImageLogits: Tensor?
        for image in 0..<b {
            let picture = input.storage[(image * channels * plane)..<((image + 1) * channels * plane)]
            var scores = [Float](repeating: 0, count: c)
            var constant: [Int] = []
            for start in stride(from: 0, to: c, by: batchSize) {
                try context.cancellation?.check()
                let n = Swift.min(batchSize, c - start)
                let maps = Tensor(shape: [n, h, w],
                                  storage: Array(a.storage[((image * c + start) * hw)..<((image * c + start + n) * hw)]))
                let up = CAMInterpolation.upsampleAlignCorners(maps, toWidth: width, height: height)
                var masked: [Float] = []
                masked.reserveCapacity(n * channels * plane)
                var varying: [Int] = []
                for i in 0..<n {
                    let m = up.storage[(i * plane)..<((i + 1) * plane)]
                    let lo = m.min() ?? 0, hi = m.max() ?? 0
                    if lo == hi {
                        constant.append(start + i)
                        continue
                    }
                    varying.append(start + i)
                    let d = hi - lo + 1e-8
                    for ch in 0..<channels {
                        let src = picture.startIndex + ch * plane
                        for p in 0..<plane { masked.append(picture[src + p] * ((m[m.startIndex + p] - lo) / d)) }
                    }
                }
                if !varying.isEmpty {
                    let logits = try context.network.forward(
                        Tensor(shape: [varying.count, channels, height, width], storage: masked),
                        recording: [], retainForBackward: false, cancellation: context.cancellation).logits
                    for (channel, score) in zip(varying, context.scores(logits, image: image)) { scores[channel] = score }
                }
                context.progress?(image * batches + start / batchSize + 1, b * batches)
            }
            if !constant.isEmpty {
                if zeroImageLogits == nil {
                    zeroImageLogits = try context.network.forward(Tensor(shape: [1, channels, height, width]),
                                                                  recording: [], retainForBackward: false,
                                                                  cancellation: context.cancellation).logits
                }
                if let logits = zeroImageLogits, let score = context.scores(logits, image: image).first {
                    for channel in constant { scores[channel] = score }
                }
            }
            let p = CAMTarget.probabilities(scores[...])
            for ch in 0..<c { weights[image * c + ch] = p[ch] }
        }
        return Tensor(shape: [b, c], storage: weights)
    }
}

/// Ablation-CAM (Desai & Ramaswamy, WACV 2020, Eq. 3): `w_c = (S − S_c) / S`, where `S_c` is the
/// score with channel c of the layer ablated. Only the layers after the target layer are re-run,
/// from its cached output (`CAMNetwork.forward(after:activation:)`); the ablated channel is set to
/// 0 when the layer's minimum is 0, else to the running minimum − 1e7 of the batch, exactly as
/// pytorch-grad-cam's `AblationLayer` does.
public struct AblationCAM: ChannelWeightedCAMMethod {
    /// `"AblationCAM"`.
    public var name: String { "AblationCAM" }
    /// Ablation-CAM uses forward passes only.
    public var usesGradients: Bool { false }
    /// Ablated copies per forward pass (pytorch-grad-cam's default 32; it changes the ablation
    /// values of non-zero-minimum layers, so keep 32 for parity).
    public var batchSize: Int
    /// Creates the method.
    public init(batchSize: Int = 32) { self.batchSize = Swift.max(1, batchSize) }

    /// The relative score drops.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        let a = layer.activations
        let (b, c, hw) = CAMMath.dims(a)
        let k = context.logits.shape[1]
        let batches = (c + batchSize - 1) / batchSize
        var weights = [Float](repeating: 0, count: b * c)
        for image in 0..<b {
            let original = context.targets[image].score(context.logits.storage[(image * k)..<((image + 1) * k)])
            let block = Array(a.storage[(image * c * hw)..<((image + 1) * c * hw)])
            let minimum = block.min() ?? 0
            for start in stride(from: 0, to: c, by: batchSize) {
                try context.cancellation?.check()
                let n = Swift.min(batchSize, c - start)
                var batch = [Float]()
                batch.reserveCapacity(n * c * hw)
                var current = minimum
                for i in 0..<n {
                    let value: Float
                    if current == 0 {
                        value = 0
                    } else {
                        value = current - 1e7
                        current = Swift.min(current, value)
                    }
                    batch += block
                    let offset = i * c * hw + (start + i) * hw
                    for p in 0..<hw { batch[offset + p] = value }
                }
                let logits = try context.network.forward(after: layer.name,
                                                         activation: Tensor(shape: [n, c, a.shape[2], a.shape[3]], storage: batch),
                                                         cancellation: context.cancellation)
                let scores = context.scores(logits, image: image)
                for i in 0..<n { weights[image * c + start + i] = (original - scores[i]) / original }
                context.progress?(image * batches + start / batchSize + 1, b * batches)
            }
        }
        return Tensor(shape: [b, c], storage: weights)
    }
}

/// FullGrad (Srinivas & Fleuret, NeurIPS 2019, Eq. 6): `|x ⊙ ∂S/∂x|` plus, for every layer with a
/// bias (Conv2d with bias, BatchNorm2d), `|b ⊙ ∂S/∂z|`, each channel min-max scaled and resized to
/// the input, summed; target layers are ignored. Computed by `CAMEngine` (it needs the input
/// gradient and every bias layer).
public struct FullGrad: CAMMethod {
    /// Every bias layer and the input, never the target layers.
    public var usesLayers: Bool { false }
    /// `"FullGrad"`.
    public var name: String { "FullGrad" }
    /// FullGrad needs gradients at every bias layer and at the input.
    public var usesGradients: Bool { true }
    /// Creates the method.
    public init() {}

    /// Not used: FullGrad works on the whole network, see `CAMEngine`.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        throw RuntimeError("FullGrad does not use target layers; compute it with CAMEngine")
    }
}
