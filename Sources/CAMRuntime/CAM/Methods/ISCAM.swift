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
