/// IS-CAM (Naidu et al., 2020; TorchCAM's `ISCAM`): Score-CAM whose channel scores are
/// integrated along a path of growing masks — for sample i the input is masked with the
/// channel's normalised, upsampled activation and scaled by `Σ_{j≤i} j/N`; the weights are the
/// softmax of the mean gain over the unmasked input's score. No backward.
public struct ISCAM: ChannelWeightedCAMMethod {
    /// Masked inputs per forward pass (TorchCAM's default 32).
    public static let batchSizeOption = CAMOption("batch_size", range: 1...Int.max, default: 32,
                                                  doc: "Masked inputs per forward pass (TorchCAM's default 32).")
    /// Points of the integration path (TorchCAM's `num_samples`, 10).
    public static let samplesOption = CAMOption("samples", range: 1...1000, default: 10,
                                                doc: "Points of the integration path (TorchCAM's num_samples, 10).")

    /// IS-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "iscam", className: "ISCAM",
        summary: "IS-CAM: Score-CAM with each channel's score integrated over growing masks (no gradients; slow: channels × samples passes).",
        formula: "M_c = upsample(normalise(A_c)); w = softmax_c((1/N) Σ_i [S(k_i·M_c ⊙ x) − S(x)]), k_i = Σ_{j≤i} j/N; map = ReLU(Σ_c w_c A_c)",
        paper: "Naidu, Ghosh, Maurya, Kundu and Prasad, IS-CAM: Integrated Score-CAM for axiomatic-based explanations, arXiv:2010.03023, 2020; TorchCAM's ISCAM",
        needsGradients: false, weightsChannels: true, options: [batchSizeOption, samplesOption], cost: .perChannel) { options in
            ISCAM(batchSize: options.value(of: batchSizeOption), samples: options.value(of: samplesOption))
        }

    /// Masked inputs per forward pass.
    public var batchSize: Int
    /// Points of the integration path.
    public var samples: Int

    /// Creates the method.
    public init(batchSize: Int = 32, samples: Int = 10) {
        self.batchSize = Swift.max(1, batchSize)
        self.samples = Swift.max(1, samples)
    }

    /// One forward pass per channel, sample and image, `batchSize` at a time.
    public func plannedWork(activations: [Tensor], images: Int, repetitions: Int) -> CAMWork? {
        CAMWork.perChannel(method: name, batchSize: batchSize, activations: activations, images: images,
                           repetitions: repetitions * samples)
    }

    /// `softmax_c(mean_i S(k_i · x ⊙ M_c) − S(x))`.
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        try TorchCAMScores.sampledWeights(layer.activations, context: context, batchSize: batchSize, samples: samples) { scorer, masks, sample in
            let coefficient = (1...(sample + 1)).reduce(Float(0)) { $0 + Float($1) / Float(samples) }
            return try masks.indices.map { try scorer.gains(masks[$0], image: $0, scale: coefficient) }
        }
    }
}

/// What TorchCAM's Score-CAM family (IS-CAM, SS-CAM) shares: masks from the activations and the
/// target's score gain of each masked input over the unmasked one, in batches.
struct TorchCAMScores {
    let context: CAMContext
    let batchSize: Int
    /// Batches in the whole computation, for progress.
    let total: Int
    private var done = 0

    init(context: CAMContext, batchSize: Int, total: Int) {
        self.context = context
        self.batchSize = batchSize
        self.total = total
    }

    /// The weights of a Score-CAM scored once per sample: per image, the softmax over channels of
    /// the mean of the gains `gains(scorer, masks, sample)` returns for each image (its masks
    /// are the images' normalised, upsampled activations).
    static func sampledWeights(_ a: Tensor, context: CAMContext, batchSize: Int, samples: Int,
                               gains: (inout TorchCAMScores, [Tensor], Int) throws -> [[Float]]) throws -> Tensor {
        let (b, c, _) = CAMMath.dims(a)
        let batches = (c + batchSize - 1) / batchSize
        var scorer = TorchCAMScores(context: context, batchSize: batchSize, total: b * samples * batches)
        let masks = (0..<b).map { normalisedMasks(a, image: $0, like: context.input) }
        var total = [[Float]](repeating: [Float](repeating: 0, count: c), count: b)
        for sample in 0..<samples {
            for (image, g) in try gains(&scorer, masks, sample).enumerated() {
                for ch in 0..<c { total[image][ch] += g[ch] }
            }
        }
        var weights = [Float](repeating: 0, count: b * c)
        for image in 0..<b {
            let p = CAMTarget.probabilities(total[image].map { $0 / Float(samples) }[...])
            for ch in 0..<c { weights[image * c + ch] = p[ch] }
        }
        return Tensor(shape: [b, c], storage: weights)
    }

    /// TorchCAM's normalisation of image `image`'s channels, `(a − min) / (max − min + 1e-8)`,
    /// then the bilinear upsampling (align_corners=False) to the input's size: `[C, H, W]`.
    static func normalisedMasks(_ a: Tensor, image: Int, like input: Tensor) -> Tensor {
        let (_, c, hw) = CAMMath.dims(a)
        var normalised = [Float](a.storage[(image * c * hw)..<((image + 1) * c * hw)])
        for ch in 0..<c {
            let range = (ch * hw)..<((ch + 1) * hw)
            let lo = normalised[range].min() ?? 0
            for i in range { normalised[i] -= lo }
            let d = (normalised[range].max() ?? 0) + 1e-8
            for i in range { normalised[i] /= d }
        }
        return CAMInterpolation.resizeLinear(Tensor(shape: [c, a.shape[2], a.shape[3]], storage: normalised),
                                             toWidth: input.shape[3], height: input.shape[2])
    }

    /// For each mask `M_c` of `masks` (`[C, H, W]`), `S(scale · (M_c ⊙ x)) − S(x)` for image `image`.
    mutating func gains(_ masks: Tensor, image: Int, scale: Float = 1) throws -> [Float] {
        let input = context.input
        let (channels, height, width) = (input.shape[1], input.shape[2], input.shape[3])
        let plane = height * width, c = masks.shape[0]
        let picture = input.storage[(image * channels * plane)..<((image + 1) * channels * plane)]
        let unmasked = context.scores(context.logits, image: image)[image]
        var gains = [Float](repeating: 0, count: c)
        for start in stride(from: 0, to: c, by: batchSize) {
            try context.cancellation?.check()
            let n = Swift.min(batchSize, c - start)
            var masked = [Float](repeating: 0, count: n * channels * plane)
            for i in 0..<n {
                let m = (start + i) * plane
                for ch in 0..<channels {
                    let src = picture.startIndex + ch * plane, dst = (i * channels + ch) * plane
                    for p in 0..<plane { masked[dst + p] = scale * (masks.storage[m + p] * picture[src + p]) }
                }
            }
            let logits = try context.network.forward(Tensor(shape: [n, channels, height, width], storage: masked),
                                                     recording: [], retainForBackward: false,
                                                     cancellation: context.cancellation).logits
            for (i, score) in context.scores(logits, image: image).enumerated() { gains[start + i] = score - unmasked }
            done += 1
            context.progress?(done, total)
        }
        return gains
    }
}
