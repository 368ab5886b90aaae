import Foundation

/// SESS, Saliency Enhancing with Scaling and Sliding (Tyagi et al., ECCV 2022), as pytorch-grad-cam
/// 1.5.7's `SESS` with Grad-CAM as its base method: the image is resized to several scales, a
/// window of the input's shorter side slides over each, every patch is scored (the target's
/// softmax probability) and explained, and the patch maps, weighted by their scores, are pasted
/// back and averaged where they cover — robust to the object's size, to several occurrences and
/// to distractors, at the price of two passes per patch.
///
/// Steps for each image, with `W` the shorter side: scales `W + round(2W/7)·k` for
/// `k < scales` (torchvision's bilinear resize of the shorter side, upscaling); windows of
/// `W × W` at strides of `W`, the last of a row or column moved back inside the image; scores
/// `max(0, softmax(S(patch))_c)`, weights `score / max score`; each patch's Grad-CAM (min-max
/// scaled), times its weight, pasted into a zero map of its scale and resized to the image
/// (OpenCV's bilinear); the mean over the patches whose pasted map is above 0 at a pixel; a
/// 11×11 Gaussian blur with σ 5 (OpenCV's, borders reflected); min-max.
public struct SESS: CAMMethod, CAMOwnPass {
    /// How many scales (pytorch-grad-cam's `num_scales`, 12).
    public static let scalesOption = CAMOption("scales", range: 1...40, default: 12,
                                               doc: "How many scales the image is resized to, from the input's size up in steps of 2/7 of it (pytorch-grad-cam's num_scales, 12).")
    /// Patches per forward pass (pytorch-grad-cam's `batch_size`, 32).
    public static let batchSizeOption = CAMOption("batch_size", range: 1...Int.max, default: 32,
                                                  doc: "Patches per forward pass (pytorch-grad-cam's SESS batch_size, 32).")

    /// SESS's declaration.
    public static let info = CAMMethodInfo(
        name: "sess", className: "SESS",
        summary: "SESS: Grad-CAM of patches slid over the image at several scales, weighted by their scores and averaged (robust to scale and to several objects; slow).",
        formula: "map = blur(Σ_p [M_p > 0] M_p / Σ_p [M_p > 0]), M_p = resize(paste(s_p/max s · GradCAM(patch p))), s_p = max(0, softmax(S(patch p))_c)",
        paper: "Tyagi, Yuan and Ji, SESS: Saliency Enhancing with Scaling and Sliding, ECCV 2022 (§3, Fig. 2); as pytorch-grad-cam 1.5.7's SESS with base_method=GradCAM",
        needsGradients: true, weightsChannels: false, options: [scalesOption, batchSizeOption],
        cost: .wholeNetwork) { options in
        SESS(scales: options.value(of: scalesOption), batchSize: options.value(of: batchSizeOption))
    }

    /// How many scales.
    public var scales: Int
    /// Patches per forward pass.
    public var batchSize: Int

    /// Creates the method.
    public init(scales: Int = 12, batchSize: Int = 32) {
        self.scales = Swift.max(1, scales)
        self.batchSize = Swift.max(1, batchSize)
    }

    /// Not used: SESS runs Grad-CAM on patches in its own pass.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        throw RuntimeError("SESS makes its map from Grad-CAMs of patches, not from one pass of the image")
    }

    /// One patch: where it comes from.
    struct Patch {
        /// Which scale (index into the scaled images).
        var scale: Int
        /// Its top-left corner in the scaled image.
        var x: Int, y: Int
    }

    /// The shorter-side sizes the image is resized to (`get_scales`): from `window` up in steps
    /// of `round(2·window/7)` (Python's rounding, half to even).
    static func scaleSizes(window: Int, count: Int) -> [Int] {
        let step = Int((Double(window) * (2.0 / 7.0)).rounded(.toNearestOrEven))
        return (0..<count).map { window + step * $0 }
    }

    /// The window starts along a side of `length` (`window_starts`): every `step` from 0, the
    /// last moved back so that it ends at the border.
    static func windowStarts(length: Int, step: Int, window: Int) -> [Int] {
        var starts: [Int] = []
        var start = 0
        while start < length {
            if start + window >= length {
                starts.append(Swift.max(length - window, 0))
                break
            }
            starts.append(start)
            start += step
        }
        return starts
    }

    /// torchvision's `resize(img, size)` output for a shorter side of `size`: the longer side
    /// is `int(size · long / short)`.
    static func resizedSize(width: Int, height: Int, shorter size: Int) -> (width: Int, height: Int) {
        if width <= height {
            return (size, Int(Double(size * height) / Double(width)))
        }
        return (Int(Double(size * width) / Double(height)), size)
    }

    /// The sizes of the scaled images of a `width × height` input and the patches cut from them
    /// (which depend on the size only, not on the image).
    func layout(width: Int, height: Int, window: Int) -> (sizes: [(width: Int, height: Int)], patches: [Patch]) {
        var sizes: [(width: Int, height: Int)] = []
        var patches: [Patch] = []
        for size in Self.scaleSizes(window: window, count: scales) {
            let (w, h) = Self.resizedSize(width: width, height: height, shorter: size)
            sizes.append((w, h))
            for y in Self.windowStarts(length: h, step: window, window: window) {
                for x in Self.windowStarts(length: w, step: window, window: window) {
                    patches.append(Patch(scale: sizes.count - 1, x: x, y: y))
                }
            }
        }
        return (sizes, patches)
    }

    /// The image `[C, H, W]` at each size of `layout`.
    static func scaled(_ image: Tensor, to sizes: [(width: Int, height: Int)]) -> [Tensor] {
        // Every scale is at least the image's size: upscaling, where torchvision's antialiased
        // bilinear filter is the plain one with pixel centres aligned.
        sizes.map { CAMInterpolation.resizeLinear(image, toWidth: $0.width, height: $0.height) }
    }

    /// The patches `indices` as a batch `[n, C, window, window]`.
    static func batch(_ indices: ArraySlice<Int>, _ patches: [Patch], _ scaled: [Tensor], window: Int) -> Tensor {
        let channels = scaled[0].shape[0]
        var storage: [Float] = []
        storage.reserveCapacity(indices.count * channels * window * window)
        for index in indices {
            let patch = patches[index]
            let source = scaled[patch.scale]
            let (h, w) = (source.shape[1], source.shape[2])
            for c in 0..<channels {
                for row in 0..<window {
                    let start = (c * h + patch.y + row) * w + patch.x
                    storage += source.storage[start..<(start + window)]
                }
            }
        }
        return Tensor(shape: [indices.count, channels, window, window], storage: storage)
    }

    func pass(_ input: Tensor, engine: CAMEngine, request: CAMEngine.Request) throws -> (Tensor, [CAMTarget]) {
        let network = engine.network
        let logits = try network.forward(input, recording: [], retainForBackward: false, cancellation: request.cancellation).logits
        let targets = try engine.resolveTargets(request, logits: logits)
        let (images, height, width) = (input.shape[0], input.shape[2], input.shape[3])
        let window = Swift.min(height, width)
        let (sizes, patches) = layout(width: width, height: height, window: window)
        let count = patches.count
        if let announce = request.work {
            let batches = (count + batchSize - 1) / batchSize
            var work = CAMWork(method: name, forwardPasses: 2 * count * images * request.repetitions,
                               batches: 2 * batches * images * request.repetitions, batchSize: batchSize, images: images,
                               channels: [], biasLayers: 0, repetitions: request.repetitions)
            work.patches = count
            work.scales = scales
            try announce(work)
        }
        let total = 2 * count * images
        var done = 0
        var maps: [Float] = []
        maps.reserveCapacity(images * height * width)
        for i in 0..<images {
            let scaled = Self.scaled(input.slice(i), to: sizes)
            let target = targets[i]
            // Scores: the target on the softmax of each patch's logits, never below 0.
            var scores: [Float] = []
            for start in stride(from: 0, to: patches.count, by: batchSize) {
                try request.cancellation?.check()
                let indices = Array(start..<Swift.min(start + batchSize, patches.count))
                let out = try network.forward(Self.batch(indices[...], patches, scaled, window: window), recording: [],
                                              retainForBackward: false, cancellation: request.cancellation).logits
                let k = out.shape[1]
                for row in 0..<indices.count {
                    let probabilities = CAMTarget.probabilities(out.storage[(row * k)..<((row + 1) * k)])
                    scores.append(Swift.max(target.score(probabilities[...]), 0))
                }
                done += indices.count
                request.progress?(done, total)
            }
            // Lowest score first, as numpy's argsort; weights relative to the best patch.
            let order = scores.indices.sorted { scores[$0] < scores[$1] }
            let best = order.last.map { scores[$0] } ?? 0
            let weights = order.map { best > 0 ? scores[$0] / best : 1 }
            var sum = [Float](repeating: 0, count: height * width)
            var covered = [Float](repeating: 0, count: height * width)
            let base = CAMEngine.Request(method: GradCAM(), layers: request.layers, targets: [.index(target.classIndex)],
                                         score: request.score, eigenSmooth: request.eigenSmooth, progress: nil,
                                         cancellation: request.cancellation, work: nil, repetitions: 1,
                                         scaling: .pytorchGradCAM)
            for start in stride(from: 0, to: order.count, by: batchSize) {
                try request.cancellation?.check()
                let indices = order[start..<Swift.min(start + batchSize, order.count)]
                let cams = try engine.pass(Self.batch(indices, patches, scaled, window: window), base).0
                for (row, index) in indices.enumerated() {
                    let patch = patches[index]
                    let source = scaled[patch.scale]
                    let (h, w) = (source.shape[1], source.shape[2])
                    let weight = weights[start + row]
                    var pasted = [Float](repeating: 0, count: h * w)
                    for y in 0..<window {
                        for x in 0..<window {
                            pasted[(patch.y + y) * w + patch.x + x] = cams.storage[(row * window + y) * window + x] * weight
                        }
                    }
                    let back = CAMInterpolation.resizeLinear(Tensor(shape: [h, w], storage: pasted), toWidth: width, height: height)
                    for p in 0..<(height * width) where back.storage[p] > 0 {
                        sum[p] += back.storage[p]
                        covered[p] += 1
                    }
                }
                done += indices.count
                request.progress?(done, total)
            }
            let fused = Tensor(shape: [height, width], storage: (0..<(height * width)).map { covered[$0] > 0 ? sum[$0] / covered[$0] : 0 })
            maps += Self.gaussianBlur(fused).storage
        }
        return (Tensor(shape: [images, height, width], storage: maps), targets)
    }

    /// OpenCV's `GaussianBlur(map, (11, 11), 5)` on one `[H, W]` plane: the separable kernel
    /// `exp(−x²/50)` for x in −5…5, normalised in double and stored as float, run along the rows
    /// then the columns, borders reflected without repeating the edge (`BORDER_REFLECT_101`).
    static func gaussianBlur(_ map: Tensor, size: Int = 11, sigma: Double = 5) -> Tensor {
        let (h, w) = (map.shape[0], map.shape[1])
        let r = size / 2
        let raw = (0..<size).map { Foundation.exp(-Double(($0 - r) * ($0 - r)) / (2 * sigma * sigma)) }
        let total = raw.reduce(0, +)
        let kernel = raw.map { Float($0 / total) }
        func reflect(_ i: Int, _ n: Int) -> Int {
            guard n > 1 else { return 0 }
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i }
            return i
        }
        var rows = [Float](repeating: 0, count: h * w)
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for k in 0..<size { acc += kernel[k] * map.storage[y * w + reflect(x + k - r, w)] }
                rows[y * w + x] = acc
            }
        }
        var out = [Float](repeating: 0, count: h * w)
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for k in 0..<size { acc += kernel[k] * rows[reflect(y + k - r, h) * w + x] }
                out[y * w + x] = acc
            }
        }
        return Tensor(shape: [h, w], storage: out)
    }
}
