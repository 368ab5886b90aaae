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
