import Foundation

/// Batch normalisation in evaluation mode (`nn.BatchNorm2d`): per channel
/// `(x − running_mean) / sqrt(running_var + eps) · weight + bias`.
final class BatchNorm2d: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    let channels: Int
    let eps: Double
    private(set) var weight: Tensor
    private(set) var bias: Tensor
    private(set) var runningMean: Tensor
    private(set) var runningVar: Tensor
    /// Bumped on every parameter change so that folded copies know they are stale.
    private(set) var version = 0
    private var cached: (scale: [Float], shift: [Float])?

    init(channels: Int, eps: Double) {
        self.channels = channels
        self.eps = eps
        weight = Tensor(shape: [channels], repeating: 1)
        bias = Tensor(shape: [channels])
        runningMean = Tensor(shape: [channels])
        runningVar = Tensor(shape: [channels], repeating: 1)
    }

    override var parameters: [String: Tensor] {
        ["weight": weight, "bias": bias, "running_mean": runningMean, "running_var": runningVar]
    }

    override func setParameter(_ name: String, _ value: Tensor) {
        switch name {
        case "weight": weight = value
        case "bias": bias = value
        case "running_mean": runningMean = value
        case "running_var": runningVar = value
        default: return
        }
        version += 1
        cached = nil
    }

    /// The affine map the layer computes: y = x · scale[c] + shift[c].
    func scaleAndShift() -> (scale: [Float], shift: [Float]) {
        if let cached { return cached }
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            let s = Double(weight.storage[c]) / (Double(runningVar.storage[c]) + eps).squareRoot()
            scale[c] = Float(s)
            shift[c] = Float(Double(bias.storage[c]) - Double(runningMean.storage[c]) * s)
        }
        cached = (scale, shift)
        return (scale, shift)
    }

    /// The bias FullGrad attributes to this layer: `bias − running_mean · weight / sqrt(running_var + eps)`.
    var effectiveBias: Tensor {
        Tensor(shape: [channels], storage: scaleAndShift().shift)
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let input = inputs[0]
        guard input.rank == 4, input.shape[1] == channels else {
            throw RuntimeError("expected input [N, \(channels), H, W], found \(Network.describe(input.shape))")
        }
        let (scale, shift) = scaleAndShift()
        return perChannel(input, scale: scale, shift: shift)
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        let (scale, _) = scaleAndShift()
        return [perChannel(gradient, scale: scale, shift: nil)]
    }

    private func perChannel(_ input: Tensor, scale: [Float], shift: [Float]?) -> Tensor {
        let plane = input.shape[2] * input.shape[3]
        let channels = self.channels
        return Tensor(shape: input.shape) { out in
            input.withUnsafeBufferPointer { x in
                guard let xp = x.baseAddress, let yp = out.baseAddress else { return }
                parallelFor(input.shape[0] * channels) { index in
                    let c = index % channels
                    let s = scale[c], t = shift?[c] ?? 0
                    let src = xp + index * plane, dst = yp + index * plane
                    for i in 0..<plane { dst[i] = src[i] * s + t }
                }
            }
        }
    }
}
