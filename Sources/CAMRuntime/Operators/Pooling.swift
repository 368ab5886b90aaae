import Foundation

/// Max pooling (`nn.MaxPool2d`, ONNX MaxPool on [N, C, H, W]), padding with −∞; on ties the
/// first maximum in scan order wins, as in PyTorch.
final class MaxPool2d: Operator {
    let kernel: (Int, Int)
    let stride: (Int, Int)
    /// Padding (top, left, bottom, right).
    let padding: (Int, Int, Int, Int)
    /// Whether the output size rounds up (a last window may start inside the bottom/right padding).
    let ceilMode: Bool
    /// The oneDNN primitive of the last inference input shape and layout.
    private var oneDNNPool: OneDNNMaxPool?

    init(kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int, Int, Int), ceilMode: Bool = false) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.ceilMode = ceilMode
    }

    /// PyTorch's square `nn.MaxPool2d(kernelSize, stride, padding)`.
    convenience init(kernelSize: Int, stride: Int, padding: Int) {
        self.init(kernel: (kernelSize, kernelSize), stride: (stride, stride),
                  padding: (padding, padding, padding, padding))
    }

    override var kind: String { "MaxPool2d" }

    /// The output size of one dimension, or nil when the window does not fit.
    private func outputSize(_ n: Int, _ k: Int, _ s: Int, _ before: Int, _ after: Int) -> Int? {
        let span = n + before + after - k
        guard span >= 0, s > 0 else { return nil }
        var out = (ceilMode ? (span + s - 1) / s : span / s) + 1
        // As PyTorch: the last window must start inside the input or the leading padding.
        if ceilMode && (out - 1) * s >= n + before { out -= 1 }
        return out
    }

    /// The output shape for an input shape, or a user-facing error.
    func outputShape(_ shape: [Int]) throws -> [Int] {
        guard shape.count == 4 else {
            throw RuntimeError("expected input [N, C, H, W], found \(Network.describe(shape))")
        }
        guard let oh = outputSize(shape[2], kernel.0, stride.0, padding.0, padding.2),
              let ow = outputSize(shape[3], kernel.1, stride.1, padding.1, padding.3) else {
            throw RuntimeError("input \(shape[2])×\(shape[3]) is smaller than the \(kernel.0)×\(kernel.1) pooling window")
        }
        return [shape[0], shape[1], oh, ow]
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let input = inputs[0]
        let outShape = try outputShape(input.shape)
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (outShape[2], outShape[3])
        let retain = step.retain
        var argmax = [Int32](repeating: 0, count: retain ? n * c * oh * ow : 0)
        let (kh, kw, sy, sx, pt, pl) = (kernel.0, kernel.1, stride.0, stride.1, padding.0, padding.1)
        let output = Tensor(shape: outShape) { out in
            input.withUnsafeBufferPointer { x in
                argmax.withUnsafeMutableBufferPointer { am in
                    guard let xp = x.baseAddress, let yp = out.baseAddress else { return }
                    let amp = retain ? am.baseAddress : nil
                    parallelFor(n * c) { plane in
                        let src = xp + plane * h * w
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var best = -Float.infinity, bestIndex = -1
                                for ky in 0..<kh {
                                    let iy = oy * sy - pt + ky
                                    if iy < 0 || iy >= h { continue }
                                    for kx in 0..<kw {
                                        let ix = ox * sx - pl + kx
                                        if ix < 0 || ix >= w { continue }
                                        let v = src[iy * w + ix]
                                        if v > best || bestIndex < 0 || v.isNaN { best = v; bestIndex = iy * w + ix }
                                    }
                                }
                                let o = (plane * oh + oy) * ow + ox
                                yp[o] = best
                                amp?[o] = Int32(Swift.max(bestIndex, 0))
                            }
                        }
                    }
                }
            }
        }
        if retain {
            step.saved.shape = input.shape
            step.saved.indices = argmax
        }
        return output
    }

    override func forwardOneDNN(_ inputs: [PassValue], _ engine: OneDNNEngine) throws -> PassValue? {
        let x = try inputs[0].oneDNN(engine)
        let outShape = try outputShape(x.shape)
        let pool: OneDNNMaxPool
        if let cached = oneDNNPool, cached.engine === engine, cached.outputShape == outShape,
           x.hasLayout(cached.sourceLayout) {
            pool = cached
        } else {
            pool = try OneDNNMaxPool(input: x, outputShape: outShape, kernel: kernel, stride: stride, padding: padding)
            oneDNNPool = pool
        }
        return .oneDNN(try pool.run(x))
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.indices.count == gradient.count, saved.shape.count == 4 else {
            throw RuntimeError("backward without a matching retained forward")
        }
        let shape = saved.shape
        let planeIn = shape[2] * shape[3]
        let planeOut = gradient.shape[2] * gradient.shape[3]
        var result = Tensor(shape: shape)
        result.withUnsafeMutableBufferPointer { gx in
            gradient.withUnsafeBufferPointer { gy in
                guard let gxp = gx.baseAddress, let gyp = gy.baseAddress else { return }
                let argmax = saved.indices
                parallelFor(shape[0] * shape[1]) { plane in
                    for o in 0..<planeOut {
                        let i = plane * planeOut + o
                        gxp[plane * planeIn + Int(argmax[i])] += gyp[i]
                    }
                }
            }
        }
        return [result]
    }
}

/// Adaptive average pooling to 1×1 (`nn.AdaptiveAvgPool2d(1)`): the mean of each channel.
final class GlobalAveragePool: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    override var kind: String { "AdaptiveAvgPool2d" }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let input = inputs[0]
        guard input.rank == 4 else {
            throw RuntimeError("expected input [N, C, H, W], found \(Network.describe(input.shape))")
        }
        if step.retain { step.saved.shape = input.shape }
        let planes = input.shape[0] * input.shape[1]
        let plane = input.shape[2] * input.shape[3]
        return Tensor(shape: [input.shape[0], input.shape[1], 1, 1]) { out in
            input.withUnsafeBufferPointer { x in
                guard let xp = x.baseAddress, let yp = out.baseAddress else { return }
                for i in 0..<planes {
                    var sum: Float = 0
                    let src = xp + i * plane
                    for j in 0..<plane { sum += src[j] }
                    yp[i] = sum / Float(plane)
                }
            }
        }
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        let shape = saved.shape
        guard shape.count == 4, gradient.count == shape[0] * shape[1] else {
            throw RuntimeError("backward without a matching retained forward")
        }
        let plane = shape[2] * shape[3]
        let scale = 1 / Float(plane)
        return [Tensor(shape: shape) { out in
            for i in 0..<(shape[0] * shape[1]) {
                let v = gradient.storage[i] * scale
                for j in 0..<plane { out[i * plane + j] = v }
            }
        }]
    }
}
