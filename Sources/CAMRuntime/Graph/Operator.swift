import Foundation

/// What a node keeps from a forward pass for its backward (only in passes that retain).
///
/// One value type for every operator, so that the executor's tape is a plain array: a ReLU
/// keeps its output, a convolution its input shape, a max pool its input shape and argmax.
struct Saved {
    var tensors: [Tensor] = []
    var shape: [Int] = []
    var indices: [Int32] = []
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

/// Flattens [N, ...] to [N, rest] (`torch.flatten(x, 1)`).
final class Flatten: Operator {
    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let input = inputs[0]
        guard input.rank >= 1 else { throw RuntimeError("expected a batch, found a scalar") }
        if step.retain { step.saved.shape = input.shape }
        return input.reshaped([input.shape[0], input.count / Swift.max(input.shape[0], 1)])
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        [gradient.reshaped(saved.shape)]
    }
}

/// The sum of two tensors of equal shape (a residual connection).
final class Add: Operator {
    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try Add.sum(inputs[0], inputs[1])
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        [gradient, gradient]
    }

    /// `a + b` for equal shapes.
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
