/// Guided backpropagation (Springenberg et al., ICLR-W 2015, Eq. 6 / Fig. 1: the ReLU passes a
/// gradient back only where both its input and the incoming gradient are positive) and Guided
/// Grad-CAM (Selvaraju et al. 2017, §3.1: the guided gradient times the Grad-CAM map), as
/// pytorch-grad-cam's `GuidedBackpropReLUModel` and `deprocess_image` compute them.
public enum GuidedBackprop {
    /// The guided gradient of the first image of `input` with respect to its pixels, `[H, W, 3]`
    /// (float32, channels last as pytorch-grad-cam returns it), and the class it explains
    /// (the top class when `target` is `.top`).
    public static func gradient(network: CAMNetwork, input: Tensor, target: ClassTarget = .top,
                                cancellation: CancellationFlag? = nil) throws -> (gradient: Tensor, targetClass: Int) {
        guard input.rank == 4, input.shape[0] > 0 else {
            throw RuntimeError("guided backpropagation needs an input batch [N, 3, H, W], got a tensor of shape \(input.shape)")
        }
        let first = input.slice(0)
        let x = first.reshaped([1] + first.shape)
        let forward = try network.forward(x, recording: [], retainForBackward: true, cancellation: cancellation)
        let k = forward.logits.shape[1]
        let row = forward.logits.storage[0..<k]
        let cls = try target.classIndex(logits: row, classNames: network.classNames)
        let g = Tensor(shape: [1, k], storage: CAMTarget.rawScore(of: cls, outputs: k).gradient(row))
        let backward = try network.backward(g, gradientsAt: [], inputGradient: true, reluMode: .guided)
        guard let grad = backward.input, grad.shape == x.shape else {
            throw RuntimeError("guided backpropagation needs the gradient with respect to the input, but the network returned none")
        }
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let hwc = Tensor(shape: [h, w, c]) { out in
            for y in 0..<h { for xx in 0..<w { for ch in 0..<c {
                out[(y * w + xx) * c + ch] = grad.storage[(ch * h + y) * w + xx]
            } } }
        }
        return (hwc, cls)
    }

    /// pytorch-grad-cam's `deprocess_image`: `(x − mean) / (std + 1e-5) · 0.1 + 0.5`, clipped to
    /// [0, 1], times 255 truncated to an integer; returned as floats 0…255 in the same shape.
    public static func deprocess(_ x: Tensor) -> Tensor {
        guard x.count > 0 else { return x }
        var sum: Double = 0
        for v in x.storage { sum += Double(v) }
        let mean = Float(sum / Double(x.count))
        var squares: Double = 0
        for v in x.storage { let d = v - mean; squares += Double(d * d) }
        let std = Float(squares / Double(x.count)).squareRoot()
        return x.map { v in
            let y = Swift.min(Swift.max((v - mean) / (std + 1e-5) * 0.1 + 0.5, 0), 1)
            return (y * 255).rounded(.towardZero)
        }
    }

    /// Guided Grad-CAM: `deprocess(mask[h, w] · gradient[h, w, c])` (the CAM of the same image and
    /// class broadcast over the colour channels).
    public static func guidedGradCAM(mask: Tensor, gradient: Tensor) throws -> Tensor {
        guard gradient.rank == 3, mask.shape == Array(gradient.shape.prefix(2)) else {
            throw RuntimeError("Guided Grad-CAM needs a [H, W] map and a [H, W, 3] gradient of the same size, got \(mask.shape) and \(gradient.shape)")
        }
        let c = gradient.shape[2]
        let product = Tensor(shape: gradient.shape) { out in
            for i in 0..<gradient.count { out[i] = mask.storage[i / c] * gradient.storage[i] }
        }
        return deprocess(product)
    }
}
