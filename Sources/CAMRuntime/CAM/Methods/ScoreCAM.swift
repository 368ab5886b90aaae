/// Score-CAM (Wang et al., CVPR-W 2020, Eq. 4–6): each channel, upsampled with
/// `align_corners=True` and min-max normalised, masks the (normalised) input; the target scores
/// of the masked inputs, softmaxed over channels, are the channel weights. No backward.
public struct ScoreCAM: ChannelWeightedCAMMethod {
    /// Masked inputs per forward pass.
    public static let batchSizeOption = CAMOption("batch_size", range: 1...Int.max, default: 16,
                                                  doc: "Masked inputs per forward pass (pytorch-grad-cam's default 16).")

    /// Score-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "scorecam", className: "ScoreCAM",
        summary: "Score-CAM: each channel weighted by the score of the input masked with it (no gradients; slow).",
        formula: "M_c = normalise(upsample(A_c)); w = softmax_c(S(x ⊙ M_c)); map = ReLU(Σ_c w_c A_c)",
        paper: "Wang et al., Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks, CVPR-W 2020 (Eq. 3-6)",
        needsGradients: false, weightsChannels: true, options: [batchSizeOption], cost: .perChannel) { options in
            ScoreCAM(batchSize: options.value(of: batchSizeOption))
        }

    /// Masked inputs per forward pass (pytorch-grad-cam's default 16).
    public var batchSize: Int
    /// Creates the method.
    public init(batchSize: Int = 16) { self.batchSize = Swift.max(1, batchSize) }

    /// One forward pass per channel per image, `batchSize` at a time.
    public func plannedWork(activations: [Tensor], images: Int, repetitions: Int) -> CAMWork? {
        CAMWork.perChannel(method: name, batchSize: batchSize, activations: activations, images: images, repetitions: repetitions)
    }

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
