import Foundation

/// Which scalar of the target class a CAM explains.
public enum CAMScore: Sendable, Equatable {
    /// The raw logit (`ClassifierOutputTarget`).
    case logit
    /// The softmax probability (`ClassifierOutputSoftmaxTarget`).
    case softmax
}

/// How a CAM's values are scaled: pytorch-grad-cam's min-max per image, or the method's own
/// units so that maps can be compared across images, classes and layers (pytorch-grad-cam #267);
/// with or without the negative evidence its ReLUs drop (#512).
public struct CAMScaling: Sendable, Equatable {
    /// Where the values' scale comes from.
    public enum Scale: String, Sendable, CaseIterable {
        /// Min-max per image, as pytorch-grad-cam (signed: divided by the largest magnitude).
        case image
        /// No min-max: the method's own units, the colours spanning the batch's range.
        case raw
    }

    /// Where the values' scale comes from.
    public var scale: Scale
    /// Whether negative values are kept (no ReLU), the colours then centred on zero.
    public var signed: Bool

    /// Creates a scaling.
    public init(scale: Scale = .image, signed: Bool = false) {
        self.scale = scale
        self.signed = signed
    }

    /// pytorch-grad-cam's: ReLU and min-max per image.
    public static let pytorchGradCAM = CAMScaling()

    /// The method's last step on the map of each image, `[B, H, W]`: pytorch-grad-cam's min-max
    /// (signed: division by the largest magnitude, so that zero stays zero); nothing when raw.
    public func finish(_ map: Tensor) -> Tensor {
        guard scale == .image else { return map }
        return signed ? CAMMath.scaleMagnitude(map) : CAMMath.scaleCAM(map)
    }

    /// The values the colours span for these maps: 0…1 (signed −1…1) when scaled per image;
    /// raw, from zero to the largest value of the batch (signed: ± the largest magnitude), so
    /// that the images of a batch share one scale.
    public func colorRange(of map: Tensor) -> ClosedRange<Float> {
        switch (scale, signed) {
        case (.image, false): return 0...1
        case (.image, true): return -1...1
        case (.raw, false):
            let hi = map.storage.reduce(0) { Swift.max($0, $1) }
            return 0...(hi > 0 && hi.isFinite ? hi : 1)
        case (.raw, true):
            let m = map.storage.reduce(0) { Swift.max($0, abs($1)) }
            let bound = m > 0 && m.isFinite ? m : 1
            return -bound...bound
        }
    }
}

/// A computed class activation map and what it explains.
public struct CAMResult: CustomStringConvertible {
    /// The maps, `[B, H, W]` (the input's height and width): in [0, 1] with pytorch-grad-cam's
    /// scaling, in [−1, 1] when signed, in the method's own units when raw.
    public var map: Tensor
    /// How the values were scaled.
    public var scaling = CAMScaling.pytorchGradCAM
    /// The values the colours span (the first colour of a colormap at the lower bound, the last
    /// at the upper): 0…1 unless raw or signed, and widened by `shared_scale` to compare maps.
    public var colorRange: ClosedRange<Float> = 0...1
    /// The method's name, e.g. `"GradCAM"`.
    public var method: String
    /// The resolved target layers (empty for FullGrad, which uses every bias layer).
    public var layers: [String]
    /// Whether `layers` is the network's default because the user named none.
    public var usedDefaultLayer: Bool
    /// The target of each image (for augmentation smoothing: the un-augmented pass's target).
    public var targets: [CAMTarget]
    /// The class name of each image's target.
    public var labels: [String]
    /// The channel weights `[B, C]` of each target layer, for the methods that weight channels
    /// (those whose declaration says `weightsChannels`); empty for the others, and with
    /// augmentation smoothing (six passes, six sets of weights).
    public var channelWeights: [String: Tensor] = [:]

    /// Whether the method's map depends on the target (false for EigenCAM, KPCA-CAM, FEM, RandomCAM): the
    /// echo then says no class is explained instead of naming one.
    public var usesTarget = true

    /// The target class index of each image.
    public var targetClasses: [Int] { targets.map(\.classIndex) }

    /// One line for a notebook echo, e.g.
    /// `GradCAM 224×224 at layer4 → 281 "tabby" (logit), min 0.000 max 1.000`.
    public var description: String {
        let size = map.shape.dropFirst().map(String.init).joined(separator: "×")
        let batch = map.shape.first.map { $0 > 1 ? " ×\($0) images" : "" } ?? ""
        // Methods without target layers: FullGrad reads every bias layer, the pixel attributions
        // the input.
        let at = !layers.isEmpty ? layers.joined(separator: " + ") : method == FullGrad.info.className ? "all bias layers" : "the input"
        let what = zip(targets, labels).map { target, label -> String in
            if case .softmax = target { return "\(target.classIndex) \"\(label)\" (softmax)" }
            if case .finer(_, let others, _) = target {
                return "\(target.classIndex) \"\(label)\" (vs \(others.map(String.init).joined(separator: ", ")))"
            }
            return "\(target.classIndex) \"\(label)\""
        }.joined(separator: ", ")
        let lo = map.min, hi = map.max
        let explains = usesTarget ? "→ \(what)" : "(no class: \(method) does not use the target)"
        var scale = ""
        if scaling.scale == .raw || scaling.signed || colorRange != 0...1 {
            let kind = [scaling.scale == .raw ? "raw" : nil, scaling.signed ? "signed" : nil].compactMap { $0 }.joined(separator: ", ")
            scale = (kind.isEmpty ? "" : ", \(kind)") + " (colours \(format(colorRange.lowerBound))…\(format(colorRange.upperBound)))"
        }
        return "\(method) \(size)\(batch) at \(at)\(usedDefaultLayer ? " (default layer)" : "") \(explains), min \(format(lo)) max \(format(hi))\(scale)"
    }

    /// Three decimals for maps scaled per image; four significant digits for raw maps, whose
    /// small values three decimals would show as 0.0.
    private func format(_ x: Float) -> String {
        if scaling.scale == .raw && x != 0 { return String(format: "%.4g", Double(x)) }
        let scaled = (Double(x) * 1000).rounded() / 1000
        return String(scaled)
    }

    /// The maps as their colours show them: `(v − lower) / (upper − lower)`, clamped to [0, 1]
    /// (the maps themselves when the range is 0…1, as pytorch-grad-cam's are).
    public var unitMap: Tensor {
        guard colorRange != 0...1 else { return map }
        let lo = colorRange.lowerBound, span = colorRange.upperBound - colorRange.lowerBound
        return map.map { Swift.min(Swift.max(($0 - lo) / span, 0), 1) }
    }
}

/// The work a long CAM method (ScoreCAM, AblationCAM, FullGrad) is about to do, known after
/// the first forward pass and before the long part starts, so that it can be announced or refused.
public struct CAMWork: Sendable, Equatable {
    /// The method's name, e.g. `"ScoreCAM"`.
    public var method: String
    /// Forward passes of one image each: ScoreCAM and AblationCAM run one per channel per image
    /// (AblationCAM only on the part of the network after the layer); FullGrad one forward and
    /// backward per image. Augmentation smoothing multiplies everything by 6.
    public var forwardPasses: Int
    /// Batches the passes are grouped in (`batch_size` masked inputs each); FullGrad: 1 per
    /// augmentation pass.
    public var batches: Int
    /// Inputs per batch (ScoreCAM 16, AblationCAM 32 by default; FullGrad: the images).
    public var batchSize: Int
    /// Images in the input batch.
    public var images: Int
    /// The channels of each target layer (ScoreCAM, AblationCAM); empty for FullGrad.
    public var channels: [Int]
    /// Layers with a bias whose gradient FullGrad adds up (0 for the other methods).
    public var biasLayers: Int
    /// 6 with augmentation smoothing, else 1.
    public var repetitions: Int
    /// The patches of each image (SESS: windows slid over every scale; 0 for the other methods).
    public var patches = 0
    /// The scales the patches come from (SESS).
    public var scales = 0

    /// Creates a description of the work.
    public init(method: String, forwardPasses: Int, batches: Int, batchSize: Int, images: Int,
                channels: [Int], biasLayers: Int, repetitions: Int) {
        self.method = method
        self.forwardPasses = forwardPasses
        self.batches = batches
        self.batchSize = batchSize
        self.images = images
        self.channels = channels
        self.biasLayers = biasLayers
        self.repetitions = repetitions
    }

    /// The work of a pixel attribution that takes the input gradient at `points` inputs per
    /// image (Integrated Gradients' path, SmoothGrad's noisy copies), `batchSize` at a time.
    static func inputGradients(method: String, points: Int, batchSize: Int, images: Int, repetitions: Int) -> CAMWork {
        let batches = (points + batchSize - 1) / batchSize
        return CAMWork(method: method, forwardPasses: images * points * repetitions, batches: images * batches * repetitions,
                       batchSize: batchSize, images: images, channels: [], biasLayers: 0, repetitions: repetitions)
    }

    /// The work of a method that runs one forward pass per channel of each target layer per
    /// image (ScoreCAM, AblationCAM), `batchSize` passes at a time.
    public static func perChannel(method: String, batchSize: Int, activations: [Tensor], images: Int,
                                  repetitions: Int) -> CAMWork {
        let channels = activations.map { $0.rank == 4 ? $0.shape[1] : 0 }
        let passes = channels.reduce(0) { $0 + $1 } * images * repetitions
        let batches = channels.reduce(0) { $0 + ($1 + batchSize - 1) / batchSize } * images * repetitions
        return CAMWork(method: method, forwardPasses: passes, batches: batches, batchSize: batchSize,
                       images: images, channels: channels, biasLayers: 0, repetitions: repetitions)
    }
}

/// Computes class activation maps with pytorch-grad-cam's common pipeline (`base_cam.py`): forward
/// with the target layers recorded, target scores, backward to the target layers only, per-layer
/// map → ReLU → per-image min-max → OpenCV bilinear resize to the input → mean over layers →
/// min-max; optional augmentation smoothing (6 passes) and eigen smoothing.
public struct CAMEngine {
    /// The network being explained.
    public let network: CAMNetwork

    /// Creates an engine for a network.
    public init(network: CAMNetwork) { self.network = network }

    /// Computes `method`'s map for every image of `input` (`[B, 3, H, W]`, normalised).
    ///
    /// - Parameters:
    ///   - layers: module paths; `nil` uses the network's default target layer.
    ///   - targets: one per image (or one for all); `nil` means the top class of each image.
    ///   - score: explain the logit or the softmax probability of the target class.
    ///   - augSmooth: pytorch-grad-cam's `aug_smooth` (horizontal flip × {0.9, 1, 1.1}, averaged).
    ///   - eigenSmooth: replace the channel sum by the first principal component.
    ///   - scaling: pytorch-grad-cam's min-max per image, or raw values; signed or not.
    ///   - progress: called with (done, total) steps by ScoreCAM, AblationCAM and FullGrad.
    ///   - cancellation: polled between batches; throws `CancellationError` when set.
    ///   - work: called once, before the long part of ScoreCAM, AblationCAM or FullGrad starts
    ///     (after the first forward pass), with the work it will do; throw from it to refuse.
    public func compute(_ method: any CAMMethod, input: Tensor, layers: [String]? = nil,
                        targets: [ClassTarget]? = nil, score: CAMScore = .logit,
                        augSmooth: Bool = false, eigenSmooth: Bool = false,
                        scaling: CAMScaling = .pytorchGradCAM,
                        progress: ((Int, Int) -> Void)? = nil,
                        cancellation: CancellationFlag? = nil,
                        work: ((CAMWork) throws -> Void)? = nil) throws -> CAMResult {
        guard input.rank == 4, input.shape[0] > 0, input.shape[2] > 0, input.shape[3] > 0 else {
            throw RuntimeError("a CAM needs an input batch [N, 3, H, W], got a tensor of shape \(input.shape)")
        }
        if let targets, targets.count != 1 && targets.count != input.shape[0] {
            throw RuntimeError("expected one target per image (\(input.shape[0])) or one for all, got \(targets.count) targets")
        }
        if scaling.signed, let reason = method.info.unsignedBecause {
            throw RuntimeError("\(method.name)'s map has no sign to keep: \(reason); leave out signed=")
        }
        if scaling.scale == .raw && !method.info.hasRawScale {
            throw RuntimeError("\(method.name) has no raw scale: its definition min-max scales "
                + (method.usesLayers ? "each layer's map" : "each bias layer's term") + " of each image, so its values are not comparable across images; leave out scale=\"raw\"")
        }
        let resolved: [String]
        if !method.usesLayers {
            resolved = []
        } else if let layers, !layers.isEmpty {
            resolved = try layers.map { try network.resolveLayer($0) }
        } else {
            resolved = [method.defaultLayer(in: network) ?? network.defaultTargetLayer]
        }
        let request = Request(method: method, layers: resolved, targets: targets, score: score,
                              eigenSmooth: eigenSmooth, progress: progress, cancellation: cancellation,
                              work: work, repetitions: augSmooth ? 6 : 1, scaling: scaling)
        let map: Tensor
        let used: [CAMTarget]
        var weights: [String: Tensor] = [:]
        if augSmooth {
            (map, used) = try augmentationSmoothing(input, request)
        } else {
            (map, used, weights) = try pass(input, request)
        }
        let names = network.classNames
        var result = CAMResult(map: map, method: method.name, layers: resolved,
                               usedDefaultLayer: method.usesLayers && (layers ?? []).isEmpty, targets: used,
                               labels: used.map { $0.classIndex < names.count ? names[$0.classIndex] : "class \($0.classIndex)" },
                               channelWeights: weights)
        result.usesTarget = method.usesTarget
        result.scaling = scaling
        result.colorRange = scaling.colorRange(of: map)
        return result
    }

    struct Request {
        var method: any CAMMethod
        var layers: [String]
        var targets: [ClassTarget]?
        var score: CAMScore
        var eigenSmooth: Bool
        var progress: ((Int, Int) -> Void)?
        var cancellation: CancellationFlag?
        /// Told the work before it starts; only the first pass of augmentation smoothing has it.
        var work: ((CAMWork) throws -> Void)?
        var repetitions: Int
        var scaling: CAMScaling
    }

    /// The per-image targets of one pass (the top class recomputed from these logits).
    func resolveTargets(_ request: Request, logits: Tensor) throws -> [CAMTarget] {
        try Self.targets(request.targets, score: request.score, logits: logits, classNames: network.classNames)
    }

    /// The scalar each image's target names, from its logits `[N, classes]`: `wanted` holds one
    /// target per image or one for all (nil: each image's top class).
    public static func targets(_ wanted: [ClassTarget]?, score: CAMScore, logits: Tensor,
                               classNames: [String]) throws -> [CAMTarget] {
        let (n, k) = (logits.shape[0], logits.shape[1])
        if let wanted, wanted.count != 1 && wanted.count != n {
            throw RuntimeError("expected one target per image (\(n)) or one for all, got \(wanted.count) targets")
        }
        return try (0..<n).map { i in
            let row = logits.storage[(i * k)..<((i + 1) * k)]
            let target = wanted.map { $0.count == 1 ? $0[0] : $0[i] } ?? .top
            let c = try target.classIndex(logits: row, classNames: classNames)
            if score == .logit { return .rawScore(of: c, outputs: k) }
            guard k > 1 else {
                throw RuntimeError("softmax=true needs several classes; this model has one logit (a binary classifier), "
                                   + "explained as pytorch-grad-cam's BinaryClassifierOutputTarget: leave out softmax=")
            }
            return .softmax(c)
        }
    }

    /// dS/dlogits for the sum of the per-image target scores.
    static func logitsGradient(_ targets: [CAMTarget], logits: Tensor) -> Tensor {
        let k = logits.shape[1]
        var g = [Float]()
        g.reserveCapacity(logits.count)
        for (i, t) in targets.enumerated() { g += t.gradient(logits.storage[(i * k)..<((i + 1) * k)]) }
        return Tensor(shape: logits.shape, storage: g)
    }

    /// One forward (+ backward), the fused map (`BaseCAM.forward`) and the channel weights of
    /// each layer when the method has them.
    func pass(_ input: Tensor, _ request: Request) throws -> (Tensor, [CAMTarget], [String: Tensor]) {
        if let own = request.method as? CAMOwnPass {
            let (map, targets) = try own.pass(input, engine: self, request: request)
            return (request.scaling.finish(map), targets, [:])
        }
        let method = request.method
        // Gradients are needed at the target layers only: the layers before them keep nothing.
        let forward = method.usesGradients
            ? try network.forward(input, recording: request.layers, retainingFor: request.layers,
                                  cancellation: request.cancellation)
            : try network.forward(input, recording: request.layers, retainForBackward: false,
                                  cancellation: request.cancellation)
        let targets = try method.explainedTargets(resolveTargets(request, logits: forward.logits), logits: forward.logits)
        if let announce = request.work,
           let work = method.plannedWork(activations: request.layers.compactMap { forward.activations[$0] },
                                         images: input.shape[0], repetitions: request.repetitions) {
            try announce(work)
        }
        var gradients: [String: Tensor] = [:]
        if method.usesGradients {
            gradients = try network.backward(Self.logitsGradient(targets, logits: forward.logits),
                                             gradientsAt: request.layers, inputGradient: false,
                                             reluMode: .standard).gradients
        }
        let context = CAMContext(network: network, input: input, logits: forward.logits, targets: targets,
                                 progress: request.progress, cancellation: request.cancellation)
        let b = input.shape[0]
        var maps: [Tensor] = []
        var weights: [String: Tensor] = [:]
        for layer in request.layers {
            guard let activations = forward.activations[layer], activations.rank == 4, activations.shape[0] == b else {
                throw RuntimeError("the network did not record a [N, C, h, w] output for layer \"\(layer)\"")
            }
            let capture = LayerCapture(name: layer, activations: activations, gradients: gradients[layer])
            let (map, layerWeights) = try method.weightedLayerMap(capture, context: context, eigenSmooth: request.eigenSmooth)
            maps.append(map)
            weights[layer] = layerWeights
        }
        let fused = method.fuse(maps, width: input.shape[3], height: input.shape[2], scaling: request.scaling)
        return (request.scaling.finish(fused), targets, weights)
    }

    /// `forward_augmentation_smoothing`: (flip, factor) in (F,0.9) (F,1) (F,1.1) (T,0.9) (T,1)
    /// (T,1.1); each pass on `hflip?(x) · factor`, its map flipped back; plain mean, no rescaling.
    func augmentationSmoothing(_ input: Tensor, _ request: Request) throws -> (Tensor, [CAMTarget]) {
        var sum: [Float] = []
        var plainTargets: [CAMTarget] = []
        var shape: [Int] = []
        var request = request
        for flip in [false, true] {
            for factor: Float in [0.9, 1, 1.1] {
                let augmented = (flip ? Self.horizontalFlip(input) : input).map { $0 * factor }
                let (map, targets, _) = try pass(augmented, request)
                request.work = nil  // announced (and accepted) once, for all 6 passes
                let restored = flip ? Self.horizontalFlip(map) : map
                if sum.isEmpty { sum = restored.storage; shape = restored.shape } else {
                    for i in 0..<sum.count { sum[i] += restored.storage[i] }
                }
                if !flip && factor == 1 { plainTargets = targets }
            }
        }
        return (Tensor(shape: shape, storage: sum.map { $0 / 6 }), plainTargets)
    }

    /// Reverses the last axis.
    static func horizontalFlip(_ x: Tensor) -> Tensor {
        let w = x.shape[x.rank - 1]
        let rows = x.count / Swift.max(w, 1)
        return Tensor(shape: x.shape) { out in
            for r in 0..<rows { for i in 0..<w { out[r * w + i] = x.storage[r * w + w - 1 - i] } }
        }
    }
}
