/// FullGrad (Srinivas & Fleuret, NeurIPS 2019, Eq. 6): `|x ⊙ ∂S/∂x|` plus, for every layer with a
/// bias (Conv2d with bias, BatchNorm2d), `|b ⊙ ∂S/∂z|`, each channel min-max scaled and resized to
/// the input, summed; target layers are ignored, so it runs its own pass (`CAMOwnPass`).
public struct FullGrad: CAMMethod, CAMOwnPass {
    /// FullGrad's declaration.
    public static let info = CAMMethodInfo(
        name: "fullgrad", className: "FullGrad",
        summary: "FullGrad: input-gradient × input plus every bias-gradient × bias, over all layers (layer= is ignored).",
        formula: "map = Σ_layers upsample(Σ_c |∇b ⊙ b|) + |∇x ⊙ x|, each part min-max normalised",
        paper: "Srinivas and Fleuret, Full-Gradient Representation for Neural Network Visualization, NeurIPS 2019 (Eq. 5)",
        needsGradients: true, usesLayers: false, weightsChannels: false, unsignedBecause: "its terms are absolute values", hasRawScale: false,
        cost: .wholeNetwork) { _ in FullGrad() }

    /// Creates the method.
    public init() {}

    /// Not used: FullGrad's map is made by its own pass, from every bias layer.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        throw RuntimeError("FullGrad does not use target layers: its map comes from every bias layer and the input")
    }

    /// FullGrad's pass: `|x·∂S/∂x|` and every bias layer's `|b·∂S/∂z|`, each channel min-max
    /// scaled and resized, summed per layer, then summed (or eigen-projected at 1/8 size).
    func pass(_ input: Tensor, engine: CAMEngine, request: CAMEngine.Request) throws -> (Tensor, [CAMTarget]) {
        let network = engine.network
        let biasLayers = network.biasLayers
        if let announce = request.work {
            let images = input.shape[0]
            try announce(CAMWork(method: request.method.name, forwardPasses: images * request.repetitions,
                                 batches: request.repetitions, batchSize: images, images: images, channels: [],
                                 biasLayers: biasLayers.count, repetitions: request.repetitions))
        }
        let forward = try network.forward(input, recording: [], retainForBackward: true, cancellation: request.cancellation)
        let targets = try engine.resolveTargets(request, logits: forward.logits)
        let backward = try network.backward(CAMEngine.logitsGradient(targets, logits: forward.logits),
                                            gradientsAt: biasLayers.map(\.path), inputGradient: true,
                                            reluMode: .standard)
        guard let inputGradient = backward.input, inputGradient.shape == input.shape else {
            throw RuntimeError("FullGrad needs the gradient with respect to the input, but the network returned none")
        }
        let (b, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let plane = height * width
        let parts = channels + biasLayers.count
        var stack = [Float](repeating: 0, count: b * parts * plane)
        let inputTerm = CAMMath.scaleCAM(Tensor(shape: input.shape, storage: (0..<input.count).map {
            abs(inputGradient.storage[$0] * input.storage[$0])
        }), width: width, height: height)
        for i in 0..<b {
            for ch in 0..<channels {
                for p in 0..<plane { stack[(i * parts + ch) * plane + p] = inputTerm.storage[(i * channels + ch) * plane + p] }
            }
        }
        for (index, layer) in biasLayers.enumerated() {
            try request.cancellation?.check()
            guard let g = backward.gradients[layer.path], g.rank == 4, g.shape[0] == b, g.shape[1] == layer.bias.count else {
                throw RuntimeError("FullGrad needs the gradient at bias layer \"\(layer.path)\" with \(layer.bias.count) channels, but the network returned \(backward.gradients[layer.path].map { "\($0.shape)" } ?? "none")")
            }
            let (c, h, w) = (g.shape[1], g.shape[2], g.shape[3])
            // Σ_c resize(minmax(|b_c·G_c|)) = resize(Σ_c minmax(|b_c·G_c|)): the resize is linear,
            // so the channels are summed at the layer's resolution and resized once.
            var term = Tensor(shape: [c, h, w])
            for i in 0..<b {
                term.withUnsafeMutableBufferPointer { t in
                    for ch in 0..<c {
                        let base = (i * c + ch) * h * w, bias = layer.bias.storage[ch]
                        for p in 0..<(h * w) { t[ch * h * w + p] = abs(bias * g.storage[base + p]) }
                    }
                }
                let scaled = CAMMath.scaleCAM(term)
                var sum = [Float](repeating: 0, count: h * w)
                for ch in 0..<c { for p in 0..<(h * w) { sum[p] += scaled.storage[ch * h * w + p] } }
                let resized = CAMInterpolation.resizeLinear(Tensor(shape: [h, w], storage: sum), toWidth: width, height: height)
                let offset = (i * parts + channels + index) * plane
                for p in 0..<plane { stack[offset + p] = resized.storage[p] }
            }
            request.progress?(index + 1, biasLayers.count)
        }
        var summed: Tensor
        if request.eigenSmooth {
            guard width >= 8 && height >= 8 else {
                throw RuntimeError("FullGrad with eigen_smooth works at 1/8 of the input size and needs an input of at least 8×8, got \(width)×\(height)")
            }
            let small = CAMMath.scaleCAM(Tensor(shape: [b, parts, height, width], storage: stack),
                                         width: width / 8, height: height / 8)
            let projected = try Projection.firstComponent(small)
            summed = CAMMath.scaleCAM(projected, width: width, height: height)
        } else {
            var total = [Float](repeating: 0, count: b * plane)
            for i in 0..<b { for part in 0..<parts {
                let base = (i * parts + part) * plane
                for p in 0..<plane { total[i * plane + p] += stack[base + p] }
            } }
            summed = Tensor(shape: [b, height, width], storage: total)
        }
        return (summed, targets)
    }
}
