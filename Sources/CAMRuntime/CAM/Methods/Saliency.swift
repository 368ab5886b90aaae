import Foundation

/// Vanilla gradient saliency (Simonyan et al., ICLR Workshop 2014) as Captum's `Saliency`
/// defines it: the absolute gradient of the target's score with respect to each input value,
/// `|∂S/∂x|`; the map is its maximum over the colour channels (the paper's Eq. 1 remark), scaled
/// to 0…1. A pixel attribution, not a CAM: it uses no layer, and it is here to be compared with
/// the CAMs in workshops.
public struct Saliency: CAMMethod, CAMOwnPass {
    /// Saliency's declaration.
    public static let info = CAMMethodInfo(
        name: "saliency", className: "Saliency",
        summary: "Vanilla gradient saliency: |∂S/∂x| per pixel, the largest over the colour channels (Captum's Saliency).",
        formula: "map = max_c |∂S/∂x_c|, min-max normalised",
        paper: "Simonyan, Vedaldi and Zisserman, Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency Maps, ICLR Workshop 2014 (§3.1); as Captum 0.9's Saliency",
        needsGradients: true, usesLayers: false, weightsChannels: false, unsignedBecause: "it is made of absolute gradients") { _ in Saliency() }

    /// Creates the method.
    public init() {}

    /// Not used: the map comes from the input's gradient.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        throw RuntimeError("saliency does not use target layers: its map is the gradient with respect to the input")
    }

    /// Captum's attribution `[B, C, H, W]`: the absolute input gradient of each image's target.
    public static func attributions(_ network: CAMNetwork, input: Tensor, targets: [CAMTarget]) throws -> Tensor {
        PixelGradients.absolute(try PixelGradients.inputGradient(network, input: input) { _ in targets }.gradient)
    }

    /// One retaining forward gives both the logits that resolve the targets and the pass the
    /// gradient comes back through.
    func pass(_ input: Tensor, engine: CAMEngine, request: CAMEngine.Request) throws -> (Tensor, [CAMTarget]) {
        let (gradient, targets) = try PixelGradients.inputGradient(engine.network, input: input,
                                                                   cancellation: request.cancellation) {
            try engine.resolveTargets(request, logits: $0)
        }
        return (PixelGradients.reduceChannels(PixelGradients.absolute(gradient), by: .maximum), targets)
    }
}

/// Integrated Gradients (Sundararajan et al., ICML 2017) as Captum's `IntegratedGradients`
/// computes it by default: a black baseline (zeros of the normalised input), 50 Gauss–Legendre
/// points on the path from it to the image, `(x − x′) ⊙ Σ_k w_k ∇S(x′ + α_k (x − x′))`; the map is
/// the absolute value of its sum over the colour channels (Captum's `visualize_image_attr` with
/// `sign="absolute_value"`), scaled to 0…1.
public struct IntegratedGradients: CAMMethod, CAMOwnPass {
    /// The number of points on the path (Captum's `n_steps`).
    public static let stepsOption = CAMOption("steps", range: 2...1000, default: 50,
                                              doc: "Points on the path from the baseline to the image (Captum's n_steps).")

    /// Integrated Gradients' declaration.
    public static let info = CAMMethodInfo(
        name: "integrated_gradients", aliases: ["ig"], className: "IntegratedGradients",
        summary: "Integrated Gradients: the input minus a black baseline, times the gradient averaged along the straight path between them (Captum's default, 50 Gauss-Legendre steps).",
        formula: "attr = (x − x′) ⊙ Σ_k w_k ∂S/∂x(x′ + α_k (x − x′)); map = |Σ_c attr_c|, min-max normalised",
        paper: "Sundararajan, Taly and Yan, Axiomatic Attribution for Deep Networks, ICML 2017 (Eq. 1-3); as Captum 0.9's IntegratedGradients",
        needsGradients: true, usesLayers: false, weightsChannels: false,
        options: [stepsOption], cost: .wholeNetwork) { options in
        IntegratedGradients(steps: options.value(of: stepsOption))
    }

    /// Points on the path.
    public var steps: Int

    /// Creates the method with `steps` Gauss–Legendre points.
    public init(steps: Int = 50) { self.steps = steps }

    /// Not used: the map comes from the input's gradients.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        throw RuntimeError("integrated_gradients does not use target layers: its map comes from gradients with respect to the input")
    }

    /// Captum's attribution `[B, C, H, W]` with a zero baseline, each image's path run as one
    /// batch of at most `batchSize` points at a time.
    public func attributions(_ network: CAMNetwork, input: Tensor, targets: [CAMTarget], batchSize: Int = 8,
                             cancellation: CancellationFlag? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> Tensor {
        let (alphas, weights) = PixelGradients.gaussLegendre(steps)
        let per = input.count / Swift.max(input.shape[0], 1)
        var out = [Float](repeating: 0, count: input.count)
        let images = input.shape[0]
        for i in 0..<images {
            let image = input.storage[(i * per)..<((i + 1) * per)]
            var total = [Double](repeating: 0, count: per)
            try PixelGradients.gradients(network, like: input, image: i, target: targets[i], points: steps, batchSize: batchSize,
                                         cancellation: cancellation, progress: progress) { k, point in
                for p in 0..<per { point[p] = alphas[k] * image[image.startIndex + p] }
            } add: { k, gradient in
                let w = Double(weights[k])
                for p in 0..<per { total[p] += w * Double(gradient[gradient.startIndex + p]) }
            }
            for p in 0..<per { out[i * per + p] = Float(total[p]) * image[image.startIndex + p] }
        }
        return Tensor(shape: input.shape, storage: out)
    }

    func pass(_ input: Tensor, engine: CAMEngine, request: CAMEngine.Request) throws -> (Tensor, [CAMTarget]) {
        let logits = try engine.network.forward(input, recording: [], retainForBackward: false, cancellation: request.cancellation).logits
        let targets = try engine.resolveTargets(request, logits: logits)
        if let announce = request.work {
            try announce(CAMWork.inputGradients(method: name, points: steps, batchSize: PixelGradients.batchSize,
                                                images: input.shape[0], repetitions: request.repetitions))
        }
        let attribution = try attributions(engine.network, input: input, targets: targets,
                                           cancellation: request.cancellation, progress: request.progress)
        let summed = PixelGradients.reduceChannels(attribution, by: .sum)
        // Signed, the sum keeps its sign: evidence against the class shows as negative.
        return (request.scaling.signed ? summed : PixelGradients.absolute(summed), targets)
    }
}

/// What the pixel attributions share: the gradient of the targets with respect to the input.
enum PixelGradients {
    /// How a `[B, C, H, W]` attribution becomes one map per image.
    enum Reduction { case maximum, sum }

    /// Inputs per forward and backward pass of the methods that take many input gradients.
    static let batchSize = 8

    /// The gradients of image `i`'s target at `points` inputs made from it, `batchSize` inputs
    /// per forward and backward pass (Integrated Gradients' path, SmoothGrad's noisy copies):
    /// `fill(k, values)` writes input `k` (one image's values), `add(k, gradient)` takes its
    /// gradient; progress counts points over all `input`'s images.
    static func gradients(_ network: CAMNetwork, like input: Tensor, image i: Int, target: CAMTarget, points: Int,
                          batchSize: Int, cancellation: CancellationFlag?, progress: ((Int, Int) -> Void)?,
                          fill: (Int, UnsafeMutableBufferPointer<Float>) -> Void,
                          add: (Int, ArraySlice<Float>) -> Void) throws {
        let images = input.shape[0], per = input.count / Swift.max(images, 1)
        for start in stride(from: 0, to: points, by: batchSize) {
            try cancellation?.check()
            let n = Swift.min(batchSize, points - start)
            var values = [Float](repeating: 0, count: n * per)
            values.withUnsafeMutableBufferPointer { buffer in
                for k in 0..<n { fill(start + k, UnsafeMutableBufferPointer(rebasing: buffer[(k * per)..<((k + 1) * per)])) }
            }
            let gradient = try inputGradient(network, input: Tensor(shape: [n] + input.shape.dropFirst(), storage: values)) { _ in
                Array(repeating: target, count: n)
            }.gradient
            for k in 0..<n { add(start + k, gradient.storage[(k * per)..<((k + 1) * per)]) }
            progress?(i * points + start + n, images * points)
        }
    }

    /// `∂S/∂x` `[B, C, H, W]` for each image's target, `targets` resolving them from the logits
    /// of the same (retaining) forward pass.
    static func inputGradient(_ network: CAMNetwork, input: Tensor, cancellation: CancellationFlag? = nil,
                              targets: (Tensor) throws -> [CAMTarget]) throws -> (gradient: Tensor, targets: [CAMTarget]) {
        let forward = try network.forward(input, recording: [], retainForBackward: true, cancellation: cancellation)
        let resolved = try targets(forward.logits)
        let backward = try network.backward(CAMEngine.logitsGradient(resolved, logits: forward.logits), gradientsAt: [],
                                            inputGradient: true, reluMode: .standard)
        guard let gradient = backward.input, gradient.shape == input.shape else {
            throw RuntimeError("a pixel attribution needs the gradient with respect to the input, but the network returned none")
        }
        return (gradient, resolved)
    }

    /// Every value made non-negative.
    static func absolute(_ tensor: Tensor) -> Tensor {
        var out = tensor
        out.withUnsafeMutableBufferPointer { x in for i in 0..<x.count { x[i] = abs(x[i]) } }
        return out
    }

    /// The channels of each image reduced to one plane `[B, H, W]`.
    static func reduceChannels(_ attribution: Tensor, by reduction: Reduction) -> Tensor {
        let (b, c, h, w) = (attribution.shape[0], attribution.shape[1], attribution.shape[2], attribution.shape[3])
        let plane = h * w
        var out = [Float](repeating: reduction == .maximum ? -Float.infinity : 0, count: b * plane)
        for i in 0..<b {
            for ch in 0..<c {
                let base = (i * c + ch) * plane
                for p in 0..<plane {
                    let v = attribution.storage[base + p]
                    out[i * plane + p] = reduction == .maximum ? Swift.max(out[i * plane + p], v) : out[i * plane + p] + v
                }
            }
        }
        return Tensor(shape: [b, h, w], storage: out)
    }

    /// Captum's Gauss–Legendre points on [0, 1]: numpy's `leggauss(n)` nodes mapped by
    /// `(x + 1) / 2` and their weights halved, in increasing order.
    static func gaussLegendre(_ n: Int) -> (alphas: [Float], weights: [Float]) {
        // Newton's iteration on the Legendre polynomial from Chebyshev guesses; double precision.
        var nodes = [Double](repeating: 0, count: n), weights = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var x = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
            var derivative = 0.0
            for _ in 0..<100 {
                var p0 = 1.0, p1 = x
                for k in 2...Swift.max(n, 2) {
                    let p2 = (Double(2 * k - 1) * x * p1 - Double(k - 1) * p0) / Double(k)
                    p0 = p1
                    p1 = p2
                }
                if n == 1 { p1 = x; p0 = 1 }
                let numerator: Double = Double(n) * (x * p1 - p0)
                derivative = numerator / (x * x - 1)
                let step = p1 / derivative
                x -= step
                if abs(step) < 1e-15 { break }
            }
            nodes[i] = x
            let denominator: Double = (1 - x * x) * derivative * derivative
            weights[i] = 2 / denominator
        }
        let order = nodes.indices.sorted { nodes[$0] < nodes[$1] }
        return (order.map { Float(0.5 * (nodes[$0] + 1)) }, order.map { Float(0.5 * weights[$0]) })
    }
}
