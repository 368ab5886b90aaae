import Foundation

/// An element-wise function of one tensor (ONNX Sigmoid, Tanh, Erf, Gelu, HardSigmoid,
/// HardSwish, LeakyRelu, Clip, Sqrt, Reciprocal, Neg, Exp, Log, Abs, Softplus; SiLU as
/// PyTorch's), with its derivative.
///
/// Derivatives follow PyTorch's autograd, including at kinks, so that gradients (and so CAMs)
/// match pytorch-grad-cam's. Backward keeps the output where the derivative is a function of
/// it (sigmoid, tanh, exp, sqrt, reciprocal), otherwise the input.
final class Unary: Operator {
    enum Kind {
        /// 1 / (1 + e^−x); derivative y(1 − y).
        case sigmoid
        /// Derivative 1 − y².
        case tanh
        /// The error function; derivative 2/√π · e^(−x²).
        case erf
        /// x·Φ(x), or with `tanhApproximation` 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)));
        /// derivatives as PyTorch's GeluBackward.
        case gelu(tanhApproximation: Bool)
        /// max(0, min(1, αx + β)) (PyTorch's Hardsigmoid is α = 1/6, β = 1/2); derivative α
        /// strictly inside 0 < αx + β < 1, 0 at and beyond the kinks (as PyTorch's).
        case hardSigmoid(alpha: Float, beta: Float)
        /// x·relu6(x + 3)/6; derivative 0 for x < −3, x/3 + 1/2 for −3 ≤ x ≤ 3, 1 above
        /// (PyTorch's hardswish_backward, kinks included).
        case hardSwish
        /// x for x > 0, αx otherwise; derivative α at 0 (PyTorch: `x > 0 ? g : α·g`).
        case leakyRelu(alpha: Float)
        /// min(max(x, min), max); the gradient passes where min ≤ x ≤ max, bounds included
        /// (`torch.clamp`'s rule). nn.ReLU6 and nn.Hardtanh pass it strictly inside instead:
        /// `ReLU(.relu6)` has that rule (and fuses into convolutions).
        case clip(min: Float, max: Float)
        /// Derivative 1 / (2y) (∞ at 0, as PyTorch).
        case sqrt
        /// 1/x; derivative −y².
        case reciprocal
        case neg
        /// Derivative y.
        case exp
        /// Derivative 1/x.
        case log
        /// Derivative sign(x), 0 at 0 (PyTorch's sgn).
        case abs
        /// ln(1 + eˣ), and x itself above 20 (PyTorch's threshold); derivative σ(x), 1 above 20.
        case softplus
        /// x·σ(x); derivative σ(x)(1 + x(1 − σ(x))).
        case silu
    }

    let function: Kind

    init(_ kind: Kind) {
        function = kind
    }

    override var kind: String {
        switch function {
        case .sigmoid: return "Sigmoid"
        case .tanh: return "Tanh"
        case .erf: return "Erf"
        case .gelu: return "GELU"
        case .hardSigmoid: return "Hardsigmoid"
        case .hardSwish: return "Hardswish"
        case .leakyRelu: return "LeakyReLU"
        case .clip: return "Clip"
        case .sqrt: return "Sqrt"
        case .reciprocal: return "Reciprocal"
        case .neg: return "Neg"
        case .exp: return "Exp"
        case .log: return "Log"
        case .abs: return "Abs"
        case .softplus: return "Softplus"
        case .silu: return "SiLU"
        }
    }

    /// Whether backward needs the output rather than the input.
    private var derivativeUsesOutput: Bool {
        switch function {
        case .sigmoid, .tanh, .exp, .sqrt, .reciprocal: return true
        default: return false
        }
    }

    /// √(2/π), the scale inside the tanh approximation of GELU.
    private static let geluBeta: Float = 0.7978845608028654
    /// 1/√(2π), the standard normal density's scale.
    private static let normalScale: Float = 0.3989422804014327

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...1, "X")
        let x = inputs[0]
        let y: Tensor
        switch function {
        case .sigmoid: y = Unary.vectorApply(x) { 1 / (1 + VectorMath.exp(-$0)) }
        case .tanh: y = Unary.apply(x) { Foundation.tanh($0) }
        case .erf: y = Unary.vectorApply(x) { VectorMath.erf($0) }
        case .gelu(tanhApproximation: false):
            y = Unary.vectorApply(x) { $0 * 0.5 * (1 + VectorMath.erf($0 * 0.70710678118654752)) }
        case .gelu(tanhApproximation: true):
            let beta = Unary.geluBeta
            y = Unary.apply(x) { v in 0.5 * v * (1 + Foundation.tanh(beta * (v + 0.044715 * v * v * v))) }
        case let .hardSigmoid(alpha, beta):
            y = Unary.apply(x) { Unary.clamp(alpha * $0 + beta, 0, 1) }
        case .hardSwish: y = Unary.apply(x) { $0 * Unary.clamp($0 + 3, 0, 6) / 6 }
        case let .leakyRelu(alpha): y = Unary.apply(x) { $0 > 0 ? $0 : alpha * $0 }
        case let .clip(low, high): y = Unary.apply(x) { Unary.clamp($0, low, high) }
        case .sqrt: y = Unary.apply(x) { $0.squareRoot() }
        case .reciprocal: y = Unary.apply(x) { 1 / $0 }
        case .neg: y = Unary.apply(x) { -$0 }
        case .exp: y = Unary.vectorApply(x) { VectorMath.exp($0) }
        case .log: y = Unary.apply(x) { Foundation.log($0) }
        case .abs: y = Unary.apply(x) { Swift.abs($0) }
        case .softplus: y = Unary.apply(x) { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) }
        case .silu: y = Unary.vectorApply(x) { $0 / (1 + VectorMath.exp(-$0)) }
        }
        if step.retain { step.saved.tensors = [derivativeUsesOutput ? y : x] }
        return y
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard let v = saved.tensors.first, v.shape == gradient.shape else { throw unmatchedBackward }
        let g = gradient
        let result: Tensor
        // `v` is the output y or the input x, as `derivativeUsesOutput` says.
        switch function {
        case .sigmoid: result = Unary.apply(g, v) { g, y in g * y * (1 - y) }
        case .tanh: result = Unary.apply(g, v) { g, y in g * (1 - y * y) }
        case .erf: result = Unary.vectorApply(g, v) { g, x in g * 1.1283791670955126 * VectorMath.exp(-x * x) }
        case .gelu(tanhApproximation: false):
            let scale = Unary.normalScale
            result = Unary.vectorApply(g, v) { g, x in
                let cdf = 0.5 * (1 + VectorMath.erf(x * 0.70710678118654752))
                return g * (cdf + x * scale * VectorMath.exp(-0.5 * x * x))
            }
        case .gelu(tanhApproximation: true):
            let beta = Unary.geluBeta
            result = Unary.apply(g, v) { g, x in
                let inner = Foundation.tanh(beta * (x + 0.044715 * x * x * x))
                let left = 0.5 * (1 + inner)
                let right = 0.5 * x * (1 - inner * inner) * beta * (1 + 3 * 0.044715 * x * x)
                return g * (left + right)
            }
        case let .hardSigmoid(alpha, beta):
            result = Unary.apply(g, v) { g, x in
                let z = alpha * x + beta
                return z > 0 && z < 1 ? g * alpha : 0
            }
        case .hardSwish:
            result = Unary.apply(g, v) { g, x in x < -3 ? 0 : (x <= 3 ? g * (x / 3 + 0.5) : g) }
        case let .leakyRelu(alpha): result = Unary.apply(g, v) { g, x in x > 0 ? g : g * alpha }
        case let .clip(low, high): result = Unary.apply(g, v) { g, x in x >= low && x <= high ? g : 0 }
        case .sqrt: result = Unary.apply(g, v) { g, y in g / (2 * y) }
        case .reciprocal: result = Unary.apply(g, v) { g, y in -g * y * y }
        case .neg: result = g.negated
        case .exp: result = Unary.apply(g, v) { g, y in g * y }
        case .log: result = Unary.apply(g, v) { g, x in g / x }
        case .abs: result = Unary.apply(g, v) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }
        case .softplus:
            result = Unary.apply(g, v) { g, x in
                guard x <= 20 else { return g }
                let z = Foundation.exp(x)
                return g * z / (z + 1)
            }
        case .silu:
            result = Unary.vectorApply(g, v) { g, x in
                let s = 1 / (1 + VectorMath.exp(-x))
                return g * s * (1 + x * (1 - s))
            }
        }
        return [result]
    }

    /// `x` clamped to `low...high`; NaN stays NaN (as `torch.clamp`).
    @inline(__always)
    static func clamp(_ x: Float, _ low: Float, _ high: Float) -> Float {
        x < low ? low : (x > high ? high : x)
    }

    /// `f` of every element, in one pass over contiguous memory.
    @inline(__always)
    static func apply(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        x.withUnsafeBufferPointer { source in
            Tensor(shape: x.shape) { out in
                guard let s = source.baseAddress, let o = out.baseAddress else { return }
                for i in 0..<out.count { o[i] = f(s[i]) }
            }
        }
    }

    /// `f` of every element sixteen at a time (the transcendental functions: VectorMath).
    @inline(__always)
    static func vectorApply(_ x: Tensor, _ f: (VectorMath.Vector) -> VectorMath.Vector) -> Tensor {
        x.withUnsafeBufferPointer { source in
            Tensor(shape: x.shape) { out in
                guard let s = source.baseAddress, let o = out.baseAddress else { return }
                VectorMath.parallelMap(s, o, count: out.count, f)
            }
        }
    }

    /// `f` of every pair of elements of two tensors of equal shape, sixteen at a time.
    @inline(__always)
    static func vectorApply(_ a: Tensor, _ b: Tensor,
                            _ f: (VectorMath.Vector, VectorMath.Vector) -> VectorMath.Vector) -> Tensor {
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                Tensor(shape: a.shape) { out in
                    guard let x = ab.baseAddress, let y = bb.baseAddress, let o = out.baseAddress else { return }
                    VectorMath.parallelMap(x, y, o, count: Swift.min(out.count, bb.count), f)
                }
            }
        }
    }

    /// `f` of every pair of elements of two tensors of equal shape.
    @inline(__always)
    static func apply(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                Tensor(shape: a.shape) { out in
                    guard let x = ab.baseAddress, let y = bb.baseAddress, let o = out.baseAddress else { return }
                    for i in 0..<Swift.min(out.count, bb.count) { o[i] = f(x[i], y[i]) }
                }
            }
        }
    }
}

/// ONNX PRelu (`nn.PReLU`): x for x > 0, slope·x otherwise, the slope broadcasting to the
/// input (one per channel, [C, 1, 1], or one for all).
///
/// Gradients as PyTorch's: the slope's where x ≤ 0 (x·g summed over broadcast axes), and the
/// input's is g or slope·g by the same test (the slope at 0).
final class PRelu: Operator {
    override var kind: String { "PReLU" }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...2, "X, slope")
        let (x, slope) = (inputs[0], inputs[1])
        guard (try? Broadcast.shape(x.shape, slope.shape)) == x.shape else {
            throw RuntimeError("expected a slope that broadcasts to the input \(Network.describe(x.shape)), "
                               + "found \(Network.describe(slope.shape))")
        }
        if step.retain { step.saved.tensors = [x, slope] }
        return try Broadcast.map(x, slope) { $0 > 0 ? $0 : $0 * $1 }
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.tensors.count == 2, saved.tensors[0].shape == gradient.shape, step.needs.count == 2 else {
            throw unmatchedBackward
        }
        let (x, slope) = (saved.tensors[0], saved.tensors[1])
        var result: [Tensor?] = [nil, nil]
        if step.needs[0] { result[0] = try Broadcast.map(gradient, x, slope) { g, x, s in x > 0 ? g : g * s } }
        if step.needs[1] {
            result[1] = try Broadcast.reduce(try Broadcast.map(gradient, x) { g, x in x > 0 ? 0 : g * x },
                                             to: slope.shape)
        }
        return result
    }
}
