import Foundation

/// ONNX LayerNormalization (`nn.LayerNorm`): each row over the axes from `axis` on is
/// normalised to zero mean and unit variance (biased, with `epsilon`), then scaled and
/// shifted by `scale` and the optional `bias`, which broadcast to those axes.
///
/// Mean and variance accumulate in Double. Backward needs the input, the scale, and each row's
/// mean and inverse standard deviation, which the forward keeps; it gives the gradients of the
/// input, the scale and the bias.
final class LayerNormalization: Operator {
    let axis: Int
    let epsilon: Float

    init(axis: Int = -1, epsilon: Float = 1e-5) {
        self.axis = axis
        self.epsilon = epsilon
    }

    override var kind: String { "LayerNorm" }

    /// `parameter` repeated to the normalised shape, or an error when it does not broadcast to it.
    private func expanded(_ parameter: Tensor, _ name: String, to shape: [Int]) throws -> Tensor {
        guard (try? Broadcast.shape(parameter.shape, shape)) == shape else {
            throw RuntimeError("expected \(name) broadcasting to the normalised shape \(Network.describe(shape)), "
                               + "found \(Network.describe(parameter.shape))")
        }
        return try Broadcast.expand(parameter, to: shape)
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...3, "X, scale, bias")
        let x = inputs[0]
        guard x.rank >= 1 else { throw RuntimeError("LayerNormalization expects a tensor of rank 1 or more, found a scalar") }
        let axis = try Arguments.axis(self.axis, rank: x.rank)
        let normalized = Array(x.shape[axis...])
        let scale = try expanded(inputs[1], "scale", to: normalized)
        let bias = inputs.count == 3 ? try expanded(inputs[2], "bias", to: normalized) : nil
        let inner = normalized.reduce(1, *), outer = x.shape[..<axis].reduce(1, *)
        var mean = Tensor(shape: [outer]), inverse = Tensor(shape: [outer])
        let epsilon = Double(self.epsilon)
        var output = Tensor(shape: x.shape)
        x.withUnsafeBufferPointer { xb in
            scale.withUnsafeBufferPointer { sb in
                output.withUnsafeMutableBufferPointer { ob in
                    mean.withUnsafeMutableBufferPointer { mb in
                        inverse.withUnsafeMutableBufferPointer { ib in
                            guard let xp = xb.baseAddress, let sp = sb.baseAddress, let op = ob.baseAddress,
                                  inner > 0 else { return }
                            let bp = bias?.storage
                            for row in 0..<outer {
                                let r = xp + row * inner, o = op + row * inner
                                var sum = 0.0
                                for j in 0..<inner { sum += Double(r[j]) }
                                let mu = sum / Double(inner)
                                var squares = 0.0
                                for j in 0..<inner {
                                    let d = Double(r[j]) - mu
                                    squares += d * d
                                }
                                let inv = Float(1 / (squares / Double(inner) + epsilon).squareRoot())
                                let m = Float(mu)
                                mb[row] = m
                                ib[row] = inv
                                if let bp {
                                    for j in 0..<inner { o[j] = (r[j] - m) * inv * sp[j] + bp[j] }
                                } else {
                                    for j in 0..<inner { o[j] = (r[j] - m) * inv * sp[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
        if step.retain {
            step.saved.tensors = [x, scale, mean, inverse]
            step.saved.shapes = inputs.dropFirst().map(\.shape)
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.tensors.count == 4, saved.tensors[0].shape == gradient.shape,
              saved.shapes.count == step.needs.count - 1 else { throw unmatchedBackward }
        let (x, scale, mean, inverse) = (saved.tensors[0], saved.tensors[1], saved.tensors[2], saved.tensors[3])
        let inner = scale.count, outer = mean.count
        guard outer * inner == x.count else { throw unmatchedBackward }
        let wantsParameters = step.needs.dropFirst().contains(true)
        var gx = step.needs[0] ? Tensor(shape: x.shape) : nil
        var gScale = Tensor(shape: scale.shape), gBias = Tensor(shape: scale.shape)
        x.withUnsafeBufferPointer { xb in
            gradient.withUnsafeBufferPointer { gb in
                scale.withUnsafeBufferPointer { sb in
                    gScale.withUnsafeMutableBufferPointer { gsb in
                        gBias.withUnsafeMutableBufferPointer { gbb in
                            guard let xp = xb.baseAddress, let gp = gb.baseAddress, let sp = sb.baseAddress,
                                  let gs = gsb.baseAddress, let gbias = gbb.baseAddress else { return }
                            for row in 0..<outer {
                                let r = xp + row * inner, g = gp + row * inner
                                let m = mean.storage[row], inv = inverse.storage[row]
                                if wantsParameters {
                                    for j in 0..<inner {
                                        gs[j] += g[j] * (r[j] - m) * inv
                                        gbias[j] += g[j]
                                    }
                                }
                                guard gx != nil else { continue }
                                // dx = inv·(dŷ − mean(dŷ) − x̂·mean(dŷ·x̂)), dŷ = g·scale.
                                var a: Float = 0, b: Float = 0
                                for j in 0..<inner {
                                    let dy = g[j] * sp[j]
                                    a += dy
                                    b += dy * (r[j] - m) * inv
                                }
                                a /= Float(inner)
                                b /= Float(inner)
                                gx?.withUnsafeMutableBufferPointer { ob in
                                    guard let o = ob.baseAddress.map({ $0 + row * inner }) else { return }
                                    for j in 0..<inner { o[j] = inv * (g[j] * sp[j] - a - (r[j] - m) * inv * b) }
                                }
                            }
                        }
                    }
                }
            }
        }
        var result: [Tensor?] = [gx]
        for (k, shape) in saved.shapes.enumerated() {
            result.append(step.needs[k + 1] ? try Broadcast.reduce(k == 0 ? gScale : gBias, to: shape) : nil)
        }
        return result
    }
}

/// ONNX Softmax (opset ≥ 13, `nn.Softmax(dim)`): exp(x − max) normalised along `axis`. With
/// `coercesTo2D` (opset < 13), along all the axes from `axis` on as one.
///
/// Backward keeps the output: dx = y·(g − Σ g·y) along the axis.
final class Softmax: Operator {
    let axis: Int
    let coercesTo2D: Bool

    init(axis: Int = -1, coercesTo2D: Bool = false) {
        self.axis = axis
        self.coercesTo2D = coercesTo2D
    }

    /// The tensor as [outer, length, inner] along the axis.
    private func layout(_ shape: [Int]) throws -> (outer: Int, length: Int, inner: Int) {
        if coercesTo2D {
            guard axis >= -shape.count, axis <= shape.count else {
                throw RuntimeError("Softmax axis \(axis) is out of range for rank \(shape.count)")
            }
            let a = axis < 0 ? axis + shape.count : axis
            return (shape[..<a].reduce(1, *), shape[a...].reduce(1, *), 1)
        }
        let a = try Arguments.axis(axis, rank: shape.count)
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...1, "input")
        let x = inputs[0]
        let (outer, length, inner) = try layout(x.shape)
        var output = Tensor(shape: x.shape)
        var scratch = [Float](repeating: 0, count: 2 * inner)
        x.withUnsafeBufferPointer { xb in
            output.withUnsafeMutableBufferPointer { ob in
                scratch.withUnsafeMutableBufferPointer { sb in
                    guard let xp = xb.baseAddress, let op = ob.baseAddress, let top = sb.baseAddress,
                          length > 0 else { return }
                    let total = top + inner
                    for o in 0..<outer {
                        let r = xp + o * length * inner, y = op + o * length * inner
                        if inner == 1 {
                            var m = r[0]
                            for j in 1..<length where r[j] > m { m = r[j] }
                            let scale = 1 / VectorMath.exponentials(r, y, count: length, shift: m)
                            for j in 0..<length { y[j] *= scale }
                            continue
                        }
                        // Along a strided axis: rows of `inner` at a time.
                        top.update(from: r, count: inner)
                        for j in 1..<length {
                            let row = r + j * inner
                            for i in 0..<inner where row[i] > top[i] { top[i] = row[i] }
                        }
                        total.update(repeating: 0, count: inner)
                        for j in 0..<length {
                            let row = r + j * inner, out = y + j * inner
                            VectorMath.map(row, top, out, count: inner) { VectorMath.exp($0 - $1) }
                            for i in 0..<inner { total[i] += out[i] }
                        }
                        for i in 0..<inner { total[i] = 1 / total[i] }
                        for j in 0..<length {
                            let out = y + j * inner
                            for i in 0..<inner { out[i] *= total[i] }
                        }
                    }
                }
            }
        }
        if step.retain { step.saved.tensors = [output] }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard let y = saved.tensors.first, y.shape == gradient.shape else { throw unmatchedBackward }
        let (outer, length, inner) = try layout(y.shape)
        var result = Tensor(shape: y.shape)
        var dots = [Float](repeating: 0, count: inner)
        y.withUnsafeBufferPointer { yb in
            gradient.withUnsafeBufferPointer { gb in
                result.withUnsafeMutableBufferPointer { rb in
                    dots.withUnsafeMutableBufferPointer { db in
                        guard let yp = yb.baseAddress, let gp = gb.baseAddress, let rp = rb.baseAddress,
                              let dot = db.baseAddress else { return }
                        for o in 0..<outer {
                            let base = o * length * inner
                            dot.update(repeating: 0, count: inner)
                            for j in 0..<length {
                                let yr = yp + base + j * inner, gr = gp + base + j * inner
                                for i in 0..<inner { dot[i] += yr[i] * gr[i] }
                            }
                            for j in 0..<length {
                                let yr = yp + base + j * inner, gr = gp + base + j * inner, out = rp + base + j * inner
                                for i in 0..<inner { out[i] = yr[i] * (gr[i] - dot[i]) }
                            }
                        }
                    }
                }
            }
        }
        return [result]
    }
}

/// The axes a reduction runs over and the shapes around it (shared by ReduceMean and ReduceSum).
private struct Reduction {
    /// The input's shape with 1 along the reduced axes.
    var kept: [Int]
    /// The result's shape (`kept`, or without the reduced axes).
    var output: [Int]
    /// The number of elements summed into each result.
    var count: Int

    /// The reduction of `shape` along `axes` (nil or empty: all axes), or nil when empty axes
    /// mean no reduction.
    init?(shape: [Int], axes: [Int]?, keepDims: Bool, noopWithEmptyAxes: Bool) throws {
        let given = axes ?? []
        if given.isEmpty && noopWithEmptyAxes { return nil }
        let reduced = given.isEmpty ? Array(shape.indices) : try Arguments.axes(given, rank: shape.count)
        kept = shape
        for axis in reduced { kept[axis] = 1 }
        output = keepDims ? kept : shape.indices.filter { !reduced.contains($0) }.map { shape[$0] }
        count = reduced.reduce(1) { $0 * shape[$1] }
    }

    /// The sums of `x` over the reduced axes, in the output's shape.
    func sum(_ x: Tensor) throws -> Tensor {
        try Broadcast.reduce(x, to: kept).reshaped(output)
    }

    /// The gradient of the sum: `gradient` times `factor` repeated over the reduced axes.
    static func spread(_ gradient: Tensor, _ saved: Saved, factor: (Int) -> Float) throws -> Tensor {
        guard saved.shapes.count == 2 else { return gradient }
        let (shape, kept) = (saved.shapes[0], saved.shapes[1])
        guard kept.reduce(1, *) == gradient.count else {
            throw RuntimeError("backward without a matching retained forward")
        }
        let scale = factor(shape.reduce(1, *) / Swift.max(kept.reduce(1, *), 1))
        let expanded = try Broadcast.expand(gradient.reshaped(kept), to: shape)
        return scale == 1 ? expanded : expanded.map { $0 * scale }
    }
}

/// ONNX ReduceMean and ReduceSum: the mean or sum over `axes` (from the attribute, or the
/// second input since opset 13 for ReduceSum and 18 for ReduceMean), all axes when there are
/// none, unless `noopWithEmptyAxes` makes that the identity; `keepDims` keeps the reduced axes
/// with size 1.
class Reduce: Operator {
    let axes: [Int]?
    let keepDims: Bool
    let noopWithEmptyAxes: Bool
    /// Whether the sum is divided by the number of elements reduced (ReduceMean).
    let averages: Bool

    init(averages: Bool, axes: [Int]?, keepDims: Bool, noopWithEmptyAxes: Bool) {
        self.averages = averages
        self.axes = axes
        self.keepDims = keepDims
        self.noopWithEmptyAxes = noopWithEmptyAxes
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...2, "data, axes")
        let x = inputs[0]
        let axes = inputs.count == 2 ? try Arguments.integers(inputs[1], "axes") : self.axes
        guard let reduction = try Reduction(shape: x.shape, axes: axes, keepDims: keepDims,
                                            noopWithEmptyAxes: noopWithEmptyAxes) else { return x }
        if step.retain { step.saved.shapes = [x.shape, reduction.kept] }
        let sum = try reduction.sum(x)
        guard averages else { return sum }
        let scale = 1 / Float(reduction.count)
        return sum.map { $0 * scale }
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        let averages = self.averages
        return [try Reduction.spread(gradient, saved) { averages ? 1 / Float($0) : 1 }, nil]
    }
}

/// ONNX ReduceMean (see `Reduce`).
final class ReduceMean: Reduce {
    init(axes: [Int]? = nil, keepDims: Bool = true, noopWithEmptyAxes: Bool = false) {
        super.init(averages: true, axes: axes, keepDims: keepDims, noopWithEmptyAxes: noopWithEmptyAxes)
    }
}

/// ONNX ReduceSum (see `Reduce`).
final class ReduceSum: Reduce {
    init(axes: [Int]? = nil, keepDims: Bool = true, noopWithEmptyAxes: Bool = false) {
        super.init(averages: false, axes: axes, keepDims: keepDims, noopWithEmptyAxes: noopWithEmptyAxes)
    }
}
