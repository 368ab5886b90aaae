import Foundation

/// What a node keeps from a forward pass for its backward (only in passes that retain).
///
/// One value type for every operator, so that the executor's tape is a plain array: a ReLU
/// keeps its output, a convolution its input shape, a max pool its input shape and argmax.
struct Saved {
    var tensors: [Tensor] = []
    var shape: [Int] = []
    var indices: [Int32] = []
    /// The inputs' shapes, for operators that broadcast (their gradients are summed back to them).
    var shapes: [[Int]] = []
}

/// The state of one node's forward: whether it retains, and the scratch memory it may use.
struct ForwardStep {
    /// Whether the node keeps in `saved` what its backward needs.
    let retain: Bool
    /// Scratch memory of the network.
    let workspace: Workspace
    /// Filled by the operator when `retain` is set.
    var saved = Saved()
}

/// The state of one node's backward.
struct BackwardStep {
    /// Which inputs need a gradient (the operator may return nil for the others).
    let needs: [Bool]
    /// The ReLU rule.
    let reluMode: ReLUBackwardMode
    /// Scratch memory of the network.
    let workspace: Workspace
}

/// How a tangent (a forward-mode derivative) passes through an operator, for ShapleyCAM's
/// Hessian-vector product: exactly for the operators that are affine or piecewise linear in the
/// inputs that carry one, where second derivatives vanish; not at all for the others.
enum TangentRule {
    /// Jointly affine in its inputs (Add, pooling, reshapes; convolutions, batch norms and linear
    /// layers, whose weights are parameters): the tangent is `f(t) − f(0)`.
    case affine
    /// Affine in each input while the others stay fixed (Mul, MatMul, Gemm with a weight input):
    /// as `affine` when only one input carries a tangent.
    case affineInEach
    /// Affine in its first input only (Div by a fixed divisor).
    case affineInFirst
    /// Element-wise and piecewise linear (ReLU, ReLU6): the tangent where the input lies in a
    /// linear piece of slope 1, zero elsewhere (PyTorch's backward masks).
    case piecewiseLinear
    /// Smooth and nonlinear (GELU, LayerNorm, Softmax, Sigmoid, …): second derivatives that a
    /// Hessian-vector product would need and the executor does not compute.
    case unsupported
}

/// One operation of a graph, with its forward and its backward side by side.
///
/// Operators hold their parameters (a convolution's weights, a batch norm's statistics) and
/// caches derived from them (folded weights, oneDNN primitives), but no state of a pass: what
/// a backward needs travels in `Saved`, kept by the executor per node. Errors are thrown
/// without a location; the executor adds the node's name.
class Operator {
    /// The operator's name in listings (PyTorch's layer name where there is one: "Conv2d").
    var kind: String { String(describing: type(of: self)) }

    /// The parameters and buffers by local name ("weight", "running_mean").
    var parameters: [String: Tensor] { [:] }

    /// The shapes of `parameters`, by local name (without materialising parameters that an
    /// operator keeps unallocated until they are set).
    var parameterShapes: [String: [Int]] { parameters.mapValues(\.shape) }

    /// Replaces a parameter; the shape was checked by the caller.
    func setParameter(_ name: String, _ value: Tensor) {}

    /// Whether a gradient flows through this operator. False for operators whose output does
    /// not depend smoothly on their inputs' values (Shape, comparisons, Cast to integers): a
    /// backward neither visits them nor retains for them.
    var isDifferentiable: Bool { true }

    /// How a tangent passes through (`TangentRule`); unsupported unless an operator says so.
    var tangentRule: TangentRule { .unsupported }

    /// The derivative of a piecewise-linear element-wise operator at `input`: 1 or 0 per
    /// element (`TangentRule.piecewiseLinear`).
    func slope(at input: Float) -> Float { 0 }

    /// Computes the output from the inputs; keeps what `backward` needs in `step.saved` when
    /// `step.retain` is set.
    func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        preconditionFailure("\(kind) has no forward")
    }

    /// Inference only: computes the output on oneDNN, or returns nil when this operator has no
    /// oneDNN path (the executor then runs `forward` on plain tensors).
    ///
    /// May overwrite oneDNN memory of inputs that the executor marks as consumable: none here.
    func forwardOneDNN(_ inputs: [PassValue], _ engine: OneDNNEngine) throws -> PassValue? {
        nil
    }

    /// The gradients with respect to the inputs, from the gradient at the output and what the
    /// retaining forward saved; nil for inputs that `step.needs` does not ask for.
    func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        throw RuntimeError("\(kind) has no backward")
    }
}

/// The identity: Dropout and Identity in evaluation mode.
final class Identity: Operator {
    /// The PyTorch layer this stands for ("Dropout").
    private let layer: String

    init(layer: String = "Identity") {
        self.layer = layer
    }

    override var kind: String { layer }

    override var tangentRule: TangentRule { .affine }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        inputs[0]
    }

    override func forwardOneDNN(_ inputs: [PassValue], _ engine: OneDNNEngine) throws -> PassValue? {
        inputs[0]
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        [gradient]
    }
}

/// Flattens to two dimensions at `axis`: [d0 × … × d(axis−1), the rest] (`torch.flatten(x, 1)`
/// with the default axis 1; ONNX Flatten with any axis in −rank...rank).
final class Flatten: Operator {
    let axis: Int

    init(axis: Int = 1) {
        self.axis = axis
    }

    override var tangentRule: TangentRule { .affine }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let input = inputs[0]
        guard input.rank >= 1 || axis != 1 else { throw RuntimeError("expected a batch, found a scalar") }
        guard axis >= -input.rank, axis <= input.rank else {
            throw RuntimeError("Flatten axis \(axis) is out of range for rank \(input.rank) "
                               + "(expected \(-input.rank)...\(input.rank))")
        }
        let split = axis < 0 ? axis + input.rank : axis
        if step.retain { step.saved.shape = input.shape }
        return input.reshaped([input.shape[..<split].reduce(1, *), input.shape[split...].reduce(1, *)])
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shape.reduce(1, *) == gradient.count else { throw unmatchedBackward }
        return [gradient.reshaped(saved.shape)]
    }
}

/// The sum of two tensors: a residual connection, or ONNX Add with numpy broadcasting.
///
/// The executor fuses an add into the convolution before it and the ReLU after it; equal
/// shapes take a plain loop and keep nothing for backward, broadcast ones keep the inputs'
/// shapes to sum the gradient back to them.
final class Add: Operator {
    override var tangentRule: TangentRule { .affine }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...2, "A, B")
        let (a, b) = (inputs[0], inputs[1])
        if a.shape == b.shape { return try Add.sum(a, b) }
        let result = try Broadcast.map(a, b) { $0 + $1 }
        if step.retain { step.saved.shapes = [a.shape, b.shape] }
        return result
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        // Nothing saved: the shapes were equal.
        guard saved.shapes.count == 2 else { return [gradient, gradient] }
        return try saved.shapes.enumerated().map { k, shape in
            step.needs[k] ? try Broadcast.reduce(gradient, to: shape) : nil
        }
    }

    /// `a + b` for equal shapes (also the executor's sum of gradients that meet at a value).
    static func sum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else {
            throw RuntimeError("cannot add shapes \(Network.describe(a.shape)) and \(Network.describe(b.shape))")
        }
        var result = a
        result.withUnsafeMutableBufferPointer { r in
            b.withUnsafeBufferPointer { s in
                for i in 0..<r.count { r[i] += s[i] }
            }
        }
        return result
    }
}
