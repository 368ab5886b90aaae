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
    public static let seedOption = CAMOption.torchSeed(before: "TorchCAM's SSCAM")

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
        var generator = TorchRandom(seed: seed)
        return try TorchCAMScores.sampledWeights(layer.activations, context: context, batchSize: batchSize,
                                                 samples: samples) { scorer, masks, _ in
            // One draw per sample for every image's masks, in image order, as TorchCAM draws it.
            var stream = TorchRandom.NormalStream(total: masks.count * masks[0].count, std: noise)
            return try masks.indices.map { image in
                var noisy = masks[image]
                let epsilon = stream.next(noisy.count, from: &generator)
                noisy.withUnsafeMutableBufferPointer { m in for i in 0..<m.count { m[i] += epsilon[i] } }
                return try scorer.gains(noisy, image: image)
            }
        }
    }
}
