import Foundation

/// Average pooling on [N, C, H, W] (`nn.AvgPool2d`, ONNX AveragePool): torchvision's DenseNet
/// transitions (2×2, stride 2), and AdaptiveAvgPool2d(7) as exported when the sizes divide
/// (kernel = stride).
///
/// Windows and divisors are PyTorch's: with `ceilMode` a last window that would start in the
/// trailing padding is dropped; with `countIncludePad` the divisor counts the padding (but not
/// a ceil-mode overhang past it), otherwise only the input elements under the window.
final class AveragePool2d: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    let kernel: (Int, Int)
    let stride: (Int, Int)
    let pads: (top: Int, left: Int, bottom: Int, right: Int)
    let ceilMode: Bool
    let countIncludePad: Bool

    init(kernel: (Int, Int), stride: (Int, Int), pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0),
         ceilMode: Bool = false, countIncludePad: Bool = false) {
        self.kernel = kernel
        self.stride = stride
        self.pads = pads
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    override var kind: String { "AvgPool2d" }

    /// The windows along one axis: each output's first and last input index (clipped to the
    /// input) and its divisor.
    private func windows(input: Int, kernel k: Int, stride s: Int, before: Int, after: Int) -> [(Int, Int, Float)]? {
        let span = input + before + after - k
        guard span >= 0 else { return nil }
        var count = (ceilMode ? (span + s - 1) / s : span / s) + 1
        if ceilMode && (count - 1) * s >= input + before { count -= 1 }
        return (0..<count).map { o in
            let start = o * s - before
            let end = Swift.min(start + k, input + after)
            let (from, to) = (Swift.max(start, 0), Swift.min(end, input))
            return (from, to, Float(countIncludePad ? end - start : to - from))
        }
    }

    /// The windows of both axes for an input shape, or an error naming what does not fit.
    private func geometry(_ shape: [Int]) throws -> (rows: [(Int, Int, Float)], columns: [(Int, Int, Float)]) {
        guard shape.count == 4 else {
            throw RuntimeError("expected input [N, C, H, W], found \(Network.describe(shape))")
        }
        guard kernel.0 > 0, kernel.1 > 0, stride.0 > 0, stride.1 > 0,
              [pads.top, pads.left, pads.bottom, pads.right].allSatisfy({ $0 >= 0 }) else {
            throw RuntimeError("expected a positive kernel and stride and non-negative pads, found kernel "
                               + "\(kernel.0)×\(kernel.1), stride \(stride.0)×\(stride.1), pads "
                               + "\(Network.describe([pads.top, pads.left, pads.bottom, pads.right]))")
        }
        guard let rows = windows(input: shape[2], kernel: kernel.0, stride: stride.0, before: pads.top, after: pads.bottom),
              let columns = windows(input: shape[3], kernel: kernel.1, stride: stride.1, before: pads.left,
                                    after: pads.right) else {
            throw RuntimeError("input \(shape[2])×\(shape[3]) is smaller than the \(kernel.0)×\(kernel.1) pooling window")
        }
        return (rows, columns)
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...1, "X")
        let x = inputs[0]
        let (rows, columns) = try geometry(x.shape)
        let (h, w, oh, ow) = (x.shape[2], x.shape[3], rows.count, columns.count)
        if step.retain { step.saved.shape = x.shape }
        return x.withUnsafeBufferPointer { xb in
            Tensor(shape: [x.shape[0], x.shape[1], oh, ow]) { out in
                guard let xp = xb.baseAddress, let yp = out.baseAddress else { return }
                parallelFor(x.shape[0] * x.shape[1]) { plane in
                    let src = xp + plane * h * w, dst = yp + plane * oh * ow
                    for (oy, row) in rows.enumerated() {
                        for (ox, column) in columns.enumerated() {
                            var sum: Float = 0
                            for iy in row.0..<Swift.max(row.1, row.0) {
                                for ix in column.0..<Swift.max(column.1, column.0) { sum += src[iy * w + ix] }
                            }
                            let divisor = row.2 * column.2
                            dst[oy * ow + ox] = divisor > 0 ? sum / divisor : 0
                        }
                    }
                }
            }
        }
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        let (rows, columns) = try geometry(saved.shape)
        let (h, w, oh, ow) = (saved.shape[2], saved.shape[3], rows.count, columns.count)
        guard gradient.shape == [saved.shape[0], saved.shape[1], oh, ow] else { throw unmatchedBackward }
        var result = Tensor(shape: saved.shape)
        result.withUnsafeMutableBufferPointer { rb in
            gradient.withUnsafeBufferPointer { gb in
                guard let xp = rb.baseAddress, let gp = gb.baseAddress else { return }
                parallelFor(saved.shape[0] * saved.shape[1]) { plane in
                    let dst = xp + plane * h * w, src = gp + plane * oh * ow
                    for (oy, row) in rows.enumerated() {
                        for (ox, column) in columns.enumerated() {
                            let divisor = row.2 * column.2
                            guard divisor > 0 else { continue }
                            let share = src[oy * ow + ox] / divisor
                            for iy in row.0..<Swift.max(row.1, row.0) {
                                for ix in column.0..<Swift.max(column.1, column.0) { dst[iy * w + ix] += share }
                            }
                        }
                    }
                }
            }
        }
        return [result]
    }
}
