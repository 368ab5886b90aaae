import Foundation

/// Max pooling (`nn.MaxPool2d(kernel, stride, padding)`), padding with −∞; on ties the first
/// maximum in scan order wins, as in PyTorch.
final class MaxPool2d: Operator {
    let kernelSize: Int
    let stride: Int
    let padding: Int
    /// The oneDNN primitive of the last inference input shape and layout.
    private var oneDNNPool: OneDNNMaxPool?

    init(kernelSize: Int, stride: Int, padding: Int) {
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let input = inputs[0]
        guard input.rank == 4 else {
            throw RuntimeError("expected input [N, C, H, W], found \(Network.describe(input.shape))")
        }
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let oh = (h + 2 * padding - kernelSize) / stride + 1
        let ow = (w + 2 * padding - kernelSize) / stride + 1
        guard h + 2 * padding >= kernelSize, w + 2 * padding >= kernelSize else {
            throw RuntimeError("input \(h)×\(w) is smaller than the \(kernelSize)×\(kernelSize) pooling window")
        }
        let retain = step.retain
        var argmax = [Int32](repeating: 0, count: retain ? n * c * oh * ow : 0)
        let (k, s, p) = (kernelSize, stride, padding)
        let output = Tensor(shape: [n, c, oh, ow]) { out in
            input.withUnsafeBufferPointer { x in
                argmax.withUnsafeMutableBufferPointer { am in
                    guard let xp = x.baseAddress, let yp = out.baseAddress else { return }
                    let amp = retain ? am.baseAddress : nil
                    parallelFor(n * c) { plane in
                        let src = xp + plane * h * w
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var best = -Float.infinity, bestIndex = -1
                                for ky in 0..<k {
                                    let iy = oy * s - p + ky
                                    if iy < 0 || iy >= h { continue }
                                    for kx in 0..<k {
                                        let ix = ox * s - p + kx
                                        if ix < 0 || ix >= w { continue }
                                        let v = src[iy * w + ix]
                                        if v > best || bestIndex < 0 || v.isNaN { best = v; bestIndex = iy * w + ix }
                                    }
                                }
                                let o = (plane * oh + oy) * ow + ox
                                yp[o] = best
                                amp?[o] = Int32(bestIndex)
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
        guard x.shape.count == 4 else {
            throw RuntimeError("expected input [N, C, H, W], found \(Network.describe(x.shape))")
        }
        let (h, w) = (x.shape[2], x.shape[3])
        guard h + 2 * padding >= kernelSize, w + 2 * padding >= kernelSize else {
            throw RuntimeError("input \(h)×\(w) is smaller than the \(kernelSize)×\(kernelSize) pooling window")
        }
        let outputShape = [x.shape[0], x.shape[1], (h + 2 * padding - kernelSize) / stride + 1,
                           (w + 2 * padding - kernelSize) / stride + 1]
        let pool: OneDNNMaxPool
        if let cached = oneDNNPool, cached.engine === engine, cached.outputShape == outputShape,
           x.hasLayout(cached.sourceLayout) {
            pool = cached
        } else {
            pool = try OneDNNMaxPool(input: x, outputShape: outputShape, kernel: kernelSize, stride: stride, padding: padding)
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
