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
        let output = apply(input)
        if context.retain { retainedOutput = output }
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

    /// The gradient at the input for the gradient at the output of the last retained forward.
    func backward(_ gradient: Tensor, mode: ReLUBackwardMode) -> Tensor {
        guard let output = retainedOutput, output.shape == gradient.shape else {
            preconditionFailure("\(path): backward without a matching retained forward")
        }
        var result = gradient
        let upper: Float = kind == .relu6 ? 6 : .infinity
        let guided = mode == .guided
        output.withUnsafeBufferPointer { y in
            result.withUnsafeMutableBufferPointer { g in
                for i in 0..<g.count {
                    let pass = y[i] > 0 && y[i] < upper && (!guided || g[i] > 0)
                    g[i] = pass ? g[i] : 0
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
