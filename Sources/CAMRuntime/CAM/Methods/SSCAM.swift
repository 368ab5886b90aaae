/// SS-CAM (Wang et al., 2020; TorchCAM's `SSCAM`): Score-CAM smoothed by noise on the masks —
/// each channel's normalised, upsampled activation plus Gaussian noise masks the input, and the
/// channel's weight is the softmax of the mean score gain over `samples` draws. No backward.
///
/// The noise is PyTorch's after `torch.manual_seed(seed)` (`TorchRandom`), drawn per sample for
/// all images' upsampled activations at once, as TorchCAM draws it; each target layer starts
/// from the seed again (TorchCAM's generator runs on from one layer to the next).
public struct SSCAM: ChannelWeightedCAMMethod {
    /// Masked inputs per forward pass (TorchCAM's default 32).
    public static let batchSizeOption = CAMOption("batch_size", range: 1...Int.max, default: 32,
                                                  doc: "Masked inputs per forward pass (TorchCAM's default 32).")
    /// Noisy draws of the masks (TorchCAM's `num_samples`, 35).
    public static let samplesOption = CAMOption("samples", range: 1...1000, default: 35,
                                                doc: "Noisy draws of the masks (TorchCAM's num_samples, 35).")
    /// The noise's standard deviation on the normalised masks (TorchCAM's `std`, 2.0).
    public static let noiseOption = CAMOption("noise", realRange: 0...1e6, default: 2,
                                              doc: "Standard deviation of the noise added to the normalised masks (TorchCAM's std, 2.0).")
    /// The seed of the noise (as `torch.manual_seed`).
    public static let seedOption = CAMOption("seed", range: 0...Int(UInt32.max), default: 0,
                                             doc: "Seed of the noise, as torch.manual_seed(seed) before TorchCAM's SSCAM.")

    /// SS-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "sscam", className: "SSCAM",
        summary: "SS-CAM: Score-CAM with Gaussian noise on the masks, the score gains averaged (no gradients; slow: channels × samples passes).",
        formula: "M_c = upsample(normalise(A_c)); w = softmax_c((1/N) Σ_i [S((M_c + ε_i) ⊙ x) − S(x)]), ε_i ~ N(0, σ²); map = ReLU(Σ_c w_c A_c)",
        paper: "Wang, Naidu, Mardziel, Ding, Zhao and Hu, SS-CAM: Smoothed Score-CAM for Sharper Visual Feature Localization, arXiv:2006.14255, 2020; TorchCAM's SSCAM",
        needsGradients: false, weightsChannels: true,
        options: [batchSizeOption, samplesOption, noiseOption, seedOption], cost: .perChannel) { options in
            SSCAM(batchSize: options.value(of: batchSizeOption), samples: options.value(of: samplesOption),
                  noise: Float(options.realValue(of: noiseOption)), seed: UInt32(clamping: options.value(of: seedOption)))
        }

    /// Masked inputs per forward pass.
    public var batchSize: Int
    /// Noisy draws.
    public var samples: Int
    /// The noise's standard deviation.
    public var noise: Float
    /// The noise's seed.
    public var seed: UInt32

    /// Creates the method.
    public init(batchSize: Int = 32, samples: Int = 35, noise: Float = 2, seed: UInt32 = 0) {
        self.batchSize = Swift.max(1, batchSize)
        self.samples = Swift.max(1, samples)
        self.noise = noise
        self.seed = seed
    }

    /// One forward pass per channel, sample and image, `batchSize` at a time.
    public func plannedWork(activations: [Tensor], images: Int, repetitions: Int) -> CAMWork? {
        CAMWork.perChannel(method: name, batchSize: batchSize, activations: activations, images: images,
                           repetitions: repetitions * samples)
    }

    /// `softmax_c(mean_i S((M_c + ε_i) ⊙ x) − S(x))`.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        let a = layer.activations
        let (b, c, _) = CAMMath.dims(a)
        let plane = context.input.shape[2] * context.input.shape[3]
        let batches = (c + batchSize - 1) / batchSize
        var scorer = TorchCAMScores(context: context, batchSize: batchSize, total: b * samples * batches)
        let masks = (0..<b).map { TorchCAMScores.normalisedMasks(a, image: $0, like: context.input) }
        var gains = [[Float]](repeating: [Float](repeating: 0, count: c), count: b)
        var generator = TorchRandom(seed: seed)
        for _ in 0..<samples {
            var stream = TorchRandom.NormalStream(total: b * c * plane, std: noise)
            for image in 0..<b {
                var noisy = masks[image]
                let epsilon = stream.next(c * plane, from: &generator)
                noisy.withUnsafeMutableBufferPointer { m in for i in 0..<m.count { m[i] += epsilon[i] } }
                let g = try scorer.gains(noisy, image: image)
                for ch in 0..<c { gains[image][ch] += g[ch] }
            }
        }
        var weights = [Float](repeating: 0, count: b * c)
        for image in 0..<b {
            let p = CAMTarget.probabilities(gains[image].map { $0 / Float(samples) }[...])
            for ch in 0..<c { weights[image * c + ch] = p[ch] }
        }
        return Tensor(shape: [b, c], storage: weights)
    }
}
