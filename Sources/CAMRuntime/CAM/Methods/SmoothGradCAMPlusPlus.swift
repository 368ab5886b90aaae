/// Smooth Grad-CAM++ (Omeiza et al., 2019; TorchCAM's `SmoothGradCAMpp`): Grad-CAM++ whose α
/// comes from the gradients' second and third powers averaged over noisy copies of the input.
///
/// As TorchCAM computes it: `α = ḡ² / (2ḡ² + Σ_ij ḡ³_ij A_ij + 1e-8)` with `ḡᵏ` the mean of
/// `gᵏ` over the `samples` noisy inputs and `A` the clean activations; the weights are
/// `Σ_ij α_ij ReLU(g_ij)` with `g` the last noisy sample's gradient, and the map weights that
/// last sample's activations (TorchCAM's hooks keep the last pass's tensors). The noise is
/// PyTorch's after `torch.manual_seed(seed)` (`TorchRandom`), one draw of the input's size per
/// sample; each target layer runs its samples from the seed again.
public struct SmoothGradCAMPlusPlus: CAMMethod {
    /// Noisy copies of the input (TorchCAM's `num_samples`, 4).
    public static let samplesOption = CAMOption("samples", range: 1...1000, default: 4,
                                                doc: "Noisy copies of the input (TorchCAM's num_samples, 4).")
    /// The noise's standard deviation (TorchCAM's `std`, 0.3).
    public static let noiseOption = CAMOption("noise", realRange: 0...1e6, default: 0.3,
                                              doc: "Standard deviation of the noise, in the normalised input's units (TorchCAM's std, 0.3).")
    /// The seed of the noise (as `torch.manual_seed`).
    public static let seedOption = CAMOption.torchSeed(before: "TorchCAM's SmoothGradCAMpp")

    /// Smooth Grad-CAM++'s declaration.
    public static let info = CAMMethodInfo(
        name: "smoothgradcam++", builtin: "smoothgradcampp", aliases: ["smoothgradcampp", "smooth_gradcampp"],
        className: "SmoothGradCAMpp",
        summary: "Smooth Grad-CAM++: Grad-CAM++ with the gradient powers averaged over noisy copies of the input (TorchCAM's).",
        formula: "α = mean(g²) / (2·mean(g²) + Σ_ij mean(g³)_ij A_ij + 1e-8) over noisy inputs x + ε, ε ~ N(0, σ²); w_c = Σ_ij α_ij ReLU(g_ij); map = ReLU(Σ_c w_c A_c)",
        paper: "Omeiza, Speakman, Cintas and Weldemariam, Smooth Grad-CAM++: An Enhanced Inference Level Visualization Technique for Deep Convolutional Neural Network Models, arXiv:1908.01224, 2019; TorchCAM's SmoothGradCAMpp",
        needsGradients: true, weightsChannels: true,
        options: [samplesOption, noiseOption, seedOption], cost: .wholeNetwork) { options in
            SmoothGradCAMPlusPlus(samples: options.value(of: samplesOption), noise: Float(options.realValue(of: noiseOption)),
                                  seed: UInt32(clamping: options.value(of: seedOption)))
        }

    /// Noisy copies of the input.
    public var samples: Int
    /// The noise's standard deviation.
    public var noise: Float
    /// The noise's seed.
    public var seed: UInt32

    /// Creates the method.
    public init(samples: Int = 4, noise: Float = 0.3, seed: UInt32 = 0) {
        self.samples = Swift.max(1, samples)
        self.noise = noise
        self.seed = seed
    }

    /// A forward and backward pass per sample and target layer, over the whole batch.
    public func plannedWork(activations: [Tensor], images: Int, repetitions: Int) -> CAMWork? {
        let passes = samples * activations.count * repetitions
        return CAMWork(method: name, forwardPasses: passes * images, batches: passes, batchSize: images,
                       images: images, channels: [], biasLayers: 0, repetitions: repetitions)
    }

    /// The map from the last noisy sample's activations.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try weightedLayerMap(layer, context: context, eigenSmooth: eigenSmooth).map
    }

    /// The weights and the map, after the noisy passes.
    public func weightedLayerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> (map: Tensor, channelWeights: Tensor?) {
        let clean = layer.activations
        let (b, c, hw) = CAMMath.dims(clean)
        let input = context.input
        var generator = TorchRandom(seed: seed)
        var g2 = [Float](repeating: 0, count: clean.count), g3 = g2
        var last: (activations: Tensor, gradients: Tensor)?
        for sample in 0..<samples {
            try context.cancellation?.check()
            let epsilon = generator.normal(count: input.count, std: noise)
            var noisy = input
            noisy.withUnsafeMutableBufferPointer { x in for i in 0..<x.count { x[i] += epsilon[i] } }
            let forward = try context.network.forward(noisy, recording: [layer.name], retainingFor: [layer.name],
                                                      cancellation: context.cancellation)
            let backward = try context.network.backward(CAMEngine.logitsGradient(context.targets, logits: forward.logits),
                                                        gradientsAt: [layer.name], inputGradient: false, reluMode: .standard)
            guard let a = forward.activations[layer.name], let g = backward.gradients[layer.name], g.shape == clean.shape else {
                throw RuntimeError("\(name) needs the gradients at layer \"\(layer.name)\" for each noisy input, but the network returned none")
            }
            for i in 0..<g.count {
                let v = g.storage[i], square = v * v
                g2[i] += square
                g3[i] += square * v
            }
            last = (a, g)
            context.progress?(sample + 1, samples)
        }
        guard let (activations, gradients) = last else { throw RuntimeError("\(name) needs at least one sample") }
        let n = Float(samples)
        var weights = [Float](repeating: 0, count: b * c)
        for bc in 0..<(b * c) {
            let base = bc * hw
            var s3: Float = 0
            for p in 0..<hw { s3 += (g3[base + p] / n) * clean.storage[base + p] }
            var w: Float = 0
            for p in 0..<hw {
                let m2 = g2[base + p] / n
                w += m2 / (2 * m2 + s3 + 1e-8) * Swift.max(gradients.storage[base + p], 0)
            }
            weights[bc] = w
        }
        let channelWeights = Tensor(shape: [b, c], storage: weights)
        return (try CAMMath.weightedMap(activations, weights: channelWeights, eigenSmooth: eigenSmooth), channelWeights)
    }
}
