/// The two bilinear resampling conventions pytorch-grad-cam relies on.
public enum CAMInterpolation {
    /// Resizes one `height × width` plane like OpenCV's `cv2.resize(src, (newWidth, newHeight))`
    /// with its default `INTER_LINEAR`: pixel centres aligned (`x = (dx + 0.5) · scale − 0.5`),
    /// border replicated, no antialiasing; an exact 2× reduction in both directions becomes
    /// OpenCV's `INTER_AREA` (the mean of each 2×2 block), as OpenCV itself does.
    public static func resizeLinear(_ source: UnsafeBufferPointer<Float>, width: Int, height: Int,
                                    toWidth newWidth: Int, height newHeight: Int,
                                    into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count >= width * height && destination.count >= newWidth * newHeight)
        if width == newWidth && height == newHeight {
            for i in 0..<(width * height) { destination[i] = source[i] }
            return
        }
        if width == 2 * newWidth && height == 2 * newHeight {
            for y in 0..<newHeight {
                for x in 0..<newWidth {
                    let r0 = 2 * y * width + 2 * x, r1 = r0 + width
                    destination[y * newWidth + x] =
                        (source[r0] + source[r0 + 1] + source[r1] + source[r1 + 1]) * 0.25
                }
            }
            return
        }
        let xs = linearTaps(source: width, destination: newWidth)
        let ys = linearTaps(source: height, destination: newHeight)
        var row0 = [Float](repeating: 0, count: newWidth)
        var row1 = [Float](repeating: 0, count: newWidth)
        func horizontal(_ y: Int, _ row: inout [Float]) {
            let base = y * width
            for dx in 0..<newWidth {
                let tap = xs[dx]
                row[dx] = source[base + tap.index0] * tap.weight0 + source[base + tap.index1] * tap.weight1
            }
        }
        for dy in 0..<newHeight {
            let tap = ys[dy]
            horizontal(tap.index0, &row0)
            horizontal(tap.index1, &row1)
            let out = dy * newWidth
            for dx in 0..<newWidth {
                destination[out + dx] = row0[dx] * tap.weight0 + row1[dx] * tap.weight1
            }
        }
    }

    /// Resizes every `h × w` plane of a `[..., h, w]` tensor with `resizeLinear`.
    public static func resizeLinear(_ planes: Tensor, toWidth newWidth: Int, height newHeight: Int) -> Tensor {
        precondition(planes.rank >= 2, "resize needs at least two dimensions, got \(planes.shape)")
        let height = planes.shape[planes.rank - 2], width = planes.shape[planes.rank - 1]
        let count = planes.count / Swift.max(width * height, 1)
        let outShape = Array(planes.shape.dropLast(2)) + [newHeight, newWidth]
        return planes.withUnsafeBufferPointer { src in
            Tensor(shape: outShape) { dst in
                for p in 0..<count {
                    let s = UnsafeBufferPointer(rebasing: src[(p * width * height)..<((p + 1) * width * height)])
                    let d = UnsafeMutableBufferPointer(
                        rebasing: dst[(p * newWidth * newHeight)..<((p + 1) * newWidth * newHeight)])
                    resizeLinear(s, width: width, height: height, toWidth: newWidth, height: newHeight, into: d)
                }
            }
        }
    }

    /// Upsamples every `h × w` plane of a `[..., h, w]` tensor like PyTorch's
    /// `UpsamplingBilinear2d` (bilinear with `align_corners=True`: corner pixels coincide,
    /// `x = dx · (w − 1) / (newWidth − 1)`), which ScoreCAM uses for its masks.
    public static func upsampleAlignCorners(_ planes: Tensor, toWidth newWidth: Int, height newHeight: Int) -> Tensor {
        precondition(planes.rank >= 2, "upsample needs at least two dimensions, got \(planes.shape)")
        let height = planes.shape[planes.rank - 2], width = planes.shape[planes.rank - 1]
        let count = planes.count / Swift.max(width * height, 1)
        let xs = alignedTaps(source: width, destination: newWidth)
        let ys = alignedTaps(source: height, destination: newHeight)
        let outShape = Array(planes.shape.dropLast(2)) + [newHeight, newWidth]
        return planes.withUnsafeBufferPointer { src in
            Tensor(shape: outShape) { dst in
                for p in 0..<count {
                    let s = p * width * height, d = p * newWidth * newHeight
                    for dy in 0..<newHeight {
                        let ty = ys[dy]
                        let r0 = s + ty.index0 * width, r1 = s + ty.index1 * width
                        for dx in 0..<newWidth {
                            let tx = xs[dx]
                            let top = tx.weight0 * src[r0 + tx.index0] + tx.weight1 * src[r0 + tx.index1]
                            let bottom = tx.weight0 * src[r1 + tx.index0] + tx.weight1 * src[r1 + tx.index1]
                            dst[d + dy * newWidth + dx] = ty.weight0 * top + ty.weight1 * bottom
                        }
                    }
                }
            }
        }
    }

    struct Tap {
        var index0: Int
        var index1: Int
        var weight0: Float
        var weight1: Float
    }

    /// OpenCV's `INTER_LINEAR` source positions and weights for one axis.
    static func linearTaps(source: Int, destination: Int) -> [Tap] {
        let scale = Double(source) / Double(destination)
        return (0..<destination).map { d in
            var f = Float((Double(d) + 0.5) * scale - 0.5)
            var s = Int(f.rounded(.down))
            f -= Float(s)
            if s < 0 { f = 0; s = 0 }
            if s >= source - 1 { f = 0; s = source - 1 }
            return Tap(index0: s, index1: Swift.min(s + 1, source - 1), weight0: 1 - f, weight1: f)
        }
    }

    /// PyTorch's `align_corners=True` source positions and weights for one axis.
    static func alignedTaps(source: Int, destination: Int) -> [Tap] {
        let scale: Float = destination > 1 ? Float(source - 1) / Float(destination - 1) : 0
        return (0..<destination).map { d in
            let real = scale * Float(d)
            let i = Swift.min(Int(real), source - 1)
            let lambda = real - Float(i)
            return Tap(index0: i, index1: i < source - 1 ? i + 1 : i, weight0: 1 - lambda, weight1: lambda)
        }
    }
}
