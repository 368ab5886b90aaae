import Foundation

/// An element-wise activation that can also be fused into a convolution's output.
enum Activation: Sendable {
    case relu
    case relu6

    /// Applies the activation to `count` elements in place.
    @inline(__always)
    func apply(_ p: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .relu:
            for i in 0..<count { p[i] = Swift.max(p[i], 0) }
        case .relu6:
            for i in 0..<count { p[i] = Swift.min(Swift.max(p[i], 0), 6) }
        }
    }
}

/// ReLU (`nn.ReLU`) or ReLU6 (`nn.ReLU6`).
///
/// Retains its output, which shares storage with the tensor passed on, so retaining costs
/// no copy: the output is positive (and below 6) exactly where the input is.
final class ReLU: Operator {
    let activation: Activation

    init(_ activation: Activation = .relu) {
        self.activation = activation
    }

    override var kind: String { activation == .relu ? "ReLU" : "ReLU6" }

    override var tangentRule: TangentRule { .piecewiseLinear }

    /// 1 inside the linear piece (`x > 0`; ReLU6 also `x < 6`, as PyTorch's hardtanh backward).
    override func slope(at input: Float) -> Float {
        switch activation {
        case .relu: return input > 0 ? 1 : 0
        case .relu6: return input > 0 && input < 6 ? 1 : 0
        }
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let output = apply(inputs[0])
        if step.retain { step.saved.tensors = [output] }
        return output
    }

    /// The activation of `a + b` in one pass over memory (a residual block's output).
    /// Shapes that differ broadcast (ONNX Add), in two passes.
    func addThenApply(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { return apply(try Broadcast.map(a, b) { $0 + $1 }) }
        let kind = activation
        return Tensor(shape: a.shape) { r in
            a.withUnsafeBufferPointer { ab in
                b.withUnsafeBufferPointer { bb in
                    guard let rp = r.baseAddress, let ap = ab.baseAddress, let bp = bb.baseAddress else { return }
                    let chunk = 4096
                    for start in stride(from: 0, to: r.count, by: chunk) {
                        let count = Swift.min(chunk, r.count - start)
                        for i in start..<(start + count) { rp[i] = ap[i] + bp[i] }
                        kind.apply(rp + start, count: count)
                    }
                }
            }
        }
    }

    /// The activation of `input`.
    func apply(_ input: Tensor) -> Tensor {
        var output = input
        let kind = activation
        output.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            kind.apply(base, count: buffer.count)
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard let output = saved.tensors.first, output.shape == gradient.shape else {
            throw RuntimeError("backward without a matching retained forward")
        }
        return [ReLU.backward(gradient, output: output, upper: activation == .relu6 ? 6 : .infinity,
                              guided: step.reluMode == .guided)]
    }

    /// `gradient` where the retained output lies strictly between 0 and `upper` (and, guided,
    /// where the gradient is positive), 0 elsewhere.
    static func backward(_ gradient: Tensor, output: Tensor, upper: Float, guided: Bool) -> Tensor {
        let count = gradient.count
        return Tensor(shape: gradient.shape) { out in
            output.withUnsafeBufferPointer { yb in
                gradient.withUnsafeBufferPointer { gb in
                    guard let y = yb.baseAddress, let g = gb.baseAddress, let r = out.baseAddress else { return }
                    // Branch-free 16 lanes at a time: the masks are random, branches would mispredict.
                    let lanes = 16
                    let vectorCount = count / lanes * lanes
                    let top = SIMD16<Float>(repeating: upper)
                    var i = 0
                    while i < vectorCount {
                        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
                        let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
                        var pass = (yv .> 0) .& (yv .< top)
                        if guided { pass = pass .& (gv .> 0) }
                        UnsafeMutableRawPointer(r + i).storeBytes(of: gv.replacing(with: 0, where: .!pass),
                                                                  as: SIMD16<Float>.self)
                        i += lanes
                    }
                    for j in vectorCount..<count {
                        let pass = y[j] > 0 && y[j] < upper && (!guided || g[j] > 0)
                        r[j] = pass ? g[j] : 0
                    }
                }
            }
        }
    }
}
