/// SmoothGrad (Smilkov et al., 2017) as Captum's `NoiseTunnel(Saliency)` computes it by default
/// (`nt_type="smoothgrad"`): the mean of the absolute input gradient over `samples` copies of the
/// image with Gaussian noise added; the map is its maximum over the colour channels, scaled to
/// 0…1, like `saliency`'s. The noise is PyTorch's after `torch.manual_seed(seed)` (`TorchRandom`).
public struct SmoothGrad: CAMMethod, CAMOwnPass {
    /// Noisy copies per image (Captum's `nt_samples`, 5).
    public static let samplesOption = CAMOption("samples", range: 1...1000, default: 5,
                                                doc: "Noisy copies per image (Captum's nt_samples, 5).")
    /// The noise's standard deviation in the normalised input's units (Captum's `stdevs`, 1.0).
    public static let noiseOption = CAMOption("noise", realRange: 0...1e6, default: 1,
                                              doc: "Standard deviation of the noise, in the normalised input's units (Captum's stdevs, 1.0; the paper suggests 10-20 % of the input's range).")
    /// The seed of the noise (as `torch.manual_seed`).
    public static let seedOption = CAMOption.torchSeed(before: "Captum's NoiseTunnel")

    /// SmoothGrad's declaration.
    public static let info = CAMMethodInfo(
        name: "smoothgrad", className: "SmoothGrad",
        summary: "SmoothGrad: |∂S/∂x| averaged over noisy copies of the image, the largest over the colour channels (Captum's NoiseTunnel with Saliency).",
        formula: "attr = (1/n) Σ_k |∂S/∂x (x + ε_k)|, ε_k ~ N(0, σ²); map = max_c attr_c, min-max normalised",
        paper: "Smilkov, Thorat, Kim, Viégas and Wattenberg, SmoothGrad: removing noise by adding noise, arXiv:1706.03825, 2017 (Eq. 3); as Captum 0.9's NoiseTunnel(Saliency)",
        needsGradients: true, usesLayers: false, weightsChannels: false, unsignedBecause: "it is made of absolute gradients",
        options: [samplesOption, noiseOption, seedOption], cost: .wholeNetwork) { options in
        SmoothGrad(samples: options.value(of: samplesOption), noise: Float(options.realValue(of: noiseOption)),
                   seed: UInt32(clamping: options.value(of: seedOption)))
    }

    /// Noisy copies per image.
    public var samples: Int
    /// The noise's standard deviation.
    public var noise: Float
    /// The noise's seed.
    public var seed: UInt32
    /// Creates the method.
    public init(samples: Int = 5, noise: Float = 1, seed: UInt32 = 0) {
        self.samples = Swift.max(1, samples)
        self.noise = noise
        self.seed = seed
    }

    /// Not used: the map comes from the input's gradients.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        throw RuntimeError("smoothgrad does not use target layers: its map comes from gradients with respect to the input")
    }

    /// Captum's attribution `[B, C, H, W]`: image i's copy k is `x_i + ε[i·n + k]`, the noise drawn
    /// for all copies of all images at once, as Captum draws it.
    public func attributions(_ network: CAMNetwork, input: Tensor, targets: [CAMTarget],
                             cancellation: CancellationFlag? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        let images = input.shape[0], per = input.count / Swift.max(images, 1)
        var generator = TorchRandom(seed: seed)
        let epsilon = generator.normal(count: images * samples * per, std: noise)
        var out = [Float](repeating: 0, count: input.count)
        for i in 0..<images {
            let image = input.storage[(i * per)..<((i + 1) * per)]
            var total = [Float](repeating: 0, count: per)
            try PixelGradients.gradients(network, like: input, image: i, target: targets[i], points: samples,
                                         batchSize: PixelGradients.batchSize, cancellation: cancellation, progress: progress) { k, copy in
                let e = (i * samples + k) * per
                for p in 0..<per { copy[p] = image[image.startIndex + p] + epsilon[e + p] }
            } add: { _, gradient in
                for p in 0..<per { total[p] += abs(gradient[gradient.startIndex + p]) }
            }
            for p in 0..<per { out[i * per + p] = total[p] * (1 / Float(samples)) }
        }
        return Tensor(shape: input.shape, storage: out)
    }

    func pass(_ input: Tensor, engine: CAMEngine, request: CAMEngine.Request) throws -> (Tensor, [CAMTarget]) {
        let logits = try engine.network.forward(input, recording: [], retainForBackward: false, cancellation: request.cancellation).logits
        let targets = try engine.resolveTargets(request, logits: logits)
        if let announce = request.work {
            try announce(CAMWork.inputGradients(method: name, points: samples, batchSize: PixelGradients.batchSize,
                                                images: input.shape[0], repetitions: request.repetitions))
        }
        let attribution = try attributions(engine.network, input: input, targets: targets,
                                           cancellation: request.cancellation, progress: request.progress)
        return (PixelGradients.reduceChannels(attribution, by: .maximum), targets)
    }
}
