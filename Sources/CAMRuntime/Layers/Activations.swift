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

/// ReLU (`nn.ReLU`) or ReLU6 (`nn.ReLU6`) as a module.
///
/// Retains its output, which shares storage with the tensor passed on, so retaining costs
/// no copy: the output is positive (and below 6) exactly where the input is.
final class ActivationModule: Module {
    let kind: Activation
    private var retainedOutput: Tensor?

    init(path: String, kind: Activation, isNamed: Bool = true) {
        self.kind = kind
        super.init(path: path, isNamed: isNamed)
    }

    override func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        run(input, retain: context.retain)
    }

    /// Keeps `output` (computed elsewhere, e.g. fused into a convolution) for backward.
    func keep(_ output: Tensor) {
        retainedOutput = output
    }

    /// The activation of `input`, kept for backward when `retain` is set.
    func run(_ input: Tensor, retain: Bool) -> Tensor {
        let output = apply(input)
        if retain { retainedOutput = output }
        return output
    }

    /// The activation of `a + b` in one pass over memory (a residual block's output), kept for
    /// backward when `retain` is set.
    func addThenApply(_ a: Tensor, _ b: Tensor, retain: Bool) -> Tensor {
        precondition(a.shape == b.shape, "residual add of unequal shapes \(a.shape) and \(b.shape)")
        let kind = self.kind
        let output = Tensor(shape: a.shape) { r in
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
        if retain { retainedOutput = output }
        return output
    }

    /// The activation of `input`.
    func apply(_ input: Tensor) -> Tensor {
        var output = input
        let kind = self.kind
        output.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            kind.apply(base, count: buffer.count)
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ context: BackwardContext) -> Tensor? {
        backward(gradient, mode: context.reluMode)
    }

    /// Whether the retained forward lets the gradient through at flat `index` (its input was
    /// above 0 and, for ReLU6, below 6); `nil` without a retained forward or past its end.
    func retainedGate(at index: Int) -> Bool? {
        guard let output = retainedOutput, output.storage.indices.contains(index) else { return nil }
        let value = output.storage[index]
        return value > 0 && value < (kind == .relu6 ? 6 : .infinity)
    }

    /// Opens or closes the retained forward's gate at flat `index` for the backwards that follow.
    ///
    /// Only for comparing with a reference: an input within float32 rounding of a kink falls on
    /// either side depending on the summation order, and a parity test gives such an element the
    /// reference's side (and counts how often it had to). The retained output is copied first, so
    /// the tensor that was passed on is unchanged.
    func setRetainedGate(at index: Int, open: Bool) {
        guard var output = retainedOutput, output.storage.indices.contains(index) else { return }
        output.storage[index] = open ? 3 : 0
        retainedOutput = output
    }

    /// The gradient at the input for the gradient at the output of the last retained forward.
    func backward(_ gradient: Tensor, mode: ReLUBackwardMode) -> Tensor {
        guard let output = retainedOutput, output.shape == gradient.shape else {
            preconditionFailure("\(path): backward without a matching retained forward")
        }
        let upper: Float = kind == .relu6 ? 6 : .infinity
        let guided = mode == .guided
        let count = gradient.count
        let result = Tensor(shape: gradient.shape) { out in
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
        return result
    }
}

/// Dropout in evaluation mode: the identity (`nn.Dropout`).
final class Dropout: Module {}

/// Flattens [N, ...] to [N, rest] (`torch.flatten(x, 1)`).
final class Flatten: Module {
    private var retainedShape: [Int]?

    override func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        guard input.rank >= 1 else { throw RuntimeError("\(path): expected a batch, found a scalar") }
        if context.retain { retainedShape = input.shape }
        return input.reshaped([input.shape[0], input.count / Swift.max(input.shape[0], 1)])
    }

    override func backward(_ gradient: Tensor, _ context: BackwardContext) -> Tensor? {
        guard let shape = retainedShape else { preconditionFailure("\(path): backward without retained forward") }
        return gradient.reshaped(shape)
    }
}
