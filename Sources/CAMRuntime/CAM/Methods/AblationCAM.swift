/// Ablation-CAM (Desai & Ramaswamy, WACV 2020, Eq. 3): `w_c = (S − S_c) / S`, where `S_c` is the
/// score with channel c of the layer ablated. Only the layers after the target layer are re-run,
/// from its cached output (`CAMNetwork.forward(after:activation:)`); the ablated channel is set to
/// 0 when the layer's minimum is 0, else to the running minimum − 1e7 of the batch, exactly as
/// pytorch-grad-cam's `AblationLayer` does.
public struct AblationCAM: ChannelWeightedCAMMethod {
    /// Ablated copies per forward pass.
    public static let batchSizeOption = CAMOption("batch_size", range: 1...Int.max, default: 32,
                                                  doc: "Ablated copies per forward pass (pytorch-grad-cam's default 32; other sizes change the ablation values of layers whose minimum is not 0).")

    /// Ablation-CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "ablationcam", className: "AblationCAM",
        summary: "Ablation-CAM: each channel weighted by how much the score drops when it is zeroed.",
        formula: "w_c = (S − S_c) / S, S_c the score with channel c of the layer zeroed; map = ReLU(Σ_c w_c A_c)",
        paper: "Desai and Ramaswamy, Ablation-CAM: Visual Explanations for Deep Convolutional Network via Gradient-free Localization, WACV 2020 (Eq. 3)",
        needsGradients: false, weightsChannels: true, options: [batchSizeOption], cost: .perChannel) { options in
            AblationCAM(batchSize: options.value(of: batchSizeOption))
        }

    /// Ablated copies per forward pass (pytorch-grad-cam's default 32; it changes the ablation
    /// values of non-zero-minimum layers, so keep 32 for parity).
    public var batchSize: Int
    /// Creates the method.
    public init(batchSize: Int = 32) { self.batchSize = Swift.max(1, batchSize) }

    /// One forward pass of the rest of the network per channel per image, `batchSize` at a time.
    public func plannedWork(activations: [Tensor], images: Int, repetitions: Int) -> CAMWork? {
        CAMWork.perChannel(method: name, batchSize: batchSize, activations: activations, images: images, repetitions: repetitions)
    }

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
